"""RNODE: kinetic energy ``int ||f||^2 dt`` plus Jacobian Frobenius norm ``int ||df/dy||_F^2 dt``.

The Frobenius norm is a Hutchinson estimate ``||eps^T df/dy||^2`` with one Gaussian draw ``eps``
per solve. Both integrals are extra states (means over the state's elements) that do not drive
step-size control; ``kinetic`` and ``jacobian`` weight the two parts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from study.nde.hooks import Augmentation, Penalty, SolveContext
from study.regularizers.base import Regularizer


def _non_negative(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}") from None
    if not number >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return number


class RNODE(Regularizer):
    name = "rnode"

    def __init__(self, *, kinetic: float = 1.0, jacobian: float = 1.0):
        self.kinetic = _non_negative("kinetic", kinetic)
        self.jacobian = _non_negative("jacobian", jacobian)

    def options(self) -> dict[str, object]:
        return {"kinetic": self.kinetic, "jacobian": self.jacobian}

    def augment(self, field: Callable, y0: torch.Tensor) -> Augmentation:
        eps = torch.randn_like(y0)

        def dynamics(t: torch.Tensor, state: tuple) -> tuple:
            y = state[0]
            with torch.enable_grad():
                y_in = y if y.requires_grad else y.detach().requires_grad_(True)
                f = field(t, y_in)
                (eps_jac,) = torch.autograd.grad(f, y_in, eps, create_graph=True)
            return f, f.pow(2).mean(), eps_jac.pow(2).mean()

        return dynamics, (y0.new_zeros(()), y0.new_zeros(()))

    def penalty(self, ctx: SolveContext) -> Penalty:
        kinetic, frobenius = ctx.extra
        return Penalty(self.kinetic * kinetic + self.jacobian * frobenius)
