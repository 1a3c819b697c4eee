"""RNODE: kinetic energy ``int ||f||^2 dt`` plus Jacobian Frobenius norm ``int ||df/dy||_F^2 dt``.

The Frobenius norm is a Hutchinson estimate ``||eps^T df/dy||^2`` with one Gaussian draw ``eps``
per solve. Both integrals are extra states (means over the state's elements) that do not drive
step-size control; ``kinetic`` and ``jacobian`` weight the two parts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from study.nde.hooks import Augmentation, Penalty, SolveContext
from study.params import NON_NEGATIVE, Option
from study.regularizers.base import Regularizer

if TYPE_CHECKING:
    import torch


class RNODE(Regularizer):
    name = "rnode"
    options = (
        Option("kinetic", NON_NEGATIVE, 1.0, "weight of the kinetic energy"),
        Option("jacobian", NON_NEGATIVE, 1.0, "weight of the Jacobian Frobenius norm"),
    )

    def augment(self, field: Callable, y0: torch.Tensor) -> Augmentation:
        import torch

        eps = torch.randn_like(y0)

        def dynamics(t: torch.Tensor, state: tuple) -> tuple:
            y = state[0]
            # Backpropagation through the solver (grad mode on) differentiates through y itself.
            # The adjoint's forward solve runs without grad mode, where y can be a view of a
            # tensor that requires grad, flagged requires_grad yet outside any graph: differentiate
            # with respect to a detached copy there.
            connected = torch.is_grad_enabled() and y.requires_grad
            with torch.enable_grad():
                y_in = y if connected else y.detach().requires_grad_(True)
                f = field(t, y_in)
                (eps_jac,) = torch.autograd.grad(f, y_in, eps, create_graph=True)
            return f, f.pow(2).mean(), eps_jac.pow(2).mean()

        return dynamics, (y0.new_zeros(()), y0.new_zeros(()))

    def penalty(self, ctx: SolveContext) -> Penalty:
        kinetic, frobenius = ctx.extra
        return Penalty(self.kinetic * kinetic + self.jacobian * frobenius)
