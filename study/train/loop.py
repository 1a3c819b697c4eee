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
- ``train_saved_bytes``: the most bytes one step's forward pass saved for backward
  (``study.train.memory``; deterministic), and ``train_peak_cuda_bytes`` on CUDA;
- ``epochs`` and ``curves``: per epoch, the mean training task loss (``loss``), the quality metric
  on the validation split (``val_<quality>``), the mean ``train_nfe_forward`` (``nfe``) and the
  validation split's prediction NFE with the solver's own and warm-started steps
  (``predict_nfe``, ``predict_nfe_warm``);
- ``device_name``: ``cpu`` or the GPU's name, for compute reports;
- ``run``: what was trained, as the ``TrainConfig`` settings (options flat) with the task's
  defaults filled in: the weight schedule from ``weight`` to ``weight_final`` (both ``None`` for a
  regularizer without a penalty), ``epochs``, ``batch_size``, ``lr``, the solver, and ``device``
  as resolved (``cpu`` or ``cuda:N``). ``TrainConfig.from_dict(record["run"])`` trains it again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from study import regularizers, tasks
from study.nde import SolverError
from study.outputs import check_file
from study.regularizers import Schedule
from study.tasks import SolverSettings, Task, TaskModel
from study.train.config import TrainConfig
from study.train.errors import TrainingDiverged
from study.train.measure import PREDICTION_METRICS, measure, run_pass
from study.train.memory import SavedBytes, peak_cuda_bytes

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
    predict_nfe: float | None = None  # on the validation split, at the end of an epoch
    predict_nfe_warm: float | None = None
    train_seconds: float | None = None  # of the optimisation steps so far, at an epoch's end
    device_name: str | None = None  # what trains (the record's ``device_name``), at an epoch's end


@dataclass(frozen=True)
class Budget:
    """A config's budget and schedule with the task's defaults filled in."""

    epochs: int
    batch_size: int
    lr: float
    weight: float
    weight_final: float | None


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU; asking for CUDA without it is an error.
    CUDA devices come with their index (``cuda`` is the current one, ``cuda:N``)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {name!r} was asked for but CUDA is not available (this torch "
                f"{torch.__version__} sees no GPU): use --device cpu or auto"
            )
        if device.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        if device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s)"
            )
    return device


def resolve_budget(config: TrainConfig, task: Task) -> Budget:
    """The budget and weight schedule of ``config``, the task's defaults filled in: a weight
    given in ``config``, else the task's for the regularizer, else the regularizer's own
    ``default_weight``; a regularizer with neither needs ``weight`` in the config."""
    defaults = task.defaults
    cls = regularizers.resolve(config.regularizer)
    weight, weight_final = 0.0, None
    if cls.penalised:
        weight = defaults.weights.get(config.regularizer, cls.default_weight)
        weight_final = defaults.weight_finals.get(config.regularizer)
        if config.weight is not None:
            weight, weight_final = config.weight, None
        if weight is None:
            raise ValueError(
                f"regularizer {config.regularizer!r} has no default weight for task "
                f"{task.name!r}: give one (--weight), or declare default_weight on the class"
            )
        if config.weight_final is not None:
            weight_final = config.weight_final
    return Budget(
        epochs=config.epochs or defaults.epochs,
        batch_size=config.batch_size or defaults.batch_size,
        lr=config.lr or defaults.lr,
        weight=float(weight),
        weight_final=weight_final,
    )


def _config(config: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    return config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)


def _build(config: TrainConfig) -> tuple[Task, TaskModel, torch.device]:
    device = resolve_device(config.device)
    task = tasks.get(config.task, seed=config.seed, data_dir=config.data_dir)
    # A user's task function is known only now (a registered task was checked with the config).
    config.check_task(tasks.TaskInfo.of(task, name=config.task))
    task = task.to(device)
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


def _losses(loss: torch.Tensor, task_loss: torch.Tensor, penalty: torch.Tensor) -> str:
    """The loss and its parts, for a divergence message."""
    total, part, reg = (float(x.detach()) for x in (loss, task_loss, penalty))
    return f"{total} (task loss {part}, penalty {reg})"


class _Run:
    """One training run in progress: the model, its optimizer and schedule, and what it cost."""

    def __init__(self, config: TrainConfig, progress: Callable[[Progress], None] | None):
        self.config = config
        self.task, self.model, self.device = _build(config)
        self.budget = resolve_budget(config, self.task)
        steps_per_epoch = math.ceil(self.task.size("train") / self.budget.batch_size)
        self.total_steps = self.budget.epochs * steps_per_epoch
        self.schedule = Schedule(self.budget.weight, self.budget.weight_final,
                                 total_steps=self.total_steps)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.budget.lr)
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.quality = f"val_{self.task.quality}"
        self.progress = progress
        self.curves: dict[str, list[float]] = {
            "loss": [], self.quality: [], "nfe": [], "predict_nfe": [], "predict_nfe_warm": []}
        self.nfe_forward = self.nfe_backward = 0
        self.train_seconds = 0.0
        self.step = 0
        self.saved = SavedBytes()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def _batch(self, inputs: Any, targets: Any, epoch: int) -> tuple[float, int]:
        """One optimisation step: ``(task loss, forward NFE)``."""
        try:
            with self.saved.step():
                output = self.model(inputs)
                info = self.model.info
                task_loss = self.task.loss(output, targets)
                loss = task_loss + self.schedule.at(self.step) * info.reg
            if not bool(torch.isfinite(loss)):
                raise TrainingDiverged("non-finite-loss",
                                       f"the loss is {_losses(loss, task_loss, info.reg)}",
                                       epoch=epoch, step=self.step)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if not self._finite_gradients():
                raise TrainingDiverged(
                    "non-finite-gradient", "a gradient is NaN/inf at a finite loss "
                    f"{_losses(loss, task_loss, info.reg)}; "
                    "the parameters were not updated", epoch=epoch, step=self.step)
            self.optimizer.step()
        except SolverError as exc:
            raise TrainingDiverged(exc.kind, str(exc), epoch=epoch, step=self.step) from exc
        nfe = info.nfe + info.reg_nfe
        self.nfe_forward += nfe
        self.nfe_backward += info.nfe_backward
        self.step += 1
        return float(task_loss.detach()), nfe

    def _finite_gradients(self) -> bool:
        """Whether every gradient the optimizer would apply is finite (one NaN would make the
        parameters NaN, and the next solve fail far from the cause)."""
        grads = [p.grad for group in self.optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        return not grads or bool(torch.stack([g.isfinite().all() for g in grads]).all())

    def epoch(self, epoch: int) -> None:
        """Train one epoch, then validate; report both to ``progress``."""
        budget, report = self.budget, self.progress
        self.model.train()
        # Warm-started steps remember one step size per training mode, so validation passes
        # (eval mode) do not disturb the training solves' memory.
        self.model.first_step = "warm" if self.config.warm_steps else None
        losses, nfes = [], []
        start = time.perf_counter()
        for inputs, targets in self.task.batches("train", budget.batch_size,
                                                 generator=self.shuffle):
            loss, nfe = self._batch(inputs, targets, epoch)
            losses.append(loss)
            nfes.append(nfe)
            if report is not None:
                report(Progress(self.step, self.total_steps, epoch, budget.epochs, loss, nfe))
        self.train_seconds += _elapsed(start, self.device)
        cold = run_pass(self.task, self.model, "val", budget.batch_size, epoch=epoch,
                        step=self.step)
        # Its own random stream (SDE tasks draw Brownian paths): training stays as it was.
        with torch.random.fork_rng(devices=[]):
            warm = run_pass(self.task, self.model, "val", budget.batch_size, first_step="warm",
                            epoch=epoch, step=self.step)
        for key, value in (("loss", sum(losses) / len(losses)), (self.quality, cold.quality),
                           ("nfe", sum(nfes) / len(nfes)), ("predict_nfe", cold.nfe),
                           ("predict_nfe_warm", warm.nfe)):
            self.curves[key].append(value)
        if report is not None:
            report(Progress(self.step, self.total_steps, epoch, budget.epochs,
                            self.curves["loss"][-1], round(self.curves["nfe"][-1]),
                            val=cold.quality, predict_nfe=cold.nfe, predict_nfe_warm=warm.nfe,
                            train_seconds=self.train_seconds, device_name=self.device_name()))

    def record(self) -> dict[str, Any]:
        """The metrics record of the trained model (see the module docstring)."""
        batch_size = self.budget.batch_size
        cuda = peak_cuda_bytes(self.device)
        measured = measure(self.task, self.model, "val", batch_size)
        test = run_pass(self.task, self.model, "test", batch_size).quality
        return {
            self.quality: measured[self.quality],
            f"test_{self.task.quality}": test,
            **{key: measured[key] for key in PREDICTION_METRICS},
            "train_nfe_forward": self.nfe_forward / self.step,
            "train_nfe_backward": self.nfe_backward / self.step,
            "train_seconds": self.train_seconds,
            "train_saved_bytes": self.saved.peak,
            **({} if cuda is None else {"train_peak_cuda_bytes": cuda}),
            "epochs": self.budget.epochs,
            "curves": self.curves,
            "run": self.settings(),
            "device_name": self.device_name(),
        }

    def device_name(self) -> str:
        """``cpu`` or the GPU's name."""
        return (torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                else "cpu")

    def settings(self) -> dict[str, Any]:
        """What this run trained (the record's ``run``, see the module docstring)."""
        budget = self.budget
        weights = (None, None)  # a regularizer without a penalty takes no weight
        if regularizers.resolve(self.config.regularizer).penalised:
            final = budget.weight if budget.weight_final is None else budget.weight_final
            weights = (budget.weight, final)
        return {
            **self.config.to_dict(),
            "weight": weights[0],
            "weight_final": weights[1],
            "epochs": budget.epochs,
            "batch_size": budget.batch_size,
            "lr": budget.lr,
            "device": str(self.device),
        }


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
    if checkpoint is not None:  # checked now: a model trained for nothing is lost time
        checkpoint = check_file(checkpoint, "checkpoint")
    run = _Run(config, progress)
    for epoch in range(1, run.budget.epochs + 1):
        run.epoch(epoch)
    record = run.record()
    if checkpoint is not None:
        torch.save(
            {"format": CHECKPOINT_FORMAT, "config": config.to_dict(),
             "model": run.model.state_dict(), "metrics": record},
            checkpoint,
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
