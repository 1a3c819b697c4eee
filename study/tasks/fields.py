"""Learned vector fields shared by the tasks."""

from __future__ import annotations

import torch
from torch import nn


class TimeMLP(nn.Module):
    """``f(t, y)``: a one-hidden-layer tanh MLP of ``[y, t]`` (time-dependent) or of ``y`` alone
    (``time=False``, autonomous dynamics for extrapolation in time)."""

    def __init__(self, width: int, hidden: int, *, time: bool = True):
        super().__init__()
        self.time = time
        self.inner = nn.Linear(width + int(time), hidden)
        self.outer = nn.Linear(hidden, width)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.time:
            y = torch.cat([y, t.expand(*y.shape[:-1], 1)], dim=-1)
        return self.outer(torch.tanh(self.inner(y)))
