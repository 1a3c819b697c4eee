"""Pins the torchsde 0.2.6 internals that study.nde._torchsde relies on."""

import itertools

import pytest
import torch
import torchsde
from torchsde._core import methods

from study.nde import _torchsde
from study.nde.recorder import StepRecorder
from tests.nde.sdes import MLPSDE, brownian, times, y0

_bm = brownian


def test_pinned_version_and_plain_solvers_outside_a_recording():
    assert torchsde.__version__ == "0.2.6"
    assert methods.select is _torchsde._select
    from torchsde._core.base_sde import ForwardSDE

    def build():
        return methods.select(method="milstein", sde_type="ito")(
            sde=ForwardSDE(MLPSDE().double()), bm=_bm(), dt=0.1, adaptive=True, rtol=1e-3,
            atol=1e-3, dt_min=1e-5, options={})

    plain = build()
    assert "step" not in vars(plain) and "integrate" not in vars(plain)  # torchsde's own
    with _torchsde.recording(StepRecorder()) as watch:
        watched = build()
    assert watch.solver is watched and "step" in vars(watched)


def test_brownian_motion_has_the_levy_area_the_method_needs():
    assert _bm("srk").levy_area_approximation == "space-time"
    assert _bm("milstein").levy_area_approximation == "none"
    first, again = _bm(entropy=3), _bm(entropy=3)
    assert torch.equal(first(0.1, 0.4), again(0.1, 0.4))


@pytest.mark.parametrize("method", ["milstein", "srk"])
def test_every_attempt_is_reported_in_order_with_its_acceptance(method, estimates):
    sde = MLPSDE().double()
    recorder = StepRecorder(keep_steps=True)
    with _torchsde.recording(recorder) as watch:
        ys = torchsde.sdeint(sde, y0(), times(), bm=_bm(method), method=method, dt=0.05,
                             adaptive=True, rtol=1e-3, atol=1e-3)
    assert recorder.attempts == len(estimates) and recorder.rejected > 0
    assert recorder.rejected == sum(e > 1 for e in estimates)
    accepted = recorder.kept
    for step, estimate in zip(accepted, [e for e in estimates if e <= 1]):
        assert _torchsde.solver_error_ratio(step.y_full, step.y_half, 1e-3, 1e-3) == estimate
        # the differentiable ratio is the solver's, to round-off
        ratio = _torchsde.error_ratio(step.y_full, step.y_half, 1e-3, 1e-3)
        assert float(ratio.detach()) == pytest.approx(estimate, rel=1e-12)
    assert [float(s.t0) for s in accepted] == recorder.step_starts
    assert all(float(a.t1) == float(b.t0) for a, b in itertools.pairwise(accepted))
    assert float(accepted[-1].t1) == 1.0 and torch.equal(accepted[-1].y_half, ys[-1])
    assert recorder.first_step == pytest.approx(0.05)

    # Re-taking an attempt after the solve reproduces it bitwise (same step, same increments).
    for step in accepted[::3]:
        y_full, y_half = watch.doubling(step.t0, step.t1, step.y0)
        assert torch.equal(y_full, step.y_full) and torch.equal(y_half, step.y_half)


def test_strong_orders_are_the_solvers_own():
    from torchsde._core.base_sde import ForwardSDE

    for method, sde_types in _torchsde.METHOD_SDE_TYPES.items():
        for sde_type in sde_types:
            for noise in _torchsde.noise_types(method, sde_type):
                sde = MLPSDE(sde_type).double()
                sde.noise_type = noise
                size = (8, 1 if noise == "scalar" else 2)
                bm = _torchsde.brownian(method, sde_type, 0.0, 1.0, size, torch.float64,
                                        torch.device("cpu"), 0)
                solver = methods.select(method=method, sde_type=sde_type)(
                    sde=ForwardSDE(sde), bm=bm, dt=0.1, adaptive=True, rtol=1e-3, atol=1e-3,
                    dt_min=1e-5, options={})
                assert _torchsde.strong_order(method, noise) == solver.strong_order


def test_the_context_drift_is_the_sdes_own_and_counted_as_a_regularizer_call():
    from study.nde import solve_sde
    from study.nde.hooks import Penalty, SolveHooks

    sde, seen = MLPSDE().double(), {}

    class DriftAtTheEnd(SolveHooks):
        def penalty(self, ctx):
            seen["drift"] = ctx.drift(ctx.t[-1], ctx.ys[-1])
            return Penalty(seen["drift"].pow(2).mean())

    ys, info = solve_sde(sde, y0(), times(), method="milstein", rtol=1e-3, atol=1e-3,
                         regularizer=DriftAtTheEnd(), bm=_bm())
    assert torch.equal(seen["drift"], sde.f(times()[-1], ys[-1]))
    assert info.reg_nfe == 1  # one drift call, no diffusion
    info.reg.backward()  # differentiable in the drift's parameters
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0)
               for p in sde.drift.parameters())
