"""The local regularizer's variants (``samples``, ``norm``): the defaults are the published method
(the recorded values to 1e-8, explicit default options bit for bit), K samples penalise K
re-taken steps, the per-sample norm has the value it says."""

import itertools

import numpy as np
import pytest
import torch
import torchdiffeq

from study import regularizers
from study.nde import solve_ode, solve_sde
from study.nde._torchdiffeq import tableau
from tests.nde.fields import LinearField, MLPField
from tests.nde.sdes import MLPSDE, brownian, times, y0
from tests.regularizers.test_local import _DP_A, _DP_B, _DP_B_EMBEDDED

T = torch.tensor([0.0, 1.0], dtype=torch.float64)

# Penalty, sum and sum of |.| of the gradient of ``|y(1)|^2 + penalty`` w.r.t. the field's
# parameters, recorded with the local regularizer as it was before ``samples`` and ``norm``
# existed (commit 049cc94), for the setups of ``_ode_run`` and ``_sde_run``. Another CPU's
# kernels sum in another order: the last bits differ between machines (measured: up to 2e-10
# relative, through the adaptive steps), so recorded values are compared to 1e-8 (any change of
# the method moves them by far more); the same machine's runs are compared bit for bit.
BEFORE_ODE = {
    ("unbiased", False): ("0x1.2f43eb07c7f49p-6", "-0x1.f03a349f1cb92p+2", "0x1.da8ed727cc247p+4"),
    ("unbiased", True): ("0x1.2f43eb07c7f49p-6", "-0x1.f061e416245e6p+2", "0x1.da98b44dda306p+4"),
    ("biased", False): ("0x1.c4ca4580c71fdp-4", "-0x1.05a5dfa3f4d7fp+3", "0x1.e1eb211a0fae2p+4"),
    ("biased", True): ("0x1.c4ca4580c71fdp-4", "-0x1.05b9b75f78aa8p+3", "0x1.e202bc11b5b80p+4"),
}
BEFORE_SDE = {
    "unbiased": ("0x1.f8a9759acefb3p-5", "-0x1.035dfa50ce483p+2", "0x1.6b27984d71028p+4"),
    "biased": ("0x1.61c9f89faa566p-5", "-0x1.078d950a818cfp+2", "0x1.6c7d788970766p+4"),
}


def _hex(values):
    return tuple(float(v).hex() for v in values)


def _close(run, recorded):
    return [float.fromhex(v) for v in run] == pytest.approx(
        [float.fromhex(v) for v in recorded], rel=1e-8, abs=0)


def _ode_run(reg, adjoint):
    torch.manual_seed(5)
    field = MLPField(scale=3.0).double()
    start = torch.randn(6, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ys, info = solve_ode(field, start, T, rtol=1e-5, atol=1e-5, adjoint=adjoint, regularizer=reg)
    (ys[-1].pow(2).mean() + info.reg).backward()
    grad = torch.cat([p.grad.reshape(-1) for p in field.parameters()])
    return _hex([info.reg.detach(), grad.sum(), grad.abs().sum()])


def _sde_run(reg):
    torch.manual_seed(2)
    sde = MLPSDE().double()
    ys, info = solve_sde(sde, y0(), times(), method="milstein", bm=brownian("milstein"),
                         first_step=0.05, rtol=1e-3, atol=1e-3, regularizer=reg)
    (ys[-1].pow(2).mean() + info.reg).backward()
    grad = torch.cat([p.grad.reshape(-1) for p in sde.parameters()])
    return _hex([info.reg.detach(), grad.sum(), grad.abs().sum()])


@pytest.mark.parametrize(("sampling", "adjoint"), list(BEFORE_ODE))
def test_defaults_reproduce_the_method_before_the_options_bit_for_bit(sampling, adjoint):
    default = _ode_run(regularizers.make("local", sampling=sampling), adjoint)
    assert _close(default, BEFORE_ODE[sampling, adjoint])
    explicit = regularizers.make("local", sampling=sampling, samples=1, norm="batch",
                                 objective="error")
    assert _ode_run(explicit, adjoint) == default


@pytest.mark.filterwarnings("ignore:Numerical solution is not guaranteed")
@pytest.mark.parametrize("sampling", list(BEFORE_SDE))
def test_sde_defaults_reproduce_the_method_before_the_options_bit_for_bit(sampling):
    assert _close(_sde_run(regularizers.make("local", sampling=sampling)), BEFORE_SDE[sampling])


def _linear_penalty(a, y_s, h, rtol, atol, per_sample=False):
    """The one-step penalty of ``f(y) = a y`` from the published Dormand-Prince coefficients."""
    ks = []
    for row in _DP_A:
        y_i = y_s + h * sum((float(c) * k for c, k in zip(row, ks)), np.zeros_like(y_s))
        ks.append(a * y_i)
    y1 = y_s + h * sum(float(b) * k for b, k in zip(_DP_B, ks))
    err = h * sum(float(b - bb) * k for b, bb, k in zip(_DP_B, _DP_B_EMBEDDED, ks))
    scaled = err / (atol + rtol * np.maximum(np.abs(y_s), np.abs(y1)))
    if per_sample:
        return float(np.mean(np.sqrt(np.mean(scaled ** 2, axis=1)))) * h
    return float(np.sqrt(np.mean(scaled ** 2))) * h


def _y0(n=6, dim=2, seed=3):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_unbiased_samples_penalise_the_mean_over_k_independent_times():
    a, k, start = -2.3, 4, _y0()
    torch.manual_seed(11)
    drawn = [float(torch.rand(())) for _ in range(k)]  # what the regularizer draws first
    torch.manual_seed(11)
    _, info = solve_ode(LinearField(a), start, T, rtol=1e-5, atol=1e-7,
                        regularizer=regularizers.make("local", samples=k))
    assert info.reg_nfe == k * tableau("dopri5").evaluations
    assert info.reg_time == drawn[0]
    dense = torchdiffeq.odeint(LinearField(a), start,
                               torch.tensor([0.0, *sorted(drawn), 1.0], dtype=torch.float64),
                               rtol=1e-5, atol=1e-7)
    expected = []
    for t_s in drawn:
        state = dense[1 + sorted(drawn).index(t_s)].detach().numpy()
        step = max(i for i, s in enumerate(info.step_starts) if s <= t_s)
        expected.append(_linear_penalty(a, state, info.step_sizes[step], 1e-5, 1e-7))
    assert len({round(e, 12) for e in expected}) == k  # four different points
    assert float(info.reg.detach()) == pytest.approx(np.mean(expected), rel=1e-9)


def test_biased_samples_penalise_the_mean_over_k_accepted_steps():
    a, k, start = -2.3, 3, _y0()
    for seed in range(3):
        torch.manual_seed(seed)
        _, info = solve_ode(LinearField(a), start, T, rtol=1e-5, atol=1e-7,
                            regularizer=regularizers.make("local", sampling="biased", samples=k))
        assert info.reg_nfe == k * tableau("dopri5").evaluations
        states = torchdiffeq.odeint(LinearField(a), start,
                                    torch.tensor([*info.step_starts, 1.0], dtype=torch.float64),
                                    rtol=1e-5, atol=1e-7).detach().numpy()
        own = [_linear_penalty(a, states[i], h, 1e-5, 1e-7)
               for i, h in enumerate(info.step_sizes)]
        means = {combo: np.mean([own[i] for i in combo])
                 for combo in itertools.combinations_with_replacement(range(len(own)), k)}
        matches = [c for c, m in means.items() if m == pytest.approx(float(info.reg), rel=1e-9)]
        assert matches, "the penalty is not the mean of any k accepted steps' own penalties"
        assert info.reg_time in info.step_starts


def test_per_sample_norm_is_the_mean_of_each_samples_rms():
    a = -2.3
    # Batch elements of very different sizes: the batch RMS and the mean of per-sample RMS differ.
    start = _y0() * torch.tensor([[1e-3], [1e-2], [1.0], [10.0], [3.0], [0.1]],
                                 dtype=torch.float64)
    values = {}
    for norm in ("batch", "per-sample"):
        torch.manual_seed(4)
        _, info = solve_ode(LinearField(a), start, T, rtol=1e-5, atol=1e-7,
                            regularizer=regularizers.make("local", norm=norm))
        state = info.reg_state.numpy()
        expected = _linear_penalty(a, state, info.reg_step, 1e-5, 1e-7,
                                   per_sample=norm == "per-sample")
        assert float(info.reg) == pytest.approx(expected, rel=1e-10)
        values[norm] = float(info.reg)
    assert values["per-sample"] != pytest.approx(values["batch"], rel=1e-3)


def test_per_sample_norm_equals_the_batch_norm_on_identical_samples():
    row = _y0(n=1)
    start = row.repeat(5, 1)
    values = {}
    for norm in ("batch", "per-sample"):
        torch.manual_seed(2)
        _, info = solve_ode(MLPField(scale=2.0).double(), start, T, rtol=1e-4, atol=1e-4,
                            regularizer=regularizers.make("local", norm=norm))
        values[norm] = float(info.reg)
    assert values["per-sample"] == pytest.approx(values["batch"], rel=1e-12)


def test_per_sample_norm_needs_a_batch_dimension_and_the_error_estimate():
    with pytest.raises(ValueError, match="needs a batch dimension"):
        solve_ode(LinearField(-1.0), torch.ones(3, dtype=torch.float64), T,
                  regularizer=regularizers.make("local", norm="per-sample"))
    with pytest.raises(ValueError, match="norm='per-sample' applies to the error estimate"):
        solve_ode(LinearField(-1.0), _y0(), T,
                  regularizer=regularizers.make("local", norm="per-sample", estimate="stiffness"))


@pytest.mark.parametrize("options", [{"samples": 0}, {"samples": 1.5}, {"norm": "sample"}])
def test_bad_variant_options_are_refused(options):
    with pytest.raises(ValueError, match=r"samples|norm"):
        regularizers.make("local", **options)


@pytest.mark.filterwarnings("ignore:Numerical solution is not guaranteed")
def test_sde_samples_and_per_sample_norm():
    torch.manual_seed(0)
    _, one = solve_sde(MLPSDE().double(), y0(), times(), method="milstein",
                       bm=brownian("milstein"), first_step=0.05, rtol=1e-3, atol=1e-3,
                       regularizer=regularizers.make("local"))
    torch.manual_seed(0)
    _, four = solve_sde(MLPSDE().double(), y0(), times(), method="milstein",
                        bm=brownian("milstein"), first_step=0.05, rtol=1e-3, atol=1e-3,
                        regularizer=regularizers.make("local", samples=4, norm="per-sample"))
    assert four.reg_nfe == 4 * one.reg_nfe
    assert float(four.reg) > 0


def test_k_sample_penalty_is_differentiable_after_a_solve_without_a_graph():
    field = MLPField(scale=2.0).double()
    with torch.no_grad():  # the past is detached anyway: the forward solve needs no graph
        _, info = solve_ode(field, _y0(), T, rtol=1e-4, atol=1e-4,
                            regularizer=regularizers.make("local", samples=3))
    grads = torch.autograd.grad(info.reg, list(field.parameters()))
    assert any(torch.count_nonzero(g) for g in grads)


def test_steps_objective_is_the_controllers_step_count_from_the_same_sampled_step():
    """``objective="steps"`` at the same sampled time and step: ``S = span * r ** (1/q) / h``
    (unbiased) and ``N * r ** (1/q)`` (biased, N accepted steps), ``r = R / h`` the published
    penalty's ratio, ``q = 5`` for dopri5 (torchdiffeq's controller exponent)."""
    a, start = -2.3, _y0()
    for sampling in ("unbiased", "biased"):
        infos = {}
        for objective in ("error", "steps"):
            torch.manual_seed(7)
            _, infos[objective] = solve_ode(
                LinearField(a), start, T, rtol=1e-5, atol=1e-7,
                regularizer=regularizers.make("local", sampling=sampling, objective=objective))
        error, steps = infos["error"], infos["steps"]
        assert (steps.reg_time, steps.reg_step) == (error.reg_time, error.reg_step)
        ratio = float(error.reg) / error.reg_step
        count = 1.0 / error.reg_step if sampling == "unbiased" else len(error.step_starts)
        assert float(steps.reg) == pytest.approx(count * ratio ** (1 / 5), rel=1e-10)
        # The estimate is of the solve's own step count: same order of magnitude.
        assert 0.2 * len(error.step_starts) < float(steps.reg) < 5 * len(error.step_starts)


def test_steps_objective_weighs_short_steps_more_than_the_published_penalty():
    """The gradient of S is S / (q r) times that of r, R's is h times it: at the same sampled
    step the two gradients are parallel with the ratio S / (q r h)."""
    torch.manual_seed(1)
    field = MLPField(scale=2.0).double()
    grads, infos = {}, {}
    for objective in ("error", "steps"):
        torch.manual_seed(3)
        _, infos[objective] = solve_ode(field, _y0(), T, rtol=1e-4, atol=1e-4,
                                        regularizer=regularizers.make("local",
                                                                      objective=objective))
        grads[objective] = torch.cat([g.reshape(-1) for g in torch.autograd.grad(
            infos[objective].reg, list(field.parameters()))])
    h = infos["error"].reg_step
    ratio = float(infos["error"].reg) / h
    scale = float(infos["steps"].reg) / (5 * ratio * h)
    assert torch.allclose(grads["steps"], scale * grads["error"], rtol=1e-8, atol=1e-14)


@pytest.mark.filterwarnings("ignore:Numerical solution is not guaranteed")
def test_sde_steps_objective_uses_the_strong_order_plus_a_half():
    infos = {}
    for objective in ("error", "steps"):
        torch.manual_seed(0)
        _, infos[objective] = solve_sde(
            MLPSDE().double(), y0(), times(), method="milstein", bm=brownian("milstein"),
            first_step=0.05, rtol=1e-3, atol=1e-3,
            regularizer=regularizers.make("local", objective=objective))
    error, steps = infos["error"], infos["steps"]
    span = float(times()[-1] - times()[0])
    ratio = float(error.reg) / error.reg_step
    assert steps.reg_nfe == error.reg_nfe
    assert float(steps.reg) == pytest.approx(span / error.reg_step * ratio ** (1 / 1.5),
                                             rel=1e-10)


def test_steps_objective_needs_the_error_estimate():
    with pytest.raises(ValueError, match="objective='steps' predicts steps from the error"):
        solve_ode(LinearField(-1.0), _y0(), T,
                  regularizer=regularizers.make("local", objective="steps",
                                                estimate="stiffness"))
    with pytest.raises(ValueError, match="objective"):
        regularizers.make("local", objective="nfe")
