"""Typed solver failures: a diverging model is reported as *what* went wrong and *when*."""

from __future__ import annotations


class SolverError(RuntimeError):
    """The adaptive solver could not integrate the dynamics.

    ``kind`` is one of ``"step-underflow"``, ``"step-budget"`` and ``"non-finite"``; ``time`` is the
    integration time at which it happened (``None`` when unknown).
    """

    kind = "solver"

    def __init__(self, message: str, *, time: float | None = None):
        super().__init__(message)
        self.time = time


class StepSizeUnderflow(SolverError):
    kind = "step-underflow"


class StepBudgetExceeded(SolverError):
    kind = "step-budget"


class NonFiniteState(SolverError):
    kind = "non-finite"
