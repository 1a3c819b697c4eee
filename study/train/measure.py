"""Measuring a trained model the same way for every regularizer: quality, NFE and time per batch.

Prediction is a forward solve in eval mode (no regularizer, no gradient) over a split, in order,
in batches of the training batch size. It is measured twice: with the solver's own initial step
(``predict_nfe``, ``predict_seconds_per_batch``) and with warm-started steps (``first_step="warm"``:
``predict_nfe_warm``, ``predict_seconds_per_batch_warm``). Each measured pass follows an untimed
warm-up pass over the same split in the same mode; before that, warm-started passes are repeated
(at most ``SETTLE_PASSES``) until their NFE stops changing, since the warm memory grows by at most
the controller's 10x per solve and a small split may not reach its steady state in one pass.
Those settling passes draw from their own random stream (SDE tasks), so the measured passes see
the same Brownian paths however many there were. NFE is the mean forward NFE per batch; times
are wall-clock seconds of the model's forward call per batch (synchronised on CUDA).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from study.nde import SolverError
from study.tasks import Task, TaskModel
from study.train.errors import TrainingDiverged

# What ``measure`` reports besides quality, in this order (the training record's keys too).
PREDICTION_METRICS = ("predict_nfe", "predict_nfe_warm", "predict_seconds_per_batch",
                      "predict_seconds_per_batch_warm")


SETTLE_PASSES = 6


@dataclass
class Pass:
    """One pass over a split: quality (mean of the task's score), mean NFE and seconds per batch."""

    quality: float
    nfe: float
    seconds_per_batch: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def run_pass(task: Task, model: TaskModel, split: str, batch_size: int, *,
             first_step: float | str | None = None, limit: int | None = None,
             epoch: int | None = None, step: int | None = None) -> Pass:
    """Predict ``split`` (at most ``limit`` batches) in eval mode with ``first_step``; a solver
    failure raises ``TrainingDiverged`` (with ``epoch``/``step`` when validating in training)."""
    model.eval()
    previous = model.first_step
    model.first_step = first_step
    device = next(model.parameters()).device
    total_score, count, nfe, seconds, batches = 0.0, 0, 0, 0.0, 0
    try:
        for inputs, targets in task.batches(split, batch_size):
            if limit is not None and batches >= limit:
                break
            _sync(device)
            start = time.perf_counter()
            output = model(inputs)
            _sync(device)
            seconds += time.perf_counter() - start
            nfe += model.info.nfe
            total_score += task.score(output, targets)
            count += len(output)
            batches += 1
    except SolverError as exc:
        raise TrainingDiverged(exc.kind, str(exc), epoch=epoch, step=step,
                               phase=f"prediction on {split}") from exc
    finally:
        model.first_step = previous
    return Pass(total_score / count, nfe / batches, seconds / batches)


def measure(task: Task, model: TaskModel, split: str, batch_size: int) -> dict[str, float]:
    """Quality on ``split`` and prediction cost, with the solver's own and warm-started steps."""
    quality_name = f"{split}_{task.quality}"
    run_pass(task, model, split, batch_size, first_step=None, limit=1)
    own = run_pass(task, model, split, batch_size, first_step=None)
    with torch.random.fork_rng(devices=[]):
        previous = None
        for _ in range(SETTLE_PASSES):
            nfe = run_pass(task, model, split, batch_size, first_step="warm").nfe
            if nfe == previous:
                break
            previous = nfe
    run_pass(task, model, split, batch_size, first_step="warm")
    warm = run_pass(task, model, split, batch_size, first_step="warm")
    return {
        quality_name: own.quality,
        "predict_nfe": own.nfe,
        "predict_seconds_per_batch": own.seconds_per_batch,
        "predict_nfe_warm": warm.nfe,
        "predict_seconds_per_batch_warm": warm.seconds_per_batch,
    }
