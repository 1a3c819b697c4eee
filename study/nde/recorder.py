"""``StepRecorder``: what the forward solve did, step by step, for statistics and regularizers.

The recording solvers of ``study.nde._torchdiffeq`` report every step attempt here. The recorder
always keeps cheap statistics (accepted step starts and sizes, rejections, the first step tried
and the step size proposed after the first accepted step). Beyond that it keeps only what the
regularizer asks for: one *selected* accepted step with its dense output (local regularizer), or
the stage evaluations of every accepted step (global baselines, which differentiate through them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from study.nde.errors import NonFiniteState, StepBudgetExceeded


@dataclass
class SelectedStep:
    """An accepted step of the forward solve: start ``t0``, end ``t1``, start state ``y0``, and the
    coefficients of its dense output."""

    t0: torch.Tensor
    t1: torch.Tensor
    y0: torch.Tensor
    interp: list[torch.Tensor]


@dataclass
class RecordedStep:
    """An accepted step with its stage evaluations (kept for the global baselines): stage inputs
    ``ys`` and outputs ``ks``, with ``ys[0]``/``ks[0]`` the start state and its derivative."""

    h: torch.Tensor
    y1: torch.Tensor
    ys: list[torch.Tensor]
    ks: list[torch.Tensor]


# Chooses, from (start, end) of each accepted step in order, the one the regularizer uses.
Selector = Callable[[float, float], bool]


class StepRecorder:
    def __init__(self, *, selector: Selector | None = None, keep_stages: bool = False,
                 max_steps: int = 100_000):
        self.selector = selector
        self.keep_stages = keep_stages
        self.max_steps = max_steps
        self.norm: Callable | None = None
        self.first_step: float | None = None
        self.first_proposal: float | None = None
        self.step_starts: list[float] = []
        self.step_sizes: list[float] = []
        self.rejected = 0
        self.selected: SelectedStep | None = None
        self.recorded: list[RecordedStep] = []
        self.time: float | None = None
        self._stages: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._last_stages: list[tuple[torch.Tensor, torch.Tensor]] = []

    @property
    def attempts(self) -> int:
        return len(self.step_starts) + self.rejected

    def begin(self, first_step: torch.Tensor) -> None:
        self.first_step = float(first_step.detach())

    @contextmanager
    def step_attempt(self, t: torch.Tensor) -> Iterator[None]:
        self.time = float(t.detach())
        if self.attempts >= self.max_steps:
            raise StepBudgetExceeded(
                f"the solver exceeded its budget of {self.max_steps} steps at t={self.time:.6g}",
                time=self.time,
            )
        self._stages = [] if self.keep_stages else None
        try:
            yield
        finally:
            stages, self._stages = self._stages, None
        self._last_stages = stages or []

    def stage(self, y: torch.Tensor, k: torch.Tensor) -> None:
        """Called by the counted field for every evaluation inside a step attempt."""
        if self._stages is not None:
            self._stages.append((y, k))

    def attempted(self, old, new, accepted: bool) -> None:
        """``old``/``new``: torchdiffeq's Runge-Kutta state before and after the attempt."""
        if not bool(torch.isfinite(new.dt)):
            raise NonFiniteState(
                "non-finite error estimate (NaN/inf in the dynamics) in the step from "
                f"t={self.time:.6g}",
                time=self.time,
            )
        if not accepted:
            self.rejected += 1
            return
        t0, t1 = float(new.t0.detach()), float(new.t1.detach())
        self.step_starts.append(t0)
        self.step_sizes.append(t1 - t0)
        if self.first_proposal is None:
            self.first_proposal = float(new.dt.detach())
        if self.selector is not None and self.selector(t0, t1):
            self.selected = SelectedStep(t0=new.t0, t1=new.t1, y0=old.y1, interp=new.interp_coeff)
        if self.keep_stages:
            ys = [old.y1] + [y for y, _ in self._last_stages]
            ks = [old.f1] + [k for _, k in self._last_stages]
            self.recorded.append(RecordedStep(h=new.t1 - new.t0, y1=new.y1, ys=ys, ks=ks))
