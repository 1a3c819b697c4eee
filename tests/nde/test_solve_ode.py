"""solve_ode: statistics, accounting, warm steps, errors, and agreement with plain torchdiffeq."""

import pytest
import torch
import torchdiffeq

from study.nde import (
    METHODS,
    NeuralODE,
    NonFiniteState,
    StepBudgetExceeded,
    solve_ode,
)
from tests.nde.fields import MLPField

T = torch.tensor([0.0, 1.0], dtype=torch.float64)


def _y0(n=5, dim=2, seed=1):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("method", METHODS)
def test_same_solution_and_steps_as_plain_torchdiffeq(method):
    field = MLPField(scale=2.0).double()
    y0 = _y0()
    ys, info = solve_ode(field, y0, T, method=method, rtol=1e-5, atol=1e-5)
    accepted = []

    class Spy(torch.nn.Module):
        def forward(self, t, y):
            return field(t, y)

        def callback_accept_step(self, t0, y0, dt):
            accepted.append(float(t0.detach()))

    ref = torchdiffeq.odeint(Spy(), y0, T, method=method, rtol=1e-5, atol=1e-5)
    assert torch.equal(ys, ref)
    assert info.steps == len(accepted)
    assert info.step_starts == pytest.approx(accepted)


def test_dopri5_accounting_with_the_solvers_initial_step():
    for scale in (0.5, 3.0, 8.0):
        field = MLPField(scale=scale).double()
        _, info = solve_ode(field, _y0(), T, rtol=1e-7, atol=1e-7)
        assert info.nfe == 2 + 6 * (info.steps + info.rejected)


def test_dopri5_accounting_with_a_given_and_a_warm_first_step():
    field = MLPField(scale=3.0).double()
    _, info = solve_ode(field, _y0(), T, rtol=1e-7, atol=1e-7, first_step=0.5)
    assert info.first_step == 0.5
    assert info.rejected > 0  # 0.5 is far too large at this tolerance
    assert info.nfe == 1 + 6 * (info.steps + info.rejected)
    solve_ode(field, _y0(), T, rtol=1e-7, atol=1e-7, first_step="warm")
    _, warm = solve_ode(field, _y0(), T, rtol=1e-7, atol=1e-7, first_step="warm")
    assert warm.nfe == 1 + 6 * (warm.steps + warm.rejected)


def test_backward_nfe_is_counted_for_the_adjoint_only():
    field = MLPField().double()
    for adjoint in (False, True):
        ys, info = solve_ode(field, _y0(), T, adjoint=adjoint)
        assert info.nfe_backward == 0
        ys[-1].sum().backward()
        assert (info.nfe_backward > 0) == adjoint


def _easy_field():
    # Nearly linear, slow dynamics: one step of dopri5 meets the tolerance.
    return MLPField(scale=0.3).double()


def test_warm_steps_save_evaluations_and_keep_the_tolerance():
    field = _easy_field()
    y0 = _y0(n=20)
    t = T
    exact = torchdiffeq.odeint(field, y0, t, rtol=1e-12, atol=1e-12)[-1]
    cold_ys, cold = solve_ode(field, y0, t, rtol=1e-6, atol=1e-6)
    nfes = []
    for _ in range(6):
        ys, warm = solve_ode(field, y0, t, rtol=1e-6, atol=1e-6, first_step="warm")
        nfes.append(warm.nfe)
    assert cold.nfe == 2 + 6 * cold.steps and cold.steps >= 3
    assert nfes[-1] == 7  # one accepted step from a warm start: f(y0) + 6 stages
    assert nfes[-1] < cold.nfe
    # Tolerance still holds: the warm solve is as accurate as the solver's own start.
    warm_error = (ys[-1] - exact).abs().max()
    cold_error = (cold_ys[-1] - exact).abs().max()
    assert warm_error <= 2 * cold_error
    assert warm_error < 1e-4


def test_a_too_large_warm_step_is_rejected_and_the_result_stays_accurate():
    easy = _easy_field()
    module = NeuralODE(easy, rtol=1e-6, atol=1e-6, first_step="warm").eval()
    y0 = _y0(n=20)
    for _ in range(4):
        module(y0)
    assert module.info.steps == 1
    with torch.no_grad():  # the dynamics become much harder: the remembered step is too large
        for p in easy.parameters():
            p.mul_(15.0)
    out = module(y0)
    assert module.info.rejected >= 1
    exact = torchdiffeq.odeint(easy, y0, T, rtol=1e-12, atol=1e-12)[-1]
    cold = torchdiffeq.odeint(easy, y0, T, rtol=1e-6, atol=1e-6)[-1]
    assert (out - exact).abs().max() <= 2 * (cold - exact).abs().max()


def test_warm_memory_is_per_module_and_per_mode():
    a, b = NeuralODE(_easy_field(), first_step="warm"), NeuralODE(_easy_field(), first_step="warm")
    y0 = _y0(n=20)
    with torch.no_grad():
        a.train()
        for _ in range(5):
            a(y0)
        assert a.info.first_step > 0.5
        b.train()
        b(y0)  # another module starts cold
        cold = b.info.first_step
        assert cold < 0.1
        a.eval()
        a(y0)  # evaluation mode has its own memory: it starts cold too
        assert a.info.first_step == pytest.approx(cold)
        a.train()
        a(y0)
        assert a.info.first_step > 0.5


def test_non_finite_dynamics_raise_a_typed_error_with_the_time():
    class Blowup(torch.nn.Module):
        def forward(self, t, y):
            return torch.where(t > 0.3, torch.full_like(y, float("nan")), y)

    with pytest.raises(NonFiniteState) as err:
        solve_ode(Blowup(), _y0(), T)
    assert 0.0 <= err.value.time <= 0.3  # the start of the step attempt that met the NaN


def test_step_budget_raises_a_typed_error():
    with pytest.raises(StepBudgetExceeded, match="budget of 3 steps"):
        solve_ode(MLPField(scale=5.0).double(), _y0(), T, rtol=1e-9, atol=1e-9, max_steps=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rtol": 0.0}, "rtol must be a positive number, got 0.0"),
        ({"rtol": -1e-3}, "rtol must be a positive number"),
        ({"atol": -1.0}, "atol must be a non-negative number"),
        ({"method": "rk45"}, "unknown method 'rk45': adaptive methods are dopri5, bosh3"),
        ({"adjoint": "yes"}, "unknown adjoint 'yes': accepted are False, True and 'seminorm'"),
        ({"first_step": -0.1}, "first_step must be a positive number"),
    ],
)
def test_bad_solver_options_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        solve_ode(MLPField().double(), _y0(), T, **kwargs)


def test_neural_ode_returns_the_final_state_and_keeps_info():
    field = MLPField().double()
    module = NeuralODE(field, t_span=(0.0, 2.0))
    out = module(_y0())
    ys, info = solve_ode(field, _y0(), torch.tensor([0.0, 2.0], dtype=torch.float64))
    assert torch.equal(out, ys[-1])
    assert module.info.nfe == info.nfe


def test_neural_ode_on_a_time_grid_returns_every_state():
    field = MLPField().double()
    grid = torch.tensor([0.0, 0.3, 0.7, 1.5], dtype=torch.float64)
    states = NeuralODE(field)(_y0(), grid)
    ys, _ = solve_ode(field, _y0(), grid)
    assert states.shape == (4, 5, 2) and torch.equal(states, ys)
