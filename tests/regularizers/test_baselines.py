"""Global baselines: global error/stiffness, TayNODE, RNODE, STEER; and refused combinations."""

import pytest
import torch
import torchdiffeq

from study import regularizers
from study.nde import NeuralODE, solve_ode
from study.regularizers.taynode import total_derivative
from tests.nde.fields import LinearField, MLPField

T = torch.tensor([0.0, 1.0], dtype=torch.float64)


def _y0(n=4, dim=2, seed=5):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("name", ["global-error", "global-stiffness"])
@pytest.mark.parametrize("adjoint", [True, "seminorm"])
def test_global_estimates_refuse_the_continuous_adjoint_at_construction(name, adjoint):
    with pytest.raises(ValueError, match="cannot be combined with the continuous adjoint") as err:
        NeuralODE(MLPField(), adjoint=adjoint, regularizer=regularizers.make(name))
    assert "use adjoint=False" in str(err.value) and "'local'" in str(err.value)


def test_global_error_sums_error_ratio_times_step_over_accepted_steps():
    field = MLPField(scale=3.0).double()
    _, info = solve_ode(field, _y0(), T, regularizer=regularizers.make("global-error"))
    # Each accepted step has error ratio <= 1, so the sum is at most the total step length.
    assert 0 < float(info.reg.detach()) <= sum(info.step_sizes)
    grads = torch.autograd.grad(info.reg, list(field.parameters()))
    assert any(torch.count_nonzero(g) for g in grads)


def test_global_stiffness_of_a_linear_field_is_eigenvalue_times_length():
    a = -3.0
    _, info = solve_ode(LinearField(a), _y0(), T, regularizer=regularizers.make("global-stiffness"))
    assert float(info.reg) == pytest.approx(abs(a) * sum(info.step_sizes), rel=1e-9)


def _trajectory(field, t, y, offsets):
    times = torch.tensor([t + o for o in offsets], dtype=torch.float64)
    fwd = torchdiffeq.odeint(field, y, times[times >= t], rtol=1e-13, atol=1e-13)
    bwd = torchdiffeq.odeint(field, y, times[times <= t].flip(0), rtol=1e-13, atol=1e-13).flip(0)
    return torch.cat([bwd[:-1], fwd])


@pytest.mark.parametrize("order", [2, 3])
def test_taynode_total_derivative_matches_finite_differences(order):
    field = MLPField(scale=1.5).double()
    y = _y0(n=3)
    t = 0.4
    with torch.no_grad():
        exact = total_derivative(field, order)(torch.tensor(t, dtype=torch.float64), y)
    if order == 2:
        d = 1e-3
        ym, y0_, yp = _trajectory(field, t, y, [-d, 0.0, d])
        fd = (yp - 2 * y0_ + ym) / d**2
    else:
        d = 2e-3
        y_2m, y_m, _, y_p, y_2p = _trajectory(field, t, y, [-2 * d, -d, 0.0, d, 2 * d])
        fd = (y_2p - 2 * y_p + 2 * y_m - y_2m) / (2 * d**3)
    assert torch.allclose(exact, fd, rtol=1e-3, atol=1e-5)


def test_taynode_penalty_is_differentiable_with_backprop_and_adjoint():
    for adjoint in (False, True):
        field = MLPField().double()
        _, info = solve_ode(field, _y0(), T, adjoint=adjoint,
                            regularizer=regularizers.make("taynode", order=2))
        info.reg.backward()
        assert float(info.reg) > 0
        assert all(torch.isfinite(p.grad).all() for p in field.parameters())


@pytest.mark.parametrize("adjoint", [True, "seminorm"])
@pytest.mark.parametrize("name", ["local", "taynode", "rnode", "steer"])
def test_adjoint_trains_from_an_initial_state_in_the_graph(name, adjoint):
    # In training y0 comes from an encoder (it requires grad); the adjoint's forward solve runs
    # without grad mode, where the state is a view flagged requires_grad but outside any graph.
    torch.manual_seed(0)
    field = MLPField().double()
    encoder = torch.nn.Linear(2, 2).double()
    module = NeuralODE(field, adjoint=adjoint, regularizer=regularizers.make(name))
    module.train()
    loss = module(encoder(_y0())).pow(2).mean()
    if module.info.reg is not None:
        loss = loss + module.info.reg
    loss.backward()
    for p in [*field.parameters(), *encoder.parameters()]:
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert float(encoder.weight.grad.abs().sum()) > 0


def test_rnode_penalty_gradient_is_the_same_by_adjoint_and_backprop():
    grads = []
    for adjoint in (False, True):
        torch.manual_seed(1)  # the same Hutchinson draw
        field = MLPField().double()
        y0 = _y0().requires_grad_(True)
        _, info = solve_ode(field, y0 * 1.0, T, adjoint=adjoint, rtol=1e-10, atol=1e-10,
                            regularizer=regularizers.make("rnode"))
        info.reg.backward()
        grads.append(torch.cat([p.grad.flatten() for p in [*field.parameters(), y0]]))
    assert torch.allclose(grads[0], grads[1], rtol=1e-5, atol=1e-8)


def test_rnode_extra_states_do_not_change_step_control():
    field = MLPField(scale=3.0).double()
    ys, vanilla = solve_ode(field, _y0(), T)
    ys_r, rnode = solve_ode(field, _y0(), T, regularizer=regularizers.make("rnode"))
    assert rnode.nfe == vanilla.nfe and rnode.steps == vanilla.steps
    assert torch.equal(ys, ys_r)
    assert float(rnode.reg) > 0


def test_rnode_kinetic_part_of_a_linear_field():
    # f = a*y with y(t) = y0 exp(a t): int_0^1 mean(f^2) dt = mean(y0^2) a (exp(2a) - 1) / 2.
    a = -1.2
    y0 = _y0()
    _, info = solve_ode(LinearField(a), y0, T, rtol=1e-10, atol=1e-10,
                        regularizer=regularizers.make("rnode", jacobian=0.0))
    expected = float(y0.pow(2).mean()) * a * (torch.exp(torch.tensor(2 * a)) - 1) / 2
    assert float(info.reg) == pytest.approx(float(expected), rel=1e-6)


def test_steer_samples_the_end_time_only_in_training():
    module = NeuralODE(MLPField().double(), regularizer=regularizers.make("steer", b=0.25))
    module.train()
    ends = set()
    for _ in range(10):
        module(_y0())
        ends.add(module.info.end_time)
    assert len(ends) == 10 and all(0.75 <= e <= 1.25 for e in ends)
    module.eval()
    module(_y0())
    assert module.info.end_time == 1.0


def test_steer_needs_b_below_the_interval():
    with pytest.raises(ValueError, match="0 < b < t1 - t0"):
        solve_ode(MLPField().double(), _y0(), T, regularizer=regularizers.make("steer", b=1.0))
