"""A re-taken step whose error is exactly 0 gives the local penalty a zero gradient, not NaN.

Found on spiral-sde (local 1.6, unbiased, 2 samples, ``norm="per-sample"``, seed 0): a time
sampled at 0.99915 shortened the re-taken step to the end of the span, one of the 256 paths' full
and half steps came out equal in float32, and ``sqrt``'s backward at 0 (``0 * inf``) made every
parameter NaN. The next solve's first step was then NaN, and torchsde's Brownian tree split NaN
times until the machine ran out of memory. These tests hold each link of that chain.
"""

import signal

import pytest
import torch
from torch import nn

from study import regularizers
from study.nde import solve_ode, solve_sde
from study.nde._torchsde import error_ratio as sde_error_ratio
from study.nde.errors import NonFiniteState
from study.nde.runge_kutta import error_ratio as ode_error_ratio
from study.nde.runge_kutta import safe_sqrt
from study.regularizers.local import per_sample_rms
from study.train import TrainingDiverged, train
from tests.nde.fields import LinearField
from tests.nde.sdes import brownian, times, y0

T = torch.tensor([0.0, 1.0], dtype=torch.float64)


class LinearSDE(nn.Module):
    """Drift ``a y``, diagonal diffusion ``b y``: with ``a = b = 0`` every step is exact."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, a: float, b: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def f(self, t, y):
        return self.a * y

    def g(self, t, y):
        return self.b * y


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_safe_sqrt_is_sqrt_bit_for_bit_and_has_a_zero_gradient_at_zero(dtype):
    x = torch.tensor([0.0, 1e-30, 1e-14, 0.3, 2.0, 7e5], dtype=dtype, requires_grad=True)
    root = safe_sqrt(x)
    assert torch.equal(root[1:], x[1:].detach().sqrt())
    assert torch.equal(root[0].detach(), torch.tensor(torch.finfo(dtype).tiny, dtype=dtype).sqrt())
    root.sum().backward()
    assert x.grad[0] == 0 and bool(torch.isfinite(x.grad).all())
    assert torch.equal(x.grad[1:], 0.5 / x[1:].detach().sqrt())


def test_every_error_norm_of_an_exact_step_backpropagates_zero():
    """The solvers' batch RMS (ODE and SDE) and the per-sample RMS at an error of exactly 0."""
    y = torch.ones(4, 2, dtype=torch.float64)
    for ratio in (lambda e: ode_error_ratio(e, y, y, 1e-3, 1e-3),
                  lambda e: ode_error_ratio(e, y, y, 1e-3, 1e-3, per_sample_rms),
                  lambda e: sde_error_ratio(y + e, y, 1e-3, 1e-3),
                  lambda e: sde_error_ratio(y + e, y, 1e-3, 1e-3, per_sample_rms)):
        error = torch.zeros(4, 2, dtype=torch.float64, requires_grad=True)
        ratio(error).backward()
        assert torch.equal(error.grad, torch.zeros_like(error))


@pytest.mark.parametrize("norm", ["batch", "per-sample"])
@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_ode_penalty_of_dynamics_every_step_integrates_exactly_has_a_zero_gradient(norm, sampling):
    field = LinearField(0.0)
    start = torch.randn(6, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    _, info = solve_ode(field, start, T, rtol=1e-5, atol=1e-5,
                        regularizer=regularizers.make("local", sampling=sampling, norm=norm))
    assert float(info.reg) < 1e-150  # the error is 0: the penalty is sqrt(tiny) * h at most
    info.reg.backward()
    assert float(field.a.grad) == 0.0  # NaN before safe_sqrt


@pytest.mark.parametrize("norm", ["batch", "per-sample"])
@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_sde_penalty_of_dynamics_every_step_integrates_exactly_has_a_zero_gradient(norm, sampling):
    sde = LinearSDE(0.0, 0.0)
    _, info = solve_sde(sde, y0(), times(), method="milstein", bm=brownian(), first_step=0.1,
                        rtol=1e-3, atol=1e-3,
                        regularizer=regularizers.make("local", sampling=sampling, norm=norm))
    info.reg.backward()
    assert float(sde.a.grad) == 0.0 and float(sde.b.grad) == 0.0  # NaN before safe_sqrt


def test_per_sample_penalty_with_one_path_at_rest_keeps_the_others_gradient():
    """One batch element at 0 has an exactly zero error under ``a y``; the others do not."""
    start = torch.randn(6, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    start[0] = 0.0
    field = LinearField(-2.3)
    _, info = solve_ode(field, start, T, rtol=1e-5, atol=1e-7,
                        regularizer=regularizers.make("local", norm="per-sample"))
    info.reg.backward()
    assert torch.isfinite(field.a.grad) and float(field.a.grad) != 0.0


class _NaNDrift(LinearSDE):
    def f(self, t, y):
        return self.a * y * float("nan")


def test_sde_with_a_nan_drift_at_the_start_fails_at_once_instead_of_never_ending():
    def hung(*_):
        raise TimeoutError("solve_sde did not return within 30 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)  # the NaN first step looped forever in torchsde's Brownian tree
    try:
        with pytest.raises(NonFiniteState, match=r"non-finite state, drift or diffusion .* t=0"):
            solve_sde(_NaNDrift(-1.0, 0.1), y0(), times(), method="milstein", rtol=1e-3,
                      atol=1e-3)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_nan_gradient_at_a_finite_loss_stops_training_before_the_update():
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 0: a gradient is NaN/inf at a "
                                               r"finite loss .*not updated") as info:
        train({"task": "tests.train.tiny_tasks:nan_gradient", "device": "cpu", "epochs": 1})
    assert info.value.kind == "non-finite-gradient"
