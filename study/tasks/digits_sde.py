"""``digits-sde``: the digits classifier with a neural SDE block, predictions averaged over paths.

Data and splits are those of ``digits`` (scikit-learn's bundled 8x8 digits). The model is the
standard classifier with the ODE block replaced by a neural SDE: standardise -> linear encoder ->
SDE over ``t in [0, 1]`` (drift: the time-dependent tanh MLP of the ODE classifier; additive
noise, a learned diagonal ``NOISE * sigmoid(s)`` per state element) -> linear head. Each input is
integrated along ``samples`` independent Brownian paths (one solve of ``samples * batch``
states); the prediction is the mean of the class probabilities over the paths, in training and in
evaluation. Loss: the negative log of that mean probability of the true class; quality: accuracy.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from study.nde import NeuralSDE
from study.tasks.base import SolverSettings, TaskModel
from study.tasks.classification import ClassificationTask
from study.tasks.digits import Digits
from study.tasks.fields import TimeMLP

NOISE = 0.5
SAMPLES = 4
# Default weights, measured with benchmarks/compare_sde.py (benchmarks/results/defaults.md).
DEFAULTS = {
    "epochs": 8,
    "batch_size": 128,
    "lr": 3e-3,
    "weights": {"local": 5.0, "global-error": 0.1},
}


class ClassifierSDE(nn.Module):
    """Drift ``TimeMLP``; additive noise with a learned diagonal scale in ``(0, NOISE)``."""

    noise_type = "additive"
    sde_type = "ito"

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.drift = TimeMLP(width, hidden)
        self.scale = nn.Parameter(torch.zeros(width))

    def f(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.drift(t, z)

    def g(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.diag_embed(NOISE * torch.sigmoid(self.scale)).expand(len(z), -1, -1)


class SDEClassifier(TaskModel):
    """Standardise -> encoder -> ``NeuralSDE`` along ``samples`` paths -> head; returns the log of
    the path-averaged class probabilities."""

    def __init__(self, n_features: int, n_classes: int, *, width: int, hidden: int, samples: int,
                 mean: torch.Tensor, std: torch.Tensor, solver: SolverSettings):
        super().__init__()
        self.register_buffer("mean", mean.reshape(-1).clone())
        self.register_buffer("std", std.reshape(-1).clone())
        self.samples = samples
        self.encoder = nn.Linear(n_features, width)
        self.block = NeuralSDE(ClassifierSDE(width, hidden), t_span=(0.0, 1.0),
                               **solver.ode_kwargs())
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z0 = self.encoder((x.flatten(1) - self.mean) / self.std)
        z1 = self.block(z0.repeat(self.samples, 1))
        log_probs = self.head(z1).log_softmax(dim=-1).reshape(self.samples, len(x), -1)
        return log_probs.logsumexp(dim=0) - math.log(self.samples)


class DigitsSDE(ClassificationTask, registered="digits-sde"):
    """The ``digits`` data with ``SDEClassifier``; ``samples`` paths per input."""

    def __init__(self, *, samples: int = SAMPLES, **kwargs):
        super().__init__(**{**DEFAULTS, **kwargs})
        self.samples = int(samples)

    @classmethod
    def load(cls, *, seed: int, data_dir: str | Path | None = None) -> DigitsSDE:
        digits = Digits.load(seed=seed)
        return cls(name="digits-sde", **digits.splits)

    def build_model(self, solver: SolverSettings) -> SDEClassifier:
        scaling = self.standardisation()
        return SDEClassifier(len(scaling["mean"]), self.n_classes, width=self.width,
                             hidden=self.hidden, samples=self.samples, solver=solver, **scaling)

    def loss(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.nll_loss(output, targets)

