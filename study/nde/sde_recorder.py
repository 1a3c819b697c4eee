"""``SDEStepRecorder``: what an adaptive SDE solve did, attempt by attempt.

``study.nde._torchsde`` reports every step-doubling attempt here once it is known to be accepted
or rejected. The recorder always keeps cheap statistics (accepted step starts and sizes,
rejections, the first step tried and the step size tried after the first accepted step). Beyond
that it keeps only what the regularizer asks for: one *selected* accepted step (local
regularizer) or the full- and half-step results of every accepted step with their autograd graph
(global error, which differentiates through them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from study.nde.errors import StepBudgetExceeded
from study.nde.recorder import Selector


@dataclass
class SDEStep:
    """A step-doubling attempt ``t0 -> t1`` from ``y0``: the full step's result ``y_full`` and
    the two half steps' result ``y_half`` (the solution the solver continues from)."""

    t0: torch.Tensor
    t1: torch.Tensor
    y0: torch.Tensor
    y_full: torch.Tensor
    y_half: torch.Tensor


class SDEStepRecorder:
    def __init__(self, *, selector: Selector | None = None, keep_stages: bool = False,
                 max_steps: int = 100_000):
        self.selector = selector
        self.keep_stages = keep_stages
        self.max_steps = max_steps
        self.first_step: float | None = None
        self.first_proposal: float | None = None
        self.step_starts: list[float] = []
        self.step_sizes: list[float] = []
        self.rejected = 0
        self.selected: SDEStep | None = None
        self.recorded: list[SDEStep] = []

    @property
    def attempts(self) -> int:
        return len(self.step_starts) + self.rejected

    def attempted(self, step: SDEStep, accepted: bool) -> None:
        t0, t1 = float(step.t0), float(step.t1)
        if self.first_step is None:
            self.first_step = t1 - t0
        elif self.first_proposal is None and self.step_starts:
            self.first_proposal = t1 - t0
        if self.attempts >= self.max_steps:
            raise StepBudgetExceeded(
                f"the solver exceeded its budget of {self.max_steps} steps at t={t0:.6g}", time=t0
            )
        if not accepted:
            self.rejected += 1
            return
        self.step_starts.append(t0)
        self.step_sizes.append(t1 - t0)
        if self.selector is not None and self.selector(t0, t1):
            self.selected = step
        if self.keep_stages:
            self.recorded.append(step)
