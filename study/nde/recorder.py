"""``StepRecorder``: what a forward solve did, step by step, for statistics and regularizers.

The solver adapters (``study.nde._torchdiffeq``, ``study.nde._torchsde``) report every step
attempt here. The recorder always keeps cheap statistics (accepted step starts and sizes,
rejections, the first step tried and the step size tried after the first accepted step) and
enforces the step budget. Beyond that it keeps only what the regularizer asks for: the accepted
steps its selector chooses, one per sample slot (local regularizers), or every accepted step with
its autograd graph (global baselines, which differentiate through them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from study.nde.errors import StepBudgetExceeded
from study.nde.hooks import Selector, Step

DEFAULT_MAX_STEPS = 100_000


@dataclass
class ODEStep(Step):
    """A Runge-Kutta step: its end state, the coefficients of its dense output and, when kept,
    its stage inputs ``ys`` and outputs ``ks`` (``ys[0] = y0``, ``ks[0] = f(t0, y0)``)."""

    y1: torch.Tensor | None = None
    interp: list[torch.Tensor] = field(default_factory=list)
    ys: list[torch.Tensor] = field(default_factory=list)
    ks: list[torch.Tensor] = field(default_factory=list)


@dataclass
class SDEStep(Step):
    """A step-doubling attempt: the full step's result ``y_full`` and the two half steps'
    result ``y_half`` (the solution the solver continues from)."""

    y_full: torch.Tensor | None = None
    y_half: torch.Tensor | None = None


class StepRecorder:
    def __init__(self, *, selector: Selector | None = None, keep_steps: bool = False,
                 max_steps: int = DEFAULT_MAX_STEPS):
        self.selector = selector
        self.keep_steps = keep_steps
        self.max_steps = max_steps
        self.first_step: float | None = None
        self.first_proposal: float | None = None
        self.step_starts: list[float] = []
        self.step_sizes: list[float] = []
        self.rejected = 0
        self.selected: dict[int, Step] = {}  # sample slot -> the accepted step it holds
        self.kept: list[Step] = []
        self.time: float | None = None  # start of the latest attempt, for error messages
        self.norm: Callable | None = None  # the norm the solver measures errors with
        self._stages: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    @property
    def attempts(self) -> int:
        return len(self.step_starts) + self.rejected

    def attempt(self, t0: float, size: float) -> None:
        """An attempt from ``t0`` of ``size``: check the budget, note the first step's size.
        (``first_proposal`` is the adapter's to set: the step size the controller proposed after
        the first accepted step.)"""
        self.time = t0
        if self.first_step is None:
            self.first_step = size
        if self.attempts >= self.max_steps:
            raise StepBudgetExceeded(
                f"the solver exceeded its budget of {self.max_steps} steps at t={t0:.6g}", time=t0
            )
        self._stages = [] if self.keep_steps else None

    def stage(self, y: torch.Tensor, k: torch.Tensor) -> None:
        """Called by the counted field for every evaluation (kept inside attempts only)."""
        if self._stages is not None:
            self._stages.append((y, k))

    def stages(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The evaluations of the latest attempt (when steps are kept)."""
        stages, self._stages = self._stages or [], None
        return stages

    def reject(self) -> None:
        self.rejected += 1

    def accept(self, t0: float, t1: float, step: Callable[[], Step]) -> None:
        """An accepted step ``t0 -> t1``; ``step()`` builds it when it is selected or kept. The
        step replaces what the sample slots the selector names for it held."""
        self.step_starts.append(t0)
        self.step_sizes.append(t1 - t0)
        slots = self.selector(t0, t1) if self.selector is not None else ()
        if isinstance(slots, bool):  # a selector of one sample
            slots = (0,) if slots else ()
        if slots or self.keep_steps:
            built = step()
            for slot in slots:
                self.selected[slot] = built
            if self.keep_steps:
                self.kept.append(built)
