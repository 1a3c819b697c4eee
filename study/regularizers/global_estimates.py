"""Global baselines on the solver's own heuristics, summed over *every* accepted step.

- ``global-error`` (ERNODE): ``sum_j E_j * |h_j|``, ``E_j`` the error ratio of step ``j``.
- ``global-stiffness`` (SRNODE): ``sum_j S_j * |h_j|``, ``S_j`` the step's stiffness estimate.

Both differentiate through the whole solve (discrete sensitivities), so they cannot be combined
with the continuous adjoint, whose forward pass keeps no graph.
"""

from __future__ import annotations

import torch

from study.nde.hooks import Penalty, SolveContext
from study.nde.tableau import combine, error_ratio, stiffness_estimate
from study.regularizers.base import Regularizer
from study.regularizers.sde import GlobalErrorSDE


class _Global(Regularizer):
    keep_stages = True

    def check(self, *, method: str, adjoint: bool | str) -> None:
        if adjoint:
            raise ValueError(
                f"the {self.name} regularizer differentiates through every solver step and cannot "
                f"be combined with the continuous adjoint (adjoint={adjoint!r}): use adjoint=False "
                "(backpropagation through the solver), or the 'local' regularizer, which works "
                "with any gradient method"
            )

    def step_size(self, ctx: SolveContext, h: torch.Tensor, ys, ks, y1) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self, ctx: SolveContext) -> Penalty:
        total = ctx.ys.new_zeros(())
        for rec in ctx.recorder.recorded:
            value = self.step_size(ctx, rec.h, rec.ys, rec.ks, rec.y1)
            total = total + value * rec.h.abs().to(value.dtype)
        return Penalty(total)


class GlobalError(_Global, GlobalErrorSDE):
    name = "global-error"

    def step_size(self, ctx, h, ys, ks, y1):
        error = combine(ctx.tableau.e, ks) * h.to(ks[0].dtype)
        return error_ratio(error, ys[0], y1, ctx.rtol, ctx.atol, ctx.norm)


class GlobalStiffness(_Global):
    name = "global-stiffness"

    def step_size(self, ctx, h, ys, ks, y1):
        return stiffness_estimate(ys, ks)
