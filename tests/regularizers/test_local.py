"""The local regularizer: closed box, exact value, sampling, and any gradient method."""

from fractions import Fraction as F

import numpy as np
import pytest
import torch
import torchdiffeq

from study import regularizers
from study.nde import METHODS, NeuralODE, error_ratio, rk_step, solve_ode
from study.nde._torchdiffeq import tableau
from tests.nde.fields import LinearField, MLPField

T = torch.tensor([0.0, 1.0], dtype=torch.float64)


def _y0(n=6, dim=2, seed=3, requires_grad=False):
    y0 = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return y0.requires_grad_(requires_grad)


@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_closed_box_gradient_matches_finite_differences_of_the_one_step_error(sampling):
    torch.manual_seed(0)
    field = MLPField(scale=2.0).double()
    y0 = _y0(requires_grad=True)
    reg = regularizers.make("local", sampling=sampling)
    # A loose tolerance makes the sampled step large, so the error estimate stands well above
    # round-off and finite differences resolve it.
    _, info = solve_ode(field, y0, T, rtol=1e-3, atol=1e-3, regularizer=reg)

    # No gradient reaches y0 (nor anything before t_s).
    grad_y0 = torch.autograd.grad(info.reg, y0, retain_graph=True, allow_unused=True)[0]
    assert grad_y0 is None or torch.count_nonzero(grad_y0) == 0

    params = list(field.parameters())
    grads = torch.autograd.grad(info.reg, params)
    t_s = torch.tensor(info.reg_time, dtype=torch.float64)
    h = torch.tensor(info.reg_step, dtype=torch.float64)
    y_s = info.reg_state
    tab = tableau("dopri5")

    def one_step_error():
        step = rk_step(field, t_s, y_s, h, tab)
        return float(error_ratio(step.error, y_s, step.y1, 1e-3, 1e-3) * h)

    with torch.no_grad():
        assert one_step_error() == pytest.approx(float(info.reg), rel=1e-12)
        eps = 1e-5
        for p, g in zip(params, grads):
            flat, fd = p.view(-1), torch.empty(p.numel(), dtype=torch.float64)
            for i in range(p.numel()):
                old = float(flat[i])
                flat[i] = old + eps
                up = one_step_error()
                flat[i] = old - eps
                down = one_step_error()
                flat[i] = old
                fd[i] = (up - down) / (2 * eps)
            # Relative to the gradient's size: the error estimate is a small difference of stages.
            assert float((g.reshape(-1) - fd).norm()) <= 1e-5 * float(fd.norm())
    assert any(torch.count_nonzero(g) for g in grads)


# Dormand-Prince 5(4) as torchdiffeq 0.2.5 pairs it (Shampine's embedded solution), written out
# independently of the library from the published coefficients.
_DP_A = [
    [],
    [F(1, 5)],
    [F(3, 40), F(9, 40)],
    [F(44, 45), F(-56, 15), F(32, 9)],
    [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)],
    [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)],
    [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84)],
]
_DP_B = [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0]
_DP_B_EMBEDDED = [
    F(1951, 21600), 0, F(22642, 50085), F(451, 720), F(-12231, 42400), F(649, 6300), F(1, 60)
]


def _linear_one_step_penalty(a, y_s, h, rtol, atol):
    ks = []
    for row in _DP_A:
        y_i = y_s + h * sum((float(c) * k for c, k in zip(row, ks)), np.zeros_like(y_s))
        ks.append(a * y_i)
    y1 = y_s + h * sum(float(b) * k for b, k in zip(_DP_B, ks))
    err = h * sum(float(b - bb) * k for b, bb, k in zip(_DP_B, _DP_B_EMBEDDED, ks))
    scale = atol + rtol * np.maximum(np.abs(y_s), np.abs(y1))
    return np.sqrt(np.mean((err / scale) ** 2)) * h


@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_linear_field_penalty_equals_an_independent_embedded_pair_computation(sampling):
    torch.manual_seed(1)
    a = -2.3
    _, info = solve_ode(
        LinearField(a), _y0(), T, rtol=1e-5, atol=1e-7,
        regularizer=regularizers.make("local", sampling=sampling),
    )
    expected = _linear_one_step_penalty(
        a, info.reg_state.numpy(), info.reg_step, rtol=1e-5, atol=1e-7
    )
    assert float(info.reg) == pytest.approx(expected, rel=1e-10)


def test_biased_sampling_picks_only_accepted_step_starts_never_the_end():
    field = MLPField(scale=3.0).double()
    picked = set()
    for seed in range(60):
        torch.manual_seed(seed)
        _, info = solve_ode(field, _y0(), T, rtol=1e-6, atol=1e-6,
                            regularizer=regularizers.make("local", sampling="biased"))
        assert info.reg_time in info.step_starts
        assert info.reg_time < 1.0
        index = info.step_starts.index(info.reg_time)
        assert info.reg_step == pytest.approx(info.step_sizes[index])
        # The re-taken step is the accepted one: its error ratio is within tolerance.
        assert float(info.reg) / info.reg_step <= 1.0 + 1e-9
        picked.add(index)
    assert len(picked) == info.steps  # every accepted step gets sampled


def test_unbiased_sampling_uses_the_dense_output_and_the_step_in_force():
    field = MLPField(scale=3.0).double()
    y0 = _y0()
    times = []
    for seed in range(20):
        torch.manual_seed(seed)
        _, info = solve_ode(field, y0, T, rtol=1e-6, atol=1e-6,
                            regularizer=regularizers.make("local"))
        starts, sizes = info.step_starts, info.step_sizes
        k = max(i for i, s in enumerate(starts) if s <= info.reg_time)
        assert starts[k] <= info.reg_time <= starts[k] + sizes[k]
        assert info.reg_step == pytest.approx(sizes[k])
        # The state at t_s is the solve's own dense output (extra output times don't move steps).
        t3 = torch.tensor([0.0, info.reg_time, 1.0], dtype=torch.float64)
        dense = torchdiffeq.odeint(field, y0, t3, rtol=1e-6, atol=1e-6)[1]
        assert torch.allclose(info.reg_state, dense, rtol=1e-12, atol=1e-12)
        times.append(info.reg_time)
    assert min(times) >= 0.0 and max(times) <= 1.0 and max(times) - min(times) > 0.5


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("adjoint", [False, True, "seminorm"])
def test_local_works_with_every_adaptive_method_and_gradient_method(method, adjoint):
    torch.manual_seed(0)
    field = MLPField(scale=2.0).double()
    reg = regularizers.make("local")
    ys, info = solve_ode(field, _y0(), T, method=method, rtol=1e-4, atol=1e-4,
                         adjoint=adjoint, regularizer=reg)
    assert info.reg_nfe == tableau(method).evaluations
    (ys[-1].pow(2).mean() + info.reg).backward()
    grads = [p.grad for p in field.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert float(info.reg) > 0


@pytest.mark.parametrize("regularizer", [None, "local"])
def test_adjoint_task_gradient_matches_backprop(regularizer):
    field = MLPField(scale=1.5).double()
    y0 = _y0()
    grads = {}
    for adjoint in (False, True, "seminorm"):
        torch.manual_seed(7)
        field.zero_grad()
        reg = regularizers.make(regularizer) if regularizer else None
        ys, info = solve_ode(field, y0, T, rtol=1e-9, atol=1e-9, adjoint=adjoint, regularizer=reg)
        (ys[-1].pow(2).mean() + info.reg).backward()
        grads[adjoint] = torch.cat([p.grad.reshape(-1) for p in field.parameters()])
    assert torch.allclose(grads[True], grads[False], rtol=1e-5, atol=1e-7)
    assert torch.allclose(grads["seminorm"], grads[False], rtol=1e-5, atol=1e-7)


def test_stiffness_estimate_variant_penalises_the_eigenvalue_times_h():
    torch.manual_seed(0)
    a = -4.0
    _, info = solve_ode(LinearField(a), _y0(), T,
                        regularizer=regularizers.make("local", estimate="stiffness"))
    # For f(y) = a*y the stage-difference quotient is exactly |a|.
    assert float(info.reg) == pytest.approx(abs(a) * info.reg_step, rel=1e-9)


def test_no_regularization_cost_in_eval_mode():
    module = NeuralODE(MLPField().double(), regularizer=regularizers.make("local"))
    module.train()
    module(_y0())
    assert module.info.reg_nfe == 7 and float(module.info.reg) > 0
    module.eval()
    module(_y0())
    assert module.info.reg_nfe == 0 and float(module.info.reg) == 0.0
