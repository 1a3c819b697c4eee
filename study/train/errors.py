"""``TrainingDiverged``: a run stopped because the model could no longer be trained or solved."""

from __future__ import annotations


class TrainingDiverged(RuntimeError):
    """Training (or evaluating) stopped: ``kind`` says what happened (``"non-finite-loss"``,
    ``"non-finite-gradient"``, or the ``kind`` of the ``study.nde.SolverError``:
    ``"step-budget"``, ``"step-underflow"``, ``"non-finite"``, ``"solver"``), ``epoch``
    (1-based) and ``step`` (optimisation steps done before it) say when; both are ``None``
    outside training, e.g. when re-evaluating a checkpoint."""

    def __init__(self, kind: str, detail: str, *, epoch: int | None = None,
                 step: int | None = None, phase: str = "training"):
        where = f" in epoch {epoch}, step {step}" if epoch is not None else ""
        super().__init__(f"{phase} diverged{where}: {detail}")
        self.kind = kind
        self.epoch = epoch
        self.step = step
