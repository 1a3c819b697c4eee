"""``ClassificationTask``: your own ``(X, y)`` tensors with the standard neural ODE classifier.

The classifier: inputs are flattened and standardised with the training split's per-feature mean
and standard deviation, a linear encoder maps them to the ODE state, a ``NeuralODE`` with a
time-dependent tanh MLP vector field integrates it over ``t in [0, 1]``, and a linear head gives
class logits. Quality is accuracy; the loss is cross-entropy.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from study.nde import NeuralODE
from study.tasks.base import Defaults, SolverSettings, Task, TaskModel
from study.tasks.fields import TimeMLP

# Default penalty weights of the standard classifier on a task the project has not measured. Local's
# is the largest weight that kept test accuracy within a point of vanilla's on each of five tasks
# of different kinds over 3 seeds (benchmarks/classifier_weight.py, results/classifier_weight.md:
# 3.0, digits' own measured default, lost up to 7.8 points on a 3-D two-class task); the
# baselines' were measured on digits (benchmarks/results/defaults.md).
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "local": 0.1,
    "global-error": 0.1,
    "global-stiffness": 0.1,
    "taynode": 0.1,
    "rnode": 0.1,
}


class ODEClassifier(TaskModel):
    """Standardise -> linear encoder -> ``NeuralODE`` over ``[0, 1]`` -> linear head."""

    def __init__(self, n_features: int, n_classes: int, *, width: int, hidden: int,
                 mean: torch.Tensor, std: torch.Tensor, solver: SolverSettings):
        super().__init__()
        self.register_buffer("mean", mean.reshape(-1).clone())
        self.register_buffer("std", std.reshape(-1).clone())
        self.encoder = nn.Linear(n_features, width)
        self.block = NeuralODE(TimeMLP(width, hidden), t_span=(0.0, 1.0), **solver.ode_kwargs())
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.flatten(1) - self.mean) / self.std
        return self.head(self.block(self.encoder(x)))


def _features(name: str, split: str, value) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
    if x.ndim < 2:
        raise ValueError(
            f"{name}: {split} X must have a batch dimension and at least one feature dimension, "
            f"got shape {tuple(x.shape)}"
        )
    # The model's parameters are in the default dtype; integer pixels and float64 arrays alike
    # are converted to it.
    return x.to(torch.get_default_dtype())


def _labels(name: str, split: str, value) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value)
    if y.ndim != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(
            f"{name}: {split} y must be a 1-D tensor of integer class labels, got "
            f"{y.dtype} of shape {tuple(y.shape)}"
        )
    if len(y) and int(y.min()) < 0:
        raise ValueError(f"{name}: {split} y has negative class labels")
    return y.long()


class ClassificationTask(Task):
    """A classification task from tensors, trained with the standard neural ODE classifier.

    ``train``, ``val`` and ``test`` are ``(X, y)`` pairs: ``X`` of shape ``(n, ...)`` (flattened to
    features), ``y`` integer labels ``0..C-1``. The search optimises validation accuracy; test data
    is only used for reports. ``width`` is the ODE state size, ``hidden`` the vector field's hidden
    size; ``epochs``, ``batch_size``, ``lr`` and ``weights``/``weight_finals`` (per regularizer)
    are the defaults training uses when a configuration leaves them out.
    """

    quality = "accuracy"
    min_last_gap = 1.0  # the model integrates over t in [0, 1]

    def __init__(
        self,
        *,
        train: tuple,
        val: tuple,
        test: tuple,
        name: str = "classification",
        width: int = 32,
        hidden: int = 64,
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 3e-3,
        weights: Mapping[str, float] | None = None,
        weight_finals: Mapping[str, float] | None = None,
    ):
        pairs = {"train": train, "val": val, "test": test}
        splits = {}
        for split, pair in pairs.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"{name}: {split} must be a pair (X, y)")
            splits[split] = (_features(name, split, pair[0]), _labels(name, split, pair[1]))
        shapes = {s: tuple(x.shape[1:]) for s, (x, _) in splits.items()}
        if len(set(shapes.values())) != 1:
            raise ValueError(f"{name}: X has different feature shapes across splits: {shapes}")
        super().__init__(
            name=name,
            splits=splits,
            defaults=Defaults(
                epochs=epochs, batch_size=batch_size, lr=lr,
                weights={**DEFAULT_WEIGHTS, **(weights or {})},
                weight_finals=dict(weight_finals or {}),
            ),
        )
        self.n_classes = int(max(int(y.max()) for _, y in splits.values())) + 1
        self.width = int(width)
        self.hidden = int(hidden)

    def standardisation(self) -> dict[str, torch.Tensor]:
        """The training split's per-feature ``mean`` and ``std``, the model's input scaling."""
        x = self.splits["train"][0].flatten(1)
        # Constant features (e.g. always-blank pixels) are left unscaled rather than divided by 0.
        std = x.std(dim=0)
        return {"mean": x.mean(dim=0), "std": torch.where(std > 1e-6, std, torch.ones_like(std))}

    def build_model(self, solver: SolverSettings) -> ODEClassifier:
        scaling = self.standardisation()
        return ODEClassifier(len(scaling["mean"]), self.n_classes, width=self.width,
                             hidden=self.hidden, solver=solver, **scaling)

    def loss(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(output, targets)

    def score(self, output: torch.Tensor, targets: torch.Tensor) -> float:
        return float((output.argmax(dim=-1) == targets).sum())
