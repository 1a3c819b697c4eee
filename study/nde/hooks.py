"""The interface between a solve (ODE or SDE) and a regularizer.

A solve asks its regularizer, in this order: is this combination valid (``check``, given a
``SolveSpec``)? which end time (``end_time``, ODEs)? which accepted step to keep (``selector``)?
extra integrated states (``augment``, ODEs)? and, after the forward solve, the penalty
(``penalty``, given a ``SolveContext``). Every regularizer in ``study.regularizers`` is a
``SolveHooks``; a new one overrides only what it needs.

The context is the same for ODE and SDE solves: the accepted steps the selector chose, by sample
slot (``selected``) and, when ``keep_steps`` is set, every accepted step with its autograd graph
(``kept``); the solve's state inside a step (``state_at``: the solver's dense output for ODEs,
torchsde's linear interpolation for SDEs); one step of the solver re-taken from any point with
autograd on (``retake``: the Runge-Kutta pair for ODEs; a full and two half steps on the solve's
own Brownian increments for SDEs); and the solver's own measures of a step (``error_ratio``, and
``stiffness`` where the solver has Runge-Kutta stages).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Called with (start, end) of each accepted step in order: the sample slots (small integers) that
# take this step, replacing what they held (empty: none), or for one sample a bool (True: slot
# 0). Reservoir sampling may move a slot to a later step.
Selector = Callable[[float, float], "bool | Sequence[int]"]
# Augmented dynamics on the state tuple (y, *extra) and the initial extra states.
Augmentation = tuple[Callable[["torch.Tensor", tuple], tuple], tuple]

KINDS = ("ode", "sde")


@dataclass(frozen=True)
class SolveSpec:
    """What is being solved, for ``SolveHooks.check``: ``kind`` is ``"ode"`` or ``"sde"``;
    ``adjoint`` is ``False``, ``True`` or ``"seminorm"`` (ODEs only)."""

    kind: str
    method: str
    adjoint: bool | str
    rtol: float
    atol: float


@dataclass
class Step:
    """An accepted (or re-taken) solver step ``t0 -> t1`` from the state ``y0``. What else it
    holds (stages, dense output, the half steps) belongs to the solve that made it; ask its
    ``SolveContext`` about it."""

    t0: torch.Tensor
    t1: torch.Tensor
    y0: torch.Tensor
    size: torch.Tensor | None = None  # the step size exactly as taken, where t1 - t0 rounds

    @property
    def h(self) -> torch.Tensor:
        return self.t1 - self.t0 if self.size is None else self.size


@dataclass
class SolveContext(ABC):
    """What a regularizer sees after the forward solve (see the module docstring): the solve's
    ``spec``, its times ``t`` and states ``ys``, the final ``extra`` states of an ``augment``,
    the ``selected`` steps (by sample slot) and the ``kept`` ones. Vector-field calls made
    through it (``retake``) count as the solve's ``reg_nfe``."""

    spec: SolveSpec
    t: torch.Tensor
    ys: torch.Tensor
    extra: tuple
    selected: dict[int, Step]
    kept: list[Step]

    @abstractmethod
    def state_at(self, step: Step, t: torch.Tensor) -> torch.Tensor:
        """The solve's state at time ``t`` inside the accepted ``step``."""

    @abstractmethod
    def retake(self, t: torch.Tensor, y: torch.Tensor, h: torch.Tensor,
               end: torch.Tensor | None = None) -> Step:
        """One step of the solver from ``(t, y)`` of size ``h``, differentiable in the dynamics'
        parameters. SDE steps end at ``end`` when given (an accepted step's own ``t1``, so that
        the re-taken attempt lands on the solver's times exactly), else at ``t + h`` clipped at
        the end of the solve, as torchsde clips its own steps."""

    @abstractmethod
    def error_ratio(self, step: Step, norm: Callable | None = None) -> torch.Tensor:
        """The ratio the solver accepts ``step`` by (``<= 1``), differentiable: the solver's norm
        of the tolerance-scaled error, or ``norm`` of it when given."""

    @abstractmethod
    def error_order(self) -> float:
        """The power of the step size that the error ratio grows with: a step ``h`` with ratio
        ``r`` would, at ratio 1, have been ``h * r ** (-1 / error_order)``."""

    def stiffness(self, step: Step) -> torch.Tensor:
        """The solver's stiffness (dominant eigenvalue) estimate of ``step``."""
        raise ValueError(f"{self.spec.kind.upper()} solves ({self.spec.method}) have no "
                         "Runge-Kutta stages to estimate stiffness from")


@dataclass
class Penalty:
    """A regularizer's penalty for one solve, and where it was measured (local regularizers:
    the sampled time, step size and detached state)."""

    value: torch.Tensor
    time: float | None = None
    step: float | None = None
    state: torch.Tensor | None = None


class SolveHooks:
    """Default hooks: ODE and SDE solves, nothing kept, the given end time, no extra state, no
    penalty."""

    #: keep every accepted step with its autograd graph (``SolveContext.kept``)
    keep_steps: bool = False

    def check(self, spec: SolveSpec) -> None:
        """Raise ``ValueError`` when this regularizer cannot work with the solve ``spec``."""

    def end_time(self, t: torch.Tensor) -> torch.Tensor:
        """The times to solve at instead of ``t`` (ODE solves)."""
        return t

    def selector(self, t0: float, t1: float) -> Selector | None:
        return None

    def augment(self, field: Callable, y0: torch.Tensor) -> Augmentation | None:
        """Extra integrated states (ODE solves); ``None`` for none."""
        return None

    def penalty(self, ctx: SolveContext) -> Penalty:
        return Penalty(ctx.ys.new_zeros(()))
