"""solve_sde/NeuralSDE: agreement with torchsde, NFE accounting, adjoint, warm steps, errors."""

import pytest
import torch
import torchsde

from study import regularizers
from study.nde import (
    SDE_METHODS,
    NeuralSDE,
    NonFiniteState,
    StepBudgetExceeded,
    _torchsde,
    solve_sde,
)
from tests.nde.sdes import MLPSDE, times, y0

# torchsde warns that adaptive Euler-Maruyama need not converge for multiplicative noise; the
# tests use it as the simplest scheme, not for accuracy.
pytestmark = pytest.mark.filterwarnings("ignore:Numerical solution is not guaranteed")

TOL = {"rtol": 1e-3, "atol": 1e-3}
# Drift and diffusion calls of one solver step, for diagonal noise (SRK: Rößler's SRID2, four
# stages with the stage values re-evaluated inside the stage loop).
CALLS_PER_STEP = {
    "euler": (1, 1), "milstein": (1, 1), "srk": (10, 10),
    "midpoint": (2, 2), "heun": (2, 2), "euler_heun": (1, 2),
}


def _sde_type(method):
    return _torchsde.METHOD_SDE_TYPES[method][0]


def _bm(method, entropy=0, n=8):
    return _torchsde.brownian(method, _sde_type(method), 0.0, 1.0, (n, 2), torch.float64,
                              torch.device("cpu"), entropy)


@pytest.mark.parametrize("method", SDE_METHODS)
def test_same_solution_as_plain_torchsde_and_calls_per_step(method):
    sde = MLPSDE(_sde_type(method)).double()
    ys, info = solve_sde(sde, y0(), times(), method=method, bm=_bm(method), first_step=0.05, **TOL)
    ref = torchsde.sdeint(sde, y0(), times(), bm=_bm(method), method=method, dt=0.05,
                          adaptive=True, **TOL)
    assert torch.equal(ys, ref)
    drift, diffusion = CALLS_PER_STEP[method]
    attempts = info.steps + info.rejected
    # one drift and one diffusion call check shapes; each attempt is three solver steps
    assert info.nfe_drift == 1 + 3 * drift * attempts
    assert info.nfe_diffusion == 1 + 3 * diffusion * attempts
    assert info.nfe == info.nfe_drift + info.nfe_diffusion
    assert info.summary()["nfe_drift"] == info.nfe_drift
    assert sum(info.step_sizes) == pytest.approx(1.0)
    assert info.first_step == pytest.approx(0.05)


@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_regularization_step_costs_three_solver_steps(sampling):
    reg = regularizers.make("local", sampling=sampling)
    _, info = solve_sde(MLPSDE().double(), y0(), times(), method="srk", regularizer=reg, **TOL)
    assert info.reg_nfe == 3 * 10 * 2
    assert info.reg.requires_grad and info.reg > 0


def test_seeded_solves_are_reproducible_and_times_are_honoured():
    sde = MLPSDE().double()
    torch.manual_seed(5)
    first, info = solve_sde(sde, y0(), times(7), method="milstein", **TOL)
    torch.manual_seed(5)
    again, _ = solve_sde(sde, y0(), times(7), method="milstein", **TOL)
    assert torch.equal(first, again) and first.shape == (7, 8, 2)
    assert info.end_time == 1.0 and torch.equal(first[0], y0())


def test_adjoint_gradients_agree_with_backpropagation():
    # Stratonovich: torchsde's adjoint is much cheaper there than for Ito SDEs.
    sde = MLPSDE("stratonovich", scale=1.0).double()
    grads = {}
    for adjoint in (False, True):
        reg = regularizers.make("local", sampling="biased")
        torch.manual_seed(0)
        ys, info = solve_sde(sde, y0(), times(2), method="midpoint", bm=_bm("midpoint"),
                             adjoint=adjoint, regularizer=reg, **TOL)
        sde.zero_grad()
        (ys[-1].pow(2).sum() + info.reg).backward()
        grads[adjoint] = torch.cat([p.grad.reshape(-1) for p in sde.parameters()])
        assert (info.nfe_backward > 0) == adjoint
        assert info.reg_nfe == 3 * (2 + 2)
    # the continuous adjoint is exact only as the tolerances go to zero
    assert float((grads[True] - grads[False]).norm()) <= 2e-2 * float(grads[False].norm())


def test_invalid_combinations_are_refused_with_a_reason():
    sde = MLPSDE().double()
    with pytest.raises(ValueError, match="continuous adjoint"):
        solve_sde(sde, y0(), times(), method="milstein", adjoint=True,
                  regularizer=regularizers.make("global-error"), **TOL)
    with pytest.raises(ValueError, match="estimate='error'"):
        solve_sde(sde, y0(), times(), method="milstein",
                  regularizer=regularizers.make("local", estimate="stiffness"), **TOL)
    for name in ("taynode", "rnode", "steer", "global-stiffness"):
        with pytest.raises(ValueError, match="does not work on SDE solves"):
            solve_sde(sde, y0(), times(), method="milstein", regularizer=regularizers.make(name))
    with pytest.raises(ValueError, match="stratonovich"):
        solve_sde(MLPSDE("stratonovich").double(), y0(), times(), method="srk")
    with pytest.raises(ValueError, match="unknown SDE method"):
        solve_sde(sde, y0(), times(), method="dopri5")
    with pytest.raises(ValueError, match="adjoint"):
        solve_sde(sde, y0(), times(), method="milstein", adjoint="seminorm")
    with pytest.raises(ValueError, match="strictly increasing"):
        solve_sde(sde, y0(), times().flip(0), method="milstein")


@pytest.mark.filterwarnings("ignore:Hitting minimum allowed step size")
def test_solver_failures_are_typed():
    class Exploding(MLPSDE):
        def f(self, t, y):
            return y.pow(3) * 1e3

    with pytest.raises(NonFiniteState):
        solve_sde(Exploding().double(), y0(), times(), method="euler", **TOL)
    with pytest.raises(StepBudgetExceeded):
        solve_sde(MLPSDE().double(), y0(), times(), method="milstein", max_steps=5, **TOL)


def test_initial_step_heuristic_costs_two_drift_and_two_diffusion_calls():
    sde = MLPSDE().double()
    _, info = solve_sde(sde, y0(), times(), method="milstein", **TOL)
    attempts = info.steps + info.rejected
    assert info.nfe_drift == info.nfe_diffusion == 1 + 2 + 3 * attempts
    # larger than torchsde's fixed 1e-3 for these tame dynamics, and still within tolerance
    assert 1e-3 < info.first_step < 1.0 and info.rejected < attempts / 2


def test_warm_first_step_starts_from_the_previous_solves_proposal():
    sde = MLPSDE().double()

    def solve():
        return solve_sde(sde, y0(), times(), method="milstein", bm=_bm("milstein"),
                         first_step="warm", **TOL)[1]

    cold = solve()  # no memory yet: the heuristic, with its four calls
    assert cold.nfe == 2 + 4 + 6 * (cold.steps + cold.rejected)
    warm = solve()
    assert warm.first_step != cold.first_step
    assert warm.nfe == 2 + 6 * (warm.steps + warm.rejected)
    sde.eval()  # eval mode keeps its own memory
    assert solve().first_step == cold.first_step


def test_neural_sde_regularizes_in_training_mode_only():
    model = NeuralSDE(MLPSDE().double(), method="milstein",
                      regularizer=regularizers.make("local"), **TOL)
    out = model(y0())
    assert out.shape == (8, 2) and model.info.reg_nfe == 6 and model.info.reg > 0
    path = model(y0(), times(5))
    assert path.shape == (5, 8, 2)
    model.eval()
    model(y0())
    assert model.info.reg_nfe == 0 and float(model.info.reg) == 0.0
    with pytest.raises(ValueError, match="continuous adjoint"):
        NeuralSDE(MLPSDE(), method="milstein", adjoint=True,
                  regularizer=regularizers.make("global-error"))
