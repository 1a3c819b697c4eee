"""The interface between an SDE solve and a regularizer.

A regularizer that works on SDEs is a ``SolveHooks`` that is also an ``SDEHooks``. ``solve_sde``
asks it, in this order: is this combination valid (``check_sde``)? which accepted step to keep
(``selector``, shared with the ODE side)? and after the forward solve, the penalty
(``sde_penalty``). Regularizers without SDE hooks are refused by ``solve_sde``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from study.nde.hooks import Penalty
from study.nde.sde_recorder import SDEStepRecorder

# (t0, t1, y0) -> (y_full, y_half): one step-doubling attempt of the solver on the solve's Brownian
# path, with autograd as the caller has it.
Doubling = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class SDESolveContext:
    """What a regularizer sees after an SDE solve.

    ``doubling`` re-takes an attempt exactly as the solver takes it (its step function, the same
    Brownian motion); its drift and diffusion calls count as ``reg_nfe``. ``error_ratio(y_full,
    y_half)`` is the solver's acceptance ratio (differentiable). ``t`` are the solve's times and
    ``ys`` its states there.
    """

    doubling: Doubling
    error_ratio: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    rtol: float
    atol: float
    t: torch.Tensor
    ys: torch.Tensor
    recorder: SDEStepRecorder


class SDEHooks:
    """SDE support for a ``SolveHooks``: no check and no penalty by default."""

    def check_sde(self, *, method: str, adjoint: bool) -> None:
        """Raise ``ValueError`` when this regularizer cannot work with the SDE solve's settings."""

    def sde_penalty(self, ctx: SDESolveContext) -> Penalty:
        return Penalty(ctx.ys.new_zeros(()))
