"""What a task is: data splits, a model built from solver settings, a loss and a quality metric.

A ``Task`` holds three splits (``train``, ``val``, ``test``), each a pair ``(inputs, targets)``
whose tensors (or tuples of tensors) share their first, batch dimension. It builds its model
(a ``TaskModel``) from ``SolverSettings``, and says how to score the model's output:
``loss(output, targets)`` is the mean task loss that training minimises, ``score(output,
targets)`` the *sum* over the batch of the quality metric (correct predictions for ``accuracy``,
per-sample loss for ``loss``), so that quality over a split is ``sum(score) / size``.

``quality`` is ``"accuracy"`` (maximised) or ``"loss"`` (minimised); the metrics training reports
are ``val_<quality>`` and ``test_<quality>``. ``defaults`` are the task's own training budget and
penalty weights, so that ``study train --regularizer local`` alone shows the effect.
``quality``, ``solver_defaults`` and ``min_last_gap`` are class attributes (``TaskInfo``); a
registered task takes them from its registry entry (``registered="name"``), which training reads
before loading anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from study.nde import DEFAULT_MAX_STEPS, SolveHooks, SolveInfo
from study.tasks.registry import ODE_SOLVER, QUALITIES, REGISTRY

SPLITS = ("train", "val", "test")

@dataclass(frozen=True)
class Defaults:
    """A task's training budget and its default weight schedule per regularizer.

    ``weights[name]`` is the initial penalty weight for regularizer ``name``; where
    ``weight_finals`` has an entry the weight decays exponentially to it over training, else it is
    constant. A regularizer without an entry takes its own ``default_weight``
    (``study.train.resolve_budget``).
    """

    epochs: int
    batch_size: int
    lr: float
    weights: Mapping[str, float] = field(default_factory=dict)
    weight_finals: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SolverSettings:
    """How a task model's differential-equation block solves: passed to ``NeuralODE``."""

    method: str = "dopri5"
    rtol: float = 1e-6
    atol: float = 1e-6
    adjoint: bool | str = False
    regularizer: SolveHooks | None = None
    max_steps: int = DEFAULT_MAX_STEPS

    def ode_kwargs(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "rtol": self.rtol,
            "atol": self.atol,
            "adjoint": self.adjoint,
            "regularizer": self.regularizer,
            "max_steps": self.max_steps,
        }


class TaskModel(nn.Module):
    """A task's model. ``block`` is its differential-equation block (a ``NeuralODE`` or a module
    with the same ``info``/``first_step`` attributes), whose solves training measures."""

    block: nn.Module

    @property
    def info(self) -> SolveInfo:
        """The ``SolveInfo`` of the block's last solve."""
        return self.block.info

    @property
    def first_step(self) -> float | str | None:
        return self.block.first_step

    @first_step.setter
    def first_step(self, value: float | str | None) -> None:
        self.block.first_step = value


def _index(data: Any, idx: torch.Tensor) -> Any:
    if isinstance(data, torch.Tensor):
        return data[idx]
    return tuple(_index(part, idx) for part in data)


def _length(data: Any) -> int:
    if isinstance(data, torch.Tensor):
        return len(data)
    return _length(data[0])


def to_device(data: Any, device: torch.device | str) -> Any:
    """``data`` (a tensor or nested tuples of tensors) on ``device``."""
    if isinstance(data, torch.Tensor):
        return data.to(device)
    return tuple(to_device(part, device) for part in data)


class Task(ABC):
    """Base of every task; see the module docstring."""

    quality: ClassVar[str]
    #: The solver the task's model integrates with where a configuration leaves ``method``,
    #: ``rtol`` or ``atol`` out (SDE tasks name an SDE method).
    solver_defaults: ClassVar[Mapping[str, Any]] = ODE_SOLVER
    #: The smallest gap between the last two times of any solve of the model (STEER moves the end
    #: time by less than it); ``None``: not known.
    min_last_gap: ClassVar[float | None] = None

    def __init_subclass__(cls, *, registered: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if registered is not None:
            info = REGISTRY[registered]
            cls.quality = info.quality
            cls.solver_defaults = info.solver_defaults
            cls.min_last_gap = info.min_last_gap

    def __init__(self, *, name: str, splits: Mapping[str, tuple[Any, Any]], defaults: Defaults):
        missing = [s for s in SPLITS if s not in splits]
        if missing:
            raise ValueError(f"task {name!r} lacks the split(s) {', '.join(missing)}")
        for split in SPLITS:
            inputs, targets = splits[split]
            if _length(inputs) != _length(targets):
                raise ValueError(
                    f"task {name!r}: {split} inputs and targets differ in length "
                    f"({_length(inputs)} vs {_length(targets)})"
                )
            if _length(inputs) == 0:
                raise ValueError(f"task {name!r}: the {split} split is empty")
        self.name = name
        self.splits = {s: (splits[s][0], splits[s][1]) for s in SPLITS}
        self.defaults = defaults

    @classmethod
    def quality_objective(cls) -> tuple[str, str]:
        """``(metric_name, direction)`` the search optimises, e.g. ``("val_accuracy",
        "maximize")``."""
        return f"val_{cls.quality}", QUALITIES[cls.quality]

    def size(self, split: str) -> int:
        return _length(self.splits[split][0])

    def to(self, device: torch.device | str) -> Task:
        """Moves every split to ``device`` (in place) and returns the task."""
        self.splits = {s: to_device(pair, device) for s, pair in self.splits.items()}
        return self

    def batches(self, split: str, batch_size: int, *,
                generator: torch.Generator | None = None) -> Iterator[tuple[Any, Any]]:
        """``(inputs, targets)`` batches of ``split``: shuffled by ``generator`` when given (a CPU
        generator), else in order."""
        inputs, targets = self.splits[split]
        n = self.size(split)
        order = torch.arange(n) if generator is None else torch.randperm(n, generator=generator)
        device = (inputs if isinstance(inputs, torch.Tensor) else inputs[0]).device
        order = order.to(device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield _index(inputs, idx), _index(targets, idx)

    @abstractmethod
    def build_model(self, solver: SolverSettings) -> TaskModel:
        """A freshly initialised model (parameters from the global torch RNG)."""

    @abstractmethod
    def loss(self, output: torch.Tensor, targets: Any) -> torch.Tensor:
        """Mean task loss over the batch (what training minimises, without the penalty)."""

    @abstractmethod
    def score(self, output: torch.Tensor, targets: Any) -> float:
        """Sum over the batch of the quality metric."""


# Fixed seed of the held-out test split: the same test data for every run seed.
TEST_SPLIT_SEED = 20230723


def split_indices(n: int, *, seed: int, val_fraction: float,
                  test_fraction: float | None = None) -> dict[str, np.ndarray]:
    """Deterministic train/val(/test) index sets over ``n`` examples.

    With ``test_fraction`` a test set is held out first by a *fixed* permutation (the same for
    every ``seed``, so no seed ever trains on another seed's test data); the rest is split into
    train and val by ``seed``. Without it only train and val are returned.
    """
    rest = np.arange(n)
    out: dict[str, np.ndarray] = {}
    if test_fraction is not None:
        fixed = np.random.default_rng(TEST_SPLIT_SEED).permutation(n)
        n_test = max(1, round(n * test_fraction))
        out["test"] = np.sort(fixed[:n_test])
        rest = np.sort(fixed[n_test:])
    shuffled = rest[np.random.default_rng(seed).permutation(len(rest))]
    n_val = max(1, round(len(rest) * val_fraction))
    out["val"] = np.sort(shuffled[:n_val])
    out["train"] = np.sort(shuffled[n_val:])
    return out
