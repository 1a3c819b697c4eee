"""Local error-estimate regularization: one re-computed solver step at a sampled time.

After the forward solve a time ``t_s`` is sampled, the state ``y_s`` there is taken from the solve
and *detached*, and one step of the solver is re-taken from ``(t_s, y_s)`` with autograd on. The
penalty is that step's error ratio (what the solver accepts steps by) times its size ``h``:
``R = rms(e / (atol + rtol * max(|y_s|, |y_next|))) * h``. No gradient reaches ``y0`` or anything
before ``t_s``, so it composes with any gradient method.

Sampling:

- ``unbiased``: ``t_s ~ Uniform(t0, t1)``; ``y_s`` is the solve's state at ``t_s`` (the dense
  output of an ODE solve, torchsde's linear interpolation between accepted steps for SDEs) and
  ``h`` the size of the accepted step that contains ``t_s`` (the step size in force there;
  clipped at ``t1`` for SDEs, as torchsde clips its own steps).
- ``biased``: ``t_s`` uniform among the start times of the *accepted* steps (never ``t1``); ``y_s``
  and ``h`` are that step's start state and size: the penalty is the solver's own estimate of
  that step. Steps cluster where the dynamics are hard.

ODEs re-take one step of the solver's embedded Runge-Kutta pair (``stages + 1`` evaluations); SDEs
one step-doubling attempt (a full step and two half steps, three solver steps) on the same
Brownian increments the solve used. ``estimate="stiffness"`` (ODEs only) penalises the step's
stiffness estimate ``h * ||k_s - k_{s-1}|| / ||Y_s - Y_{s-1}||`` instead of its error ratio.
"""

from __future__ import annotations

from study.nde.hooks import Penalty, SolveContext, SolveSpec
from study.params import Choice, Option
from study.regularizers.base import Regularizer


class _Unbiased:
    """Keeps the first accepted step containing the pre-sampled time."""

    def __init__(self, t0: float, t1: float):
        import torch

        self.time = t0 + (t1 - t0) * float(torch.rand(()))
        self.found = False

    def __call__(self, start: float, end: float) -> bool:
        if self.found or not start <= self.time <= end:
            return False
        self.found = True
        return True


class _Biased:
    """Reservoir sampling of one accepted step, uniformly, in O(1) memory."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, start: float, end: float) -> bool:
        import torch

        self.seen += 1
        return float(torch.rand(())) * self.seen < 1.0


class Local(Regularizer):
    name = "local"
    solves = ("ode", "sde")
    options = (
        Option("sampling", Choice(("unbiased", "biased")), "unbiased",
               "where the re-taken step starts (uniform time, or an accepted step)"),
        Option("estimate", Choice(("error", "stiffness")), "error",
               "penalise the step's error ratio or its stiffness estimate (ODEs)"),
    )

    def check(self, spec: SolveSpec) -> None:
        super().check(spec)
        if spec.kind == "sde" and self.estimate != "error":
            raise ValueError(
                f"the local regularizer's estimate={self.estimate!r} needs Runge-Kutta stages, "
                "which SDE solvers do not have: use estimate='error' for SDEs"
            )

    def selector(self, t0: float, t1: float):
        if not t1 > t0:
            raise ValueError("the local regularizer needs increasing integration times")
        self._pick = _Unbiased(t0, t1) if self.sampling == "unbiased" else _Biased()
        return self._pick

    def penalty(self, ctx: SolveContext) -> Penalty:
        import torch

        chosen = ctx.selected
        if chosen is None:  # no accepted step (cannot happen for t1 > t0)
            return Penalty(ctx.ys.new_zeros(()))
        # (t_s, y_s, h) are constants: even the step size depends on y0 through the solver's
        # initial-step heuristic, and no gradient may reach the past of the solve.
        t0, t1 = chosen.t0.detach(), chosen.t1.detach()
        h = t1 - t0
        if self.sampling == "unbiased":
            t_s = torch.as_tensor(self._pick.time, dtype=t0.dtype, device=t0.device)
            y_s, end = ctx.state_at(chosen, t_s).detach(), None
        else:
            t_s, y_s, end = t0, chosen.y0.detach(), t1
        with torch.enable_grad():
            step = ctx.retake(t_s, y_s, h, end)
            size = ctx.error_ratio(step) if self.estimate == "error" else ctx.stiffness(step)
            value = size * step.h.to(size.dtype)
        return Penalty(value, time=float(t_s), step=float(step.h), state=y_s)
