"""Small SDEs shared by the SDE solver and regularizer tests (torchsde's convention)."""

import torch
from torch import nn

from study.nde import _torchsde
from tests.nde.fields import MLPField


class MLPSDE(nn.Module):
    """Drift: a tanh MLP; diffusion: ``sigma * y`` (diagonal noise) with a learnable ``sigma``."""

    noise_type = "diagonal"

    def __init__(self, sde_type: str = "ito", scale: float = 2.0, sigma: float = 0.3,
                 seed: int = 0):
        super().__init__()
        self.sde_type = sde_type
        self.drift = MLPField(scale=scale, seed=seed)
        self.sigma = nn.Parameter(torch.tensor(sigma))

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.drift(t, y)

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.sigma * y


def y0(n: int = 8, dim: int = 2, seed: int = 1, requires_grad: bool = False) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen, dtype=torch.float64).requires_grad_(requires_grad)


def times(n: int = 3) -> torch.Tensor:
    return torch.linspace(0.0, 1.0, n, dtype=torch.float64)


def brownian(method: str = "milstein", entropy: int = 0):
    """A queryable Brownian motion on [0, 1] for a batch of 8 two-dimensional states."""
    return _torchsde.brownian(method, "ito", 0.0, 1.0, (8, 2), torch.float64,
                              torch.device("cpu"), entropy)

