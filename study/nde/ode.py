"""``solve_ode`` and ``NeuralODE``: torchdiffeq solves with statistics and a regularizer.

Warm-started steps (``first_step="warm"``): the solver's initial-step heuristic costs two
evaluations and starts small (steps then grow at most 10x each), so even dynamics that one step
integrates within tolerance take several steps. A warm start instead tries first the step size
that the controller proposed after the first accepted step of the previous solve of the same
field, capped at the length of the integration interval. The memory is kept per field object and
separately for each (training mode, method, rtol, atol, direction), so a validation pass does not
disturb the training solves and vice versa; it lives only in memory (not in ``state_dict``).
Tolerances still hold: a step that is too large is rejected and shrunk like any other step.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
import torchdiffeq
from torch import nn

from study.nde import _torchdiffeq
from study.nde.errors import NonFiniteState, SolverError, StepSizeUnderflow
from study.nde.hooks import SolveContext, SolveHooks
from study.nde.info import FieldCalls, SolveInfo
from study.nde.recorder import StepRecorder

METHODS = _torchdiffeq.ADAPTIVE_METHODS
ADJOINT_CHOICES = (False, True, "seminorm")
DEFAULT_MAX_STEPS = 100_000


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


class _WarmSteps:
    """Per-field memory of the step size to try first (see the module docstring)."""

    def __init__(self) -> None:
        self._memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @staticmethod
    def _key(field, method, rtol, atol, direction) -> tuple:
        return (bool(getattr(field, "training", False)), method, rtol, atol, direction)

    def get(self, field, *key) -> float | None:
        try:
            return self._memory.get(field, {}).get(self._key(field, *key))
        except TypeError as exc:
            raise ValueError(
                f"first_step='warm' needs a field that can be weakly referenced (an nn.Module or a "
                f"function), got {type(field).__name__}"
            ) from exc

    def put(self, field, *key, value: float) -> None:
        self._memory.setdefault(field, {})[self._key(field, *key)] = value


_WARM = _WarmSteps()


def _positive(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not number > 0 or number != number:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


def _validate(method, rtol, atol, adjoint, first_step, t, y0) -> tuple[float, float]:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: adaptive methods are {', '.join(METHODS)}")
    rtol = _positive("rtol", rtol)
    try:
        atol = float(atol)
    except (TypeError, ValueError):
        raise ValueError(f"atol must be a non-negative number, got {atol!r}") from None
    if not atol >= 0:
        raise ValueError(f"atol must be a non-negative number, got {atol!r}")
    if adjoint not in ADJOINT_CHOICES or type(adjoint) not in (bool, str):
        raise ValueError(f"unknown adjoint {adjoint!r}: accepted are False, True and 'seminorm'")
    if first_step is not None and first_step != "warm":
        _positive("first_step", first_step)
    if not isinstance(y0, torch.Tensor) or not y0.is_floating_point():
        raise ValueError("y0 must be a floating-point tensor")
    if not isinstance(t, torch.Tensor) or t.ndim != 1 or len(t) < 2:
        raise ValueError("t must be a 1-D tensor of at least two time points")
    return rtol, atol


def _main_norm(norm: Callable) -> Callable:
    # Extra integrated states (RNODE, TayNODE) must not drive step-size control.
    return lambda state: norm(state[0])


def _translate(exc: AssertionError, recorder: StepRecorder) -> SolverError:
    message = str(exc)
    where = f" at t={recorder.time:.6g}" if recorder.time is not None else ""
    if "underflow" in message:
        return StepSizeUnderflow(f"step size underflow{where}", time=recorder.time)
    if "non-finite" in message:
        return NonFiniteState(f"non-finite state (NaN/inf){where}", time=recorder.time)
    return SolverError(f"solver failed{where}: {message}", time=recorder.time)


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
    ``first_step`` is ``None`` (the solver's heuristic), a number, or ``"warm"`` (see module doc).
    ``options`` are passed to torchdiffeq (e.g. ``max_step``, ``norm``).
    """
    rtol, atol = _validate(method, rtol, atol, adjoint, first_step, t, y0)
    hooks = regularizer if regularizer is not None else SolveHooks()
    hooks.check(method=method, adjoint=adjoint)

    t_solve = hooks.end_time(t)
    recorder = StepRecorder(
        selector=hooks.selector(float(t_solve[0]), float(t_solve[-1])),
        keep_stages=hooks.keep_stages,
        max_steps=max_steps,
    )
    calls = FieldCalls()
    counted = _CountedField(field, calls, recorder)

    opts = dict(options or {})
    span = abs(float(t_solve[-1]) - float(t_solve[0]))
    direction = 1 if float(t_solve[-1]) >= float(t_solve[0]) else -1
    warm_key = (method, rtol, atol, direction)
    if first_step == "warm":
        remembered = _WARM.get(field, *warm_key)
        if remembered is not None:
            opts["first_step"] = remembered
    elif first_step is not None:
        opts["first_step"] = float(first_step)

    dynamics, state0 = counted, y0
    augmentation = hooks.augment(counted, y0)
    if augmentation is not None:
        dynamics, extra0 = augmentation
        state0 = (y0, *extra0)
        opts["norm"] = _main_norm(opts.get("norm", _torchdiffeq.rms_norm))

    solve_opts = {**opts, "recorder": recorder}
    try:
        if adjoint:
            adjoint_opts = {k: v for k, v in opts.items() if k not in ("first_step", "norm")}
            # The backward solve is torchdiffeq's own: bound it with its step budget option.
            adjoint_opts.setdefault("max_num_steps", max_steps)
            if adjoint == "seminorm":
                adjoint_opts["norm"] = "seminorm"
            params = tuple(field.parameters()) if isinstance(field, nn.Module) else ()
            solution = torchdiffeq.odeint_adjoint(
                dynamics, state0, t_solve, rtol=rtol, atol=atol,
                method=_torchdiffeq.recording_method(method), options=solve_opts,
                adjoint_method=method, adjoint_options=adjoint_opts, adjoint_params=params,
            )
        else:
            solution = torchdiffeq.odeint(
                dynamics, state0, t_solve, rtol=rtol, atol=atol,
                method=_torchdiffeq.recording_method(method), options=solve_opts,
            )
    except AssertionError as exc:
        raise _translate(exc, recorder) from exc

    if augmentation is None:
        ys, extra = solution, ()
    else:
        ys, extra = solution[0], tuple(s[-1] for s in solution[1:])

    calls.phase = "regularizer"
    ctx = SolveContext(
        field=counted, tableau=_torchdiffeq.tableau(method), rtol=rtol, atol=atol,
        norm=recorder.norm or _torchdiffeq.rms_norm, t=t_solve, ys=ys, extra=extra,
        recorder=recorder,
    )
    penalty = hooks.penalty(ctx)
    calls.phase = "backward"

    if first_step == "warm" and recorder.first_proposal is not None:
        _WARM.put(field, *warm_key, value=min(recorder.first_proposal, span))

    info = SolveInfo.collect(recorder, penalty, calls=calls, end_time=float(t_solve[-1]))
    return ys, info


class NeuralODE(nn.Module):
    """``forward(y0)`` integrates ``field`` over ``t_span`` and returns the final state;
    ``forward(y0, t)`` integrates over the time grid ``t`` and returns the states at all of ``t``
    (``len(t)`` of them, as ``solve_ode``).

    The last call's ``SolveInfo`` is kept on ``.info``. The regularizer is applied in training
    mode only: in ``eval()`` mode no regularization cost is paid.
    """

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
        super().__init__()
        t0, t1 = (float(x) for x in t_span)
        if t0 == t1:
            raise ValueError(f"t_span must have two different times, got {t_span!r}")
        _validate(method, rtol, atol, adjoint, first_step, torch.tensor([t0, t1]), torch.zeros(1))
        if regularizer is not None:
            regularizer.check(method=method, adjoint=adjoint)
        self.field = field
        self.t_span = (t0, t1)
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.regularizer = regularizer
        self.first_step = first_step
        self.max_steps = max_steps
        self.info: SolveInfo | None = None

    def forward(self, y0: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        grid = t is not None
        if not grid:
            t = torch.tensor(self.t_span, dtype=y0.dtype, device=y0.device)
        ys, self.info = solve_ode(
            self.field, y0, t, method=self.method, rtol=self.rtol, atol=self.atol,
            adjoint=self.adjoint, regularizer=self.regularizer if self.training else None,
            first_step=self.first_step, max_steps=self.max_steps,
        )
        return ys if grid else ys[-1]
