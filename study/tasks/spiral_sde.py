"""``spiral-sde``: fit a neural SDE to the cubic spiral SDE by matching moments (generated data).

The true SDE (Ito, diagonal noise): drift ``((u^3)^T A)^T`` with ``A = [[-0.1, 2], [-2, -0.1]]``,
diffusion ``0.2 * u``, ``u(0) = (2, 0)``, observed at 30 equally spaced times in ``[0, 1]``. A pool
of sample paths is simulated once from a fixed seed (SRK at tolerance 1e-4, float64); a fixed
quarter is the test split, the seed splits the rest 2:1 into train and val.

An example is one path: input ``u(0)``, target the path at the 30 times. The model is a neural
SDE with the true model's structure but learned parts: drift ``MLP(u^3)``, diagonal diffusion
``Linear(u)``; for a batch it samples as many paths as the batch has, all from ``u(0)``. Loss and
quality: the mean squared difference of the batch's per-time mean and variance, model paths
against data paths (``moment_mse``); quality is its mean over the split's batches.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchsde
from torch import nn

from study.nde import NeuralSDE, solve_sde
from study.tasks.base import Defaults, SolverSettings, Task, TaskModel, split_indices

A = ((-0.1, 2.0), (-2.0, -0.1))
SIGMA = 0.2
U0 = (2.0, 0.0)
N_TIMES = 30
N_PATHS = 4096
DATA_SEED = 11
DATA_TOL = 1e-4

# Default weights, measured with benchmarks/compare_sde.py (benchmarks/results/defaults.md).
DEFAULTS = Defaults(
    epochs=20,
    batch_size=256,
    lr=3e-2,
    weights={"local": 1.5, "global-error": 0.1},
)


class CubicSpiral(nn.Module):
    """The true SDE of the module docstring."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self):
        super().__init__()
        self.register_buffer("a", torch.tensor(A, dtype=torch.float64))

    def f(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return u.pow(3) @ self.a.to(u.dtype)

    def g(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return SIGMA * u


def generate(n: int = N_PATHS, *, seed: int = DATA_SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """``(times, paths)``: the 30 observation times and ``n`` sample paths ``(n, 30, 2)``."""
    times = torch.linspace(0.0, 1.0, N_TIMES, dtype=torch.float64)
    u0 = torch.tensor([U0], dtype=torch.float64).expand(n, 2).contiguous()
    bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(n, 2), dtype=torch.float64,
                                   entropy=seed, levy_area_approximation="space-time")
    with torch.no_grad():
        paths, _ = solve_sde(CubicSpiral(), u0, times, method="srk", rtol=DATA_TOL,
                             atol=DATA_TOL, bm=bm, first_step=0.01)
    return times.float(), paths.transpose(0, 1).float()


def moment_mse(paths: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of per-time means and variances of two path batches
    ``(batch, times, state)``."""
    def moments(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=0), x.var(dim=0)], dim=-1)

    return (moments(paths) - moments(targets)).pow(2).mean()


class SpiralNeuralSDE(nn.Module):
    """Drift ``MLP(u^3)``, diagonal diffusion ``Linear(u)``."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, hidden: int):
        super().__init__()
        self.drift = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        self.diffusion = nn.Linear(2, 2)

    def f(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.drift(u.pow(3))

    def g(self, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.diffusion(u)


class PathSampler(TaskModel):
    """Samples one path of the neural SDE per initial state: ``(batch, times, 2)``."""

    def __init__(self, times: torch.Tensor, *, hidden: int, solver: SolverSettings):
        super().__init__()
        self.register_buffer("times", times.clone())
        self.block = NeuralSDE(SpiralNeuralSDE(hidden), t_span=(0.0, 1.0), **solver.ode_kwargs())

    def forward(self, u0: torch.Tensor) -> torch.Tensor:
        return self.block(u0, self.times.to(u0.dtype)).transpose(0, 1)


class SpiralSDE(Task, registered="spiral-sde"):
    def __init__(self, *, seed: int, n: int = N_PATHS, hidden: int = 32,
                 defaults: Defaults = DEFAULTS):
        times, paths = generate(n)
        u0 = torch.tensor([U0]).expand(n, 2).contiguous()
        idx = split_indices(n, seed=seed, val_fraction=1 / 3, test_fraction=0.25)
        splits = {s: (u0[torch.as_tensor(i)], paths[torch.as_tensor(i)]) for s, i in idx.items()}
        super().__init__(name="spiral-sde", splits=splits, defaults=defaults)
        self.times = times
        self.hidden = hidden

    @classmethod
    def load(cls, *, seed: int, data_dir: str | Path | None = None) -> SpiralSDE:
        return cls(seed=seed)

    def build_model(self, solver: SolverSettings) -> PathSampler:
        return PathSampler(self.times, hidden=self.hidden, solver=solver)

    def loss(self, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return moment_mse(output, targets)

    def score(self, output: torch.Tensor, targets: torch.Tensor) -> float:
        return float(moment_mse(output, targets)) * len(output)
