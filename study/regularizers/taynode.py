"""TayNODE: penalise the K-th total time derivative of the trajectory, ``int ||d^K y/dt^K||^2 dt``.

The derivatives come from nested forward-mode ``torch.func.jvp`` along the flow:
``y' = f``, ``y'' = df/dt + (df/dy) f``, and each further order differentiates the previous one
along ``(1, f)``. The integral is an extra state (mean over the state's elements) that does not
drive step-size control. Training is expensive -- that is the point of the comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from study.nde.hooks import Augmentation, Penalty, SolveContext
from study.params import Choice, Option
from study.regularizers.base import Regularizer

if TYPE_CHECKING:
    import torch


def total_derivative(field: Callable, order: int) -> Callable:
    """``g(t, y)`` = the ``order``-th time derivative of a solution of ``dy/dt = field(t, y)``
    passing through ``y`` at ``t`` (``order=1`` is ``field`` itself)."""
    import torch
    from torch.func import jvp

    if order == 1:
        return field
    lower = total_derivative(field, order - 1)

    def derivative(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        f = field(t, y)
        _, out = jvp(lower, (t, y), (torch.ones_like(t), f))
        return out

    return derivative


class TayNODE(Regularizer):
    name = "taynode"
    options = (
        Option("order", Choice((2, 3)), 2, "order K of the penalised derivative"),
    )

    def augment(self, field: Callable, y0: torch.Tensor) -> Augmentation:
        import torch
        from torch.func import jvp

        lower = total_derivative(field, self.order - 1)

        def dynamics(t: torch.Tensor, state: tuple) -> tuple:
            y = state[0]
            f = field(t, y)
            _, d_k = jvp(lower, (t, y), (torch.ones_like(t), f))
            return f, d_k.pow(2).mean()

        return dynamics, (y0.new_zeros(()),)

    def penalty(self, ctx: SolveContext) -> Penalty:
        return Penalty(ctx.extra[0])
