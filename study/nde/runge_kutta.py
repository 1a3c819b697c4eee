"""Embedded Runge-Kutta pairs and one differentiable step with its local error estimate.

The local regularizer re-takes one solver step with autograd on; this module is that step. It is
written from the tableau (``c``, ``a``, ``b`` and the error weights ``e = b - b~``), so any
embedded pair works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tableau:
    """An embedded explicit Runge-Kutta pair: nodes ``c`` (after the first, which is 0), rows
    ``a`` of the Runge-Kutta matrix, solution weights ``b`` and error weights ``e``."""

    name: str
    order: int
    c: torch.Tensor
    a: list[torch.Tensor]
    b: torch.Tensor
    e: torch.Tensor

    @property
    def evaluations(self) -> int:
        """Vector-field calls of one step started from scratch (no first-same-as-last reuse)."""
        return len(self.c) + 1


@dataclass
class Step:
    """One Runge-Kutta step: stage inputs ``ys`` and outputs ``ks`` (``ks[0] = f(t0, y0)``)."""

    y1: torch.Tensor
    error: torch.Tensor
    ys: list[torch.Tensor]
    ks: list[torch.Tensor]


def combine(weights: torch.Tensor, ks: list[torch.Tensor]) -> torch.Tensor:
    """``sum_i weights[i] * ks[i]``, skipping zero weights."""
    total = torch.zeros_like(ks[0])
    for w, k in zip(weights.tolist(), ks):
        if w != 0.0:
            total = total + w * k
    return total


def rk_step(field: Callable, t0: torch.Tensor, y0: torch.Tensor, h: torch.Tensor,
            tab: Tableau) -> Step:
    """Take one step of ``tab`` from ``(t0, y0)`` with size ``h``; differentiable throughout."""
    h_y = h.to(y0.dtype)
    ks = [field(t0.to(y0.dtype), y0)]
    ys = [y0]
    for c_i, a_i in zip(tab.c.tolist(), tab.a):
        y_i = y0 + h_y * combine(a_i, ks)
        ks.append(field((t0 + c_i * h).to(y0.dtype), y_i))
        ys.append(y_i)
    fsal = tab.b[-1] == 0 and torch.equal(tab.b[:-1], tab.a[-1])
    y1 = ys[-1] if fsal else y0 + h_y * combine(tab.b, ks)
    error = h_y * combine(tab.e, ks)
    return Step(y1=y1, error=error, ys=ys, ks=ks)


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(x)`` of a non-negative ``x`` whose gradient is 0, not NaN, where ``x`` is 0.

    ``x.sqrt()`` backpropagates ``0 * inf = NaN`` from an exactly zero ``x`` (a re-taken step
    whose error is exactly 0: a step shortened to nothing at the end of the span, or dynamics
    the step integrates exactly), and one NaN gradient makes every parameter NaN. Below the
    smallest normal float the value is ``sqrt`` of that float instead (``~1e-19`` in float32), so
    every other value is unchanged bit for bit."""
    return x.clamp_min(torch.finfo(x.dtype).tiny).sqrt()


def error_ratio(error: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor, rtol: float,
                atol: float, norm: Callable | None = None) -> torch.Tensor:
    """The ratio an adaptive solver accepts a step by (``<= 1``): ``norm(e / (atol + rtol *
    max(|y0|, |y1|)))``, RMS over all elements by default."""
    scaled = error / (atol + rtol * torch.maximum(y0.abs(), y1.abs()))
    if norm is None:
        return safe_sqrt(scaled.pow(2).mean())
    return norm(scaled)


def stiffness_estimate(ys: list[torch.Tensor], ks: list[torch.Tensor]) -> torch.Tensor:
    """Dominant-eigenvalue (Lipschitz) estimate from the last two stages of a step,
    ``||k_s - k_{s-1}|| / ||Y_s - Y_{s-1}||`` (Hairer & Wanner's stiffness test for dopri5)."""
    dk = torch.linalg.vector_norm(ks[-1] - ks[-2])
    dy = torch.linalg.vector_norm(ys[-1] - ys[-2])
    return dk / dy.clamp_min(torch.finfo(dy.dtype).tiny)
