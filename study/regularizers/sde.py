"""The SDE side of the regularizers that support SDE solves (``local`` and ``global-error``).

torchsde's adaptive stepping is step doubling: an attempt ``t -> t + h`` takes one full step and
two half steps on the same Brownian increments and accepts when their tolerance-scaled RMS
difference ``E = rms((y_full - y_half) / (atol + rtol * max(|y_full|, |y_half|)))`` is at most 1.
Both regularizers penalise ``E * h``, the same quantity as on the ODE side:

- ``local``: after the solve, from a sampled ``(t_s, y_s)`` taken as constants, one attempt is
  re-taken with the solver's own step function on the solve's Brownian motion (so the increments
  are the ones the solve used there), with autograd on. *Biased*: ``t_s`` uniform among accepted
  step starts, ``y_s`` and ``h`` that step's start state and size: the penalty equals the
  solver's own error estimate of that step. *Unbiased*: ``t_s ~ Uniform(t0, t1)``, ``y_s`` the
  solve's state there (torchsde's linear interpolation between accepted steps), ``h`` the size
  of the accepted step containing ``t_s``, clipped at ``t1`` as the solver clips its own steps.
  Cost: three solver steps plus their backward; any gradient method (also ``sdeint_adjoint``).
- ``global-error``: ``sum_j E_j * h_j`` over every accepted attempt, differentiated through the
  whole solve; refused with the adjoint, whose forward pass keeps no graph.
"""

from __future__ import annotations

import torch

from study.nde.hooks import Penalty
from study.nde.sde_hooks import SDEHooks, SDESolveContext


class LocalSDE(SDEHooks):
    """SDE hooks of ``Local``: uses its ``sampling``/``estimate`` options and its selector."""

    def check_sde(self, *, method: str, adjoint: bool) -> None:
        if self.estimate != "error":
            raise ValueError(
                f"the local regularizer's estimate={self.estimate!r} needs Runge-Kutta stages, "
                "which SDE solvers do not have: use estimate='error' for SDEs"
            )

    def sde_penalty(self, ctx: SDESolveContext) -> Penalty:
        chosen = ctx.recorder.selected
        if chosen is None:  # no accepted step (cannot happen for increasing times)
            return Penalty(ctx.ys.new_zeros(()))
        t0, t1 = chosen.t0.detach(), chosen.t1.detach()
        if self.sampling == "unbiased":
            t_s = torch.as_tensor(self._pick.time, dtype=t0.dtype, device=t0.device)
            # torchsde's output between accepted steps: linear interpolation
            y_s = ((t1 - t_s) / (t1 - t0) * chosen.y0 + (t_s - t0) / (t1 - t0) * chosen.y_half)
            y_s = y_s.detach()
            end = torch.minimum(t_s + (t1 - t0), ctx.t[-1].detach().to(t0.dtype))
        else:
            t_s, y_s, end = t0, chosen.y0.detach(), t1
        with torch.enable_grad():
            y_full, y_half = ctx.doubling(t_s, end, y_s)
            h = end - t_s
            value = ctx.error_ratio(y_full, y_half) * h.to(y_full.dtype)
        return Penalty(value, time=float(t_s), step=float(h), state=y_s)


class GlobalErrorSDE(SDEHooks):
    """SDE hooks of ``GlobalError`` (which keeps every accepted step with its graph)."""

    def check_sde(self, *, method: str, adjoint: bool) -> None:
        self.check(method=method, adjoint=adjoint)

    def sde_penalty(self, ctx: SDESolveContext) -> Penalty:
        total = ctx.ys.new_zeros(())
        for step in ctx.recorder.recorded:
            h = (step.t1 - step.t0).abs().to(total.dtype)
            total = total + ctx.error_ratio(step.y_full, step.y_half) * h
        return Penalty(total)
