"""``solve_ode`` and ``NeuralODE``: torchdiffeq solves with statistics and a regularizer.

``first_step="warm"`` starts from the step size the previous solve of the same field proposed
(see ``study.nde.core``). Solver failures are the typed ``SolverError``s, in the forward solve
and in the continuous adjoint's backward solve alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchdiffeq
from torch import nn

from study.nde import _torchdiffeq
from study.nde.core import WARM, DEBlock, check_hooks
from study.nde.hooks import SolveContext, SolveHooks, SolveSpec, Step
from study.nde.info import FieldCalls, SolveInfo
from study.nde.methods import METHODS, check_solver
from study.nde.recorder import DEFAULT_MAX_STEPS, ODEStep, StepRecorder
from study.nde.runge_kutta import Tableau, combine, error_ratio, rk_step, stiffness_estimate


def tableau(method: str) -> Tableau:
    """The embedded Runge-Kutta pair of ``method`` (one of ``METHODS``); ``tableau(m).evaluations``
    is the cost of one step started from scratch, the NFE of a one-step warm-started solve."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: adaptive methods are {', '.join(METHODS)}")
    return _torchdiffeq.tableau(method)


class _CountedField(nn.Module):
    """The user's field, counting its calls and reporting stage evaluations to the recorder."""

    def __init__(self, field: Callable, calls: FieldCalls, recorder: StepRecorder):
        super().__init__()
        self.field = field
        self.calls = calls
        self.recorder = recorder

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls.count()
        out = self.field(t, y)
        self.recorder.stage(y, out)
        return out


@dataclass
class _ODEContext(SolveContext):
    """The ``SolveContext`` of a torchdiffeq solve: dense output, Runge-Kutta steps of the
    solver's ``tableau`` on the counted ``field``, errors in the solver's ``norm``."""

    field: Callable = None
    tableau: Tableau = None
    norm: Callable = None

    def state_at(self, step: Step, t: torch.Tensor) -> torch.Tensor:
        return _torchdiffeq.interpolate(step, t)

    def retake(self, t: torch.Tensor, y: torch.Tensor, h: torch.Tensor,
               end: torch.Tensor | None = None) -> ODEStep:
        taken = rk_step(self.field, t, y, h, self.tableau)
        return ODEStep(t0=t, t1=t + h, y0=y, size=h, y1=taken.y1, ys=taken.ys, ks=taken.ks)

    def error_ratio(self, step: Step, norm: Callable | None = None) -> torch.Tensor:
        error = combine(self.tableau.e, step.ks) * step.h.to(step.ks[0].dtype)
        if norm is None and self.norm is not _torchdiffeq.rms_norm:
            norm = self.norm
        # error_ratio's own RMS is torchdiffeq's, value for value, with a zero gradient at 0.
        return error_ratio(error, step.ys[0], step.y1, self.spec.rtol, self.spec.atol, norm)

    def error_order(self) -> float:
        # torchdiffeq's controller scales steps by ratio ** (-1 / order), order the pair's.
        return float(self.tableau.order)

    def stiffness(self, step: Step) -> torch.Tensor:
        return stiffness_estimate(step.ys, step.ks)


def _check_inputs(t, y0) -> None:
    if not isinstance(y0, torch.Tensor) or not y0.is_floating_point():
        raise ValueError("y0 must be a floating-point tensor")
    if not isinstance(t, torch.Tensor) or t.ndim != 1 or len(t) < 2:
        raise ValueError("t must be a 1-D tensor of at least two time points")


def _main_norm(norm: Callable) -> Callable:
    # Extra integrated states (RNODE, TayNODE) must not drive step-size control.
    return lambda state: norm(state[0])


def _integrate(counted: nn.Module, field: Callable, y0: torch.Tensor, t: torch.Tensor,
               spec: SolveSpec, hooks: SolveHooks, options: dict, recorder: StepRecorder
               ) -> tuple[torch.Tensor, tuple]:
    """The forward solve (with the regularizer's extra states): ``(ys, final extra states)``."""
    dynamics, state0 = counted, y0
    augmentation = hooks.augment(counted, y0)
    if augmentation is not None:
        dynamics, extra0 = augmentation
        state0 = (y0, *extra0)
        options["norm"] = _main_norm(options.get("norm", _torchdiffeq.rms_norm))
    method = _torchdiffeq.recording_method(spec.method)
    settings = dict(rtol=spec.rtol, atol=spec.atol, method=method,
                    options={**options, "recorder": recorder})
    if spec.adjoint:
        backward = {k: v for k, v in options.items() if k not in ("first_step", "norm")}
        if spec.adjoint == "seminorm":
            backward["norm"] = "seminorm"
        # The backward solve reports to a recorder of its own: the same step budget and errors.
        backward["recorder"] = StepRecorder(max_steps=recorder.max_steps)
        params = tuple(field.parameters()) if isinstance(field, nn.Module) else ()
        solution = torchdiffeq.odeint_adjoint(
            dynamics, state0, t, **settings, adjoint_method=method, adjoint_options=backward,
            adjoint_params=params)
    else:
        solution = torchdiffeq.odeint(dynamics, state0, t, **settings)
    if augmentation is None:
        return solution, ()
    return solution[0], tuple(s[-1] for s in solution[1:])


def solve_ode(
    field: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    y0: torch.Tensor,
    t: torch.Tensor,
    *,
    method: str = "dopri5",
    rtol: float = 1e-6,
    atol: float = 1e-6,
    adjoint: bool | str = False,
    regularizer: SolveHooks | None = None,
    options: dict | None = None,
    first_step: float | str | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> tuple[torch.Tensor, SolveInfo]:
    """Solve ``dy/dt = field(t, y)``, ``y(t[0]) = y0`` with an adaptive torchdiffeq method.

    Returns ``(ys, info)``: ``ys`` as torchdiffeq returns it (``len(t)`` states) and a
    ``SolveInfo``. ``adjoint`` is ``False`` (backpropagate through the solver), ``True``
    (continuous adjoint) or ``"seminorm"`` (adjoint with the seminorm step control); with an
    adjoint, gradients reach the parameters of ``field`` when it is an ``nn.Module``.
    ``first_step`` is ``None`` (the solver's heuristic), a number, or ``"warm"`` (see
    ``study.nde.core``). ``options`` are passed to torchdiffeq (e.g. ``max_step``, ``norm``).
    """
    spec = check_solver("ode", METHODS, method, rtol, atol, adjoint, first_step)
    _check_inputs(t, y0)
    hooks = check_hooks(regularizer, spec)
    t_solve = hooks.end_time(t)
    recorder = StepRecorder(selector=hooks.selector(float(t_solve[0]), float(t_solve[-1])),
                            keep_steps=hooks.keep_steps, max_steps=max_steps)
    calls = FieldCalls()
    counted = _CountedField(field, calls, recorder)

    opts = dict(options or {})
    span = abs(float(t_solve[-1]) - float(t_solve[0]))
    direction = 1 if float(t_solve[-1]) >= float(t_solve[0]) else -1
    if first_step == "warm":
        remembered = WARM.get(field, spec, direction)
        if remembered is not None:
            opts["first_step"] = remembered
    elif first_step is not None:
        opts["first_step"] = float(first_step)

    ys, extra = _integrate(counted, field, y0, t_solve, spec, hooks, opts, recorder)
    calls.phase = "regularizer"
    ctx = _ODEContext(field=counted, tableau=_torchdiffeq.tableau(method),
                      norm=recorder.norm or _torchdiffeq.rms_norm, spec=spec, t=t_solve, ys=ys,
                      extra=extra, selected=recorder.selected, kept=recorder.kept)
    penalty = hooks.penalty(ctx)
    calls.phase = "backward"

    if first_step == "warm" and recorder.first_proposal is not None:
        WARM.put(field, spec, direction, min(recorder.first_proposal, span))
    return ys, SolveInfo.collect(recorder, penalty, calls=calls, end_time=float(t_solve[-1]))


class NeuralODE(DEBlock):
    """``forward(y0)`` integrates ``field`` over ``t_span`` and returns the final state;
    ``forward(y0, t)`` integrates over the time grid ``t`` and returns the states at all of ``t``
    (``len(t)`` of them, as ``solve_ode``). See ``study.nde.core.DEBlock``."""

    def __init__(
        self,
        field: nn.Module,
        *,
        t_span: tuple[float, float] = (0.0, 1.0),
        method: str = "dopri5",
        rtol: float = 1e-6,
        atol: float = 1e-6,
        adjoint: bool | str = False,
        regularizer: SolveHooks | None = None,
        first_step: float | str | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
    ):
        t0, t1 = (float(x) for x in t_span)
        if t0 == t1:
            raise ValueError(f"t_span must have two different times, got {t_span!r}")
        check_hooks(regularizer, check_solver("ode", METHODS, method, rtol, atol, adjoint,
                                              first_step))
        super().__init__(t_span=(t0, t1), method=method, rtol=rtol, atol=atol, adjoint=adjoint,
                         regularizer=regularizer, first_step=first_step, max_steps=max_steps)
        self.field = field

    def solve(self, y0, t, **kwargs):
        return solve_ode(self.field, y0, t, **kwargs)
