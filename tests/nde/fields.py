"""Small vector fields shared by the solver and regularizer tests."""

import torch
from torch import nn


class MLPField(nn.Module):
    """A time-dependent tanh MLP, ``f(t, y)``."""

    def __init__(self, dim: int = 2, hidden: int = 8, scale: float = 1.0, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.lin1 = nn.Linear(dim + 1, hidden)
        self.lin2 = nn.Linear(hidden, dim)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * scale / p.shape[-1] ** 0.5)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        tt = t.expand(*y.shape[:-1], 1).to(y.dtype)
        return self.lin2(torch.tanh(self.lin1(torch.cat([y, tt], dim=-1))))


class LinearField(nn.Module):
    """``f(y) = a * y`` with a learnable scalar ``a``."""

    def __init__(self, a: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.a * y
