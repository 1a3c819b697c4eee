"""Global baselines on the solver's own heuristics, summed over *every* accepted step.

- ``global-error`` (ERNODE): ``sum_j E_j * |h_j|``, ``E_j`` the error ratio of step ``j`` (for
  SDEs torchsde's step-doubling ratio, the same quantity the local regularizer samples);
- ``global-stiffness`` (SRNODE): ``sum_j S_j * |h_j|``, ``S_j`` the step's stiffness estimate
  from its Runge-Kutta stages (ODE solves only).

Both differentiate through the whole solve (discrete sensitivities), so they cannot be combined
with the continuous adjoint, whose forward pass keeps no graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from study.nde.hooks import Penalty, SolveContext, SolveSpec, Step
from study.regularizers.base import Regularizer

if TYPE_CHECKING:
    import torch


class _Global(Regularizer):
    keep_steps = True

    def check(self, spec: SolveSpec) -> None:
        super().check(spec)
        if spec.adjoint:
            raise ValueError(
                f"the {self.name} regularizer differentiates through every solver step and cannot "
                f"be combined with the continuous adjoint (adjoint={spec.adjoint!r}): use "
                "adjoint=False (backpropagation through the solver), or the 'local' regularizer, "
                "which works with any gradient method"
            )

    def measure(self, ctx: SolveContext, step: Step) -> torch.Tensor:
        raise NotImplementedError

    def penalty(self, ctx: SolveContext) -> Penalty:
        total = ctx.ys.new_zeros(())
        for step in ctx.kept:
            value = self.measure(ctx, step)
            total = total + value * step.h.abs().to(value.dtype)
        return Penalty(total)


class GlobalError(_Global):
    name = "global-error"
    solves = ("ode", "sde")

    def measure(self, ctx: SolveContext, step: Step) -> torch.Tensor:
        return ctx.error_ratio(step)


class GlobalStiffness(_Global):
    name = "global-stiffness"

    def measure(self, ctx: SolveContext, step: Step) -> torch.Tensor:
        return ctx.stiffness(step)
