"""``train``: one configuration in, one metrics record out; ``evaluate``: re-measure a checkpoint.

The training loss of a batch is ``task_loss + schedule.at(step) * info.reg``, the schedule going
from ``weight`` to ``weight_final`` over all optimisation steps (Adam, ``lr``). The record:

- ``val_<quality>`` / ``test_<quality>``: the final model's quality (``accuracy`` or ``loss``);
- ``predict_nfe``, ``predict_seconds_per_batch`` and their ``_warm`` variants: prediction cost on
  the validation split (see ``study.train.measure``);
- ``train_nfe_forward``: mean vector-field calls per training batch in the forward pass, the
  regularizer's own calls included (the local regularizer's extra step, TayNODE's jvps, ...);
  ``train_nfe_backward``: mean calls per batch of the adjoint's backward solve (0 when
  backpropagating through the solver, which calls no field);
- ``train_seconds``: wall time of the optimisation steps (per-epoch validation excluded);
- ``epochs`` and ``curves``: per epoch, the mean training task loss (``loss``), the quality metric
  on the validation split (``val_<quality>``) and the mean ``train_nfe_forward`` (``nfe``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from study import tasks
from study.nde import NonFiniteState, SolverError, StepBudgetExceeded, StepSizeUnderflow
from study.regularizers import Schedule
from study.tasks import SolverSettings, Task, TaskModel
from study.train.config import TrainConfig
from study.train.errors import TrainingDiverged
from study.train.measure import measure, run_pass

CHECKPOINT_FORMAT = "study.train/1"


@dataclass(frozen=True)
class Progress:
    """What ``train`` reports to its ``progress`` callback: after every optimisation step
    (``val`` is ``None``) and at the end of every epoch (``val`` is the quality on the validation
    split). ``loss`` and ``nfe`` are the last batch's task loss and forward NFE."""

    step: int
    total_steps: int
    epoch: int
    epochs: int
    loss: float
    nfe: int
    val: float | None = None


@dataclass(frozen=True)
class Budget:
    """A config's budget and schedule with the task's defaults filled in."""

    epochs: int
    batch_size: int
    lr: float
    weight: float
    weight_final: float | None


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {name!r} was asked for but CUDA is not available (this torch "
                f"{torch.__version__} sees no GPU): use --device cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s)"
            )
    return device


def resolve_budget(config: TrainConfig, task: Task) -> Budget:
    defaults = task.defaults
    weight, weight_final = defaults.schedule(config.regularizer)
    if config.weight is not None:
        weight, weight_final = config.weight, None
    if config.weight_final is not None:
        weight_final = config.weight_final
    return Budget(
        epochs=config.epochs or defaults.epochs,
        batch_size=config.batch_size or defaults.batch_size,
        lr=config.lr or defaults.lr,
        weight=weight,
        weight_final=weight_final,
    )


def _config(config: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    return config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)


def _build(config: TrainConfig) -> tuple[Task, TaskModel, torch.device]:
    device = resolve_device(config.device)
    task = tasks.get(config.task, seed=config.seed, data_dir=config.data_dir).to(device)
    solver = SolverSettings(
        method=config.method, rtol=config.rtol, atol=config.atol, adjoint=config.adjoint,
        regularizer=config.make_regularizer(), max_steps=config.max_steps,
    )
    # The model's initial parameters depend on the seed alone.
    torch.manual_seed(config.seed)
    model = task.build_model(solver).to(device)
    return task, model, device


def _elapsed(start: float, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def _backward(loss: torch.Tensor) -> None:
    try:
        loss.backward()
    except AssertionError as exc:
        # The continuous adjoint's backward solve is torchdiffeq's (torchsde's) own, which reports
        # failing dynamics by assertions rather than study.nde's typed errors.
        message = str(exc)
        if "underflow" in message:
            raise StepSizeUnderflow(f"step size underflow in the adjoint ({message})") from exc
        if "non-finite" in message or "nans in the error estimate" in message:
            raise NonFiniteState(f"non-finite state in the adjoint solve ({message})") from exc
        if "max_num_steps" in message:
            raise StepBudgetExceeded(
                f"the adjoint solve exceeded its step budget ({message})"
            ) from exc
        raise


def train(
    config: TrainConfig | Mapping[str, Any],
    *,
    progress: Callable[[Progress], None] | None = None,
    checkpoint: str | Path | None = None,
) -> dict[str, Any]:
    """Train ``config`` and return its metrics record (see the module docstring).

    ``progress`` is called with a ``Progress`` after every step and every epoch. ``checkpoint``
    (a path) receives the config, the trained parameters and the record, for ``evaluate``.
    Raises ``TrainingDiverged`` on a non-finite loss or a solver failure, ``ValueError`` on a bad
    configuration.
    """
    config = _config(config)
    task, model, device = _build(config)
    budget = resolve_budget(config, task)
    steps_per_epoch = math.ceil(task.size("train") / budget.batch_size)
    total_steps = budget.epochs * steps_per_epoch
    schedule = Schedule(budget.weight, budget.weight_final, total_steps=total_steps)
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    shuffle = torch.Generator().manual_seed(config.seed)
    quality = f"val_{task.quality}"

    curves: dict[str, list[float]] = {"loss": [], quality: [], "nfe": []}
    nfe_forward = nfe_backward = 0
    train_seconds = 0.0
    step = 0
    for epoch in range(1, budget.epochs + 1):
        model.train()
        epoch_loss, epoch_nfe, batches = 0.0, 0, 0
        start = time.perf_counter()
        for inputs, targets in task.batches("train", budget.batch_size, generator=shuffle):
            try:
                output = model(inputs)
                info = model.info
                task_loss = task.loss(output, targets)
                loss = task_loss + schedule.at(step) * info.reg
                if not bool(torch.isfinite(loss)):
                    total, part, penalty = (float(x.detach()) for x in (loss, task_loss, info.reg))
                    raise TrainingDiverged(
                        "non-finite-loss",
                        f"the loss is {total} (task loss {part}, penalty {penalty})",
                        epoch=epoch, step=step,
                    )
                optimizer.zero_grad(set_to_none=True)
                _backward(loss)
                optimizer.step()
            except SolverError as exc:
                raise TrainingDiverged(exc.kind, str(exc), epoch=epoch, step=step) from exc
            batch_nfe = info.nfe + info.reg_nfe
            nfe_forward += batch_nfe
            nfe_backward += info.nfe_backward
            batch_loss = float(task_loss.detach())
            epoch_loss += batch_loss
            epoch_nfe += batch_nfe
            batches += 1
            step += 1
            if progress is not None:
                progress(Progress(step, total_steps, epoch, budget.epochs, batch_loss, batch_nfe))
        train_seconds += _elapsed(start, device)
        val = run_pass(task, model, "val", budget.batch_size, epoch=epoch, step=step).quality
        curves["loss"].append(epoch_loss / batches)
        curves[quality].append(val)
        curves["nfe"].append(epoch_nfe / batches)
        if progress is not None:
            progress(Progress(step, total_steps, epoch, budget.epochs, curves["loss"][-1],
                              round(curves["nfe"][-1]), val=val))

    measured = measure(task, model, "val", budget.batch_size)
    test = run_pass(task, model, "test", budget.batch_size).quality
    record = {
        quality: measured[quality],
        f"test_{task.quality}": test,
        "predict_nfe": measured["predict_nfe"],
        "predict_nfe_warm": measured["predict_nfe_warm"],
        "predict_seconds_per_batch": measured["predict_seconds_per_batch"],
        "predict_seconds_per_batch_warm": measured["predict_seconds_per_batch_warm"],
        "train_nfe_forward": nfe_forward / step,
        "train_nfe_backward": nfe_backward / step,
        "train_seconds": train_seconds,
        "epochs": budget.epochs,
        "curves": curves,
    }
    if checkpoint is not None:
        torch.save(
            {"format": CHECKPOINT_FORMAT, "config": config.to_dict(),
             "model": model.state_dict(), "metrics": record},
            Path(checkpoint),
        )
    return record


def evaluate(
    config: TrainConfig | Mapping[str, Any] | None,
    checkpoint: str | Path,
    *,
    split: str = "test",
) -> dict[str, float]:
    """Re-measure the model saved by ``train(config, checkpoint=...)`` on ``split``.

    Returns ``<split>_<quality>``, ``predict_nfe``, ``predict_seconds_per_batch`` and their
    ``_warm`` variants. ``config`` ``None`` uses the config stored in the checkpoint.
    """
    if split not in tasks.SPLITS:
        raise ValueError(f"unknown split {split!r}: accepted are {', '.join(tasks.SPLITS)}")
    path = Path(checkpoint)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{str(path)!r} is not a study.train checkpoint")
    config = _config(saved["config"] if config is None else config)
    task, model, _ = _build(config)
    model.load_state_dict(saved["model"])
    return measure(task, model, split, resolve_budget(config, task).batch_size)
