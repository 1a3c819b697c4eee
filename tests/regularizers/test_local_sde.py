"""Local and global-error regularization of SDE solves: the solver's own step-doubling error,
on the solve's Brownian path, in a closed box, with any gradient method."""

import pytest
import torch

from study import regularizers
from study.nde import solve_sde
from tests.nde.sdes import MLPSDE, brownian, times, y0

# torchsde warns that adaptive Euler-Maruyama need not converge for multiplicative noise; the
# tests use it as the simplest scheme, not for accuracy.
pytestmark = pytest.mark.filterwarnings("ignore:Numerical solution is not guaranteed")

RTOL = ATOL = 1e-3


_bm = brownian


def _solve(reg, method="milstein", bm=None, adjoint=False, y=None):
    return solve_sde(MLPSDE().double(), y0() if y is None else y, times(), method=method,
                     bm=bm or _bm(method), regularizer=reg, adjoint=adjoint, first_step=0.05,
                     rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("method", ["milstein", "srk"])
def test_biased_penalty_is_the_solvers_own_error_estimate_of_the_sampled_step(method, estimates):
    for seed in range(4):
        torch.manual_seed(seed)
        estimates.clear()
        _, info = _solve(regularizers.make("local", sampling="biased"), method=method)
        accepted = [e for e in estimates if e <= 1]  # no step reaches dt_min here
        assert len(accepted) == info.steps and info.rejected > 0
        k = info.step_starts.index(info.reg_time)
        assert info.reg_step == info.step_sizes[k]
        assert float(info.reg.detach()) == pytest.approx(accepted[k] * info.reg_step, rel=1e-12)


def test_unbiased_state_is_the_solves_output_at_the_sampled_time():
    torch.manual_seed(3)
    _, info = _solve(regularizers.make("local", sampling="unbiased"))
    t_s = info.reg_time
    (k,) = [i for i, (a, h) in enumerate(zip(info.step_starts, info.step_sizes))
            if a <= t_s <= a + h]
    assert info.reg_step == pytest.approx(min(info.step_sizes[k], 1.0 - t_s), rel=1e-12)
    # Saving at t_s changes no step (torchsde interpolates output times linearly).
    ts = torch.tensor([0.0, t_s, 1.0], dtype=torch.float64)
    ys, again = solve_sde(MLPSDE().double(), y0(), ts, method="milstein", bm=_bm(),
                          first_step=0.05, rtol=RTOL, atol=ATOL)
    assert again.step_starts == info.step_starts
    torch.testing.assert_close(info.reg_state, ys[1], rtol=1e-12, atol=1e-12)


def test_closed_box_gradient_matches_finite_differences_of_one_step_doubling():
    torch.manual_seed(1)
    sde, bm, start = MLPSDE().double(), _bm("euler"), y0(requires_grad=True)
    _, info = solve_sde(sde, start, times(), method="euler", bm=bm, first_step=0.05,
                        regularizer=regularizers.make("local", sampling="biased"),
                        rtol=RTOL, atol=ATOL)
    grad_y0 = torch.autograd.grad(info.reg, start, retain_graph=True, allow_unused=True)[0]
    assert grad_y0 is None or torch.count_nonzero(grad_y0) == 0
    params = list(sde.parameters())
    grads = torch.autograd.grad(info.reg, params)

    # Euler-Maruyama step doubling written out, on the same Brownian increments.
    k = info.step_starts.index(info.reg_time)
    t0 = torch.tensor(info.reg_time, dtype=torch.float64)
    t1 = torch.tensor(([*info.step_starts, 1.0])[k + 1], dtype=torch.float64)
    t_mid = 0.5 * (t0 + t1)
    y_s = info.reg_state

    def euler(a, b, y):
        return y + sde.f(a, y) * (b - a) + sde.g(a, y) * bm(a, b)

    def penalty():
        full, half = euler(t0, t1, y_s), euler(t_mid, t1, euler(t0, t_mid, y_s))
        scaled = (full - half) / (ATOL + RTOL * torch.maximum(full.abs(), half.abs()))
        return float(scaled.pow(2).mean().sqrt() * (t1 - t0))

    with torch.no_grad():
        assert penalty() == pytest.approx(float(info.reg.detach()), rel=1e-12)
        eps = 1e-6
        for p, g in zip(params, grads):
            flat, fd = p.view(-1), torch.empty(p.numel(), dtype=torch.float64)
            for i in range(p.numel()):
                old = float(flat[i])
                flat[i] = old + eps
                up = penalty()
                flat[i] = old - eps
                down = penalty()
                flat[i] = old
                fd[i] = (up - down) / (2 * eps)
            assert float((g.reshape(-1) - fd).norm()) <= 1e-6 * float(fd.norm())
    assert all(torch.count_nonzero(g) for g in grads)


@pytest.mark.parametrize("sampling", ["unbiased", "biased"])
def test_same_penalty_with_the_adjoint(sampling):
    values = []
    for adjoint in (False, True):
        torch.manual_seed(7)
        _, info = _solve(regularizers.make("local", sampling=sampling), adjoint=adjoint)
        values.append(info.reg)
    assert torch.equal(values[0], values[1]) and values[1].requires_grad


def test_global_error_sums_the_solvers_estimates_over_accepted_steps(estimates):
    start = y0(requires_grad=True)
    _, info = _solve(regularizers.make("global-error"), y=start)
    accepted = [e for e in estimates if e <= 1]
    expected = sum(e * h for e, h in zip(accepted, info.step_sizes))
    assert float(info.reg.detach()) == pytest.approx(expected, rel=1e-10)
    # global: it differentiates through the whole solve, back to y0
    (grad_y0,) = torch.autograd.grad(info.reg, start)
    assert torch.count_nonzero(grad_y0) > 0
    with pytest.raises(ValueError, match="continuous adjoint"):
        _solve(regularizers.make("global-error"), adjoint=True)
