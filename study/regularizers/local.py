"""Local error-estimate regularization: one re-computed solver step at a sampled time.

After the forward solve a time ``t_s`` is sampled, the state ``y_s`` there is taken from the solve
and *detached*, and one step of the solver's own embedded pair is re-taken from ``(t_s, y_s)``
with autograd on. The penalty is that step's error ratio (what the solver accepts steps by)
times its size ``h``: ``R = rms(e / (atol + rtol * max(|y_s|, |y_next|))) * h``. No gradient
reaches ``y0`` or anything before ``t_s``, so it composes with any gradient method.

Sampling:

- ``unbiased``: ``t_s ~ Uniform(t0, t1)``; ``y_s`` is the solve's dense output at ``t_s`` and ``h``
  the size of the accepted step that contains ``t_s`` (the step size in force there).
- ``biased``: ``t_s`` uniform among the start times of the *accepted* steps (never ``t1``); ``y_s``
  and ``h`` are that step's start state and size. Steps cluster where the dynamics are hard.

``estimate="stiffness"`` penalises the step's stiffness estimate ``h * ||k_s - k_{s-1}|| /
||Y_s - Y_{s-1}||`` instead of its error ratio.
"""

from __future__ import annotations

import torch

from study.nde import _torchdiffeq
from study.nde.hooks import Penalty, SolveContext
from study.nde.tableau import error_ratio, rk_step, stiffness_estimate
from study.regularizers.base import Regularizer, choice
from study.regularizers.sde import LocalSDE

SAMPLINGS = ("unbiased", "biased")
ESTIMATES = ("error", "stiffness")


class _Unbiased:
    """Keeps the first accepted step containing the pre-sampled time."""

    def __init__(self, t0: float, t1: float):
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
        self.seen += 1
        return float(torch.rand(())) * self.seen < 1.0


class Local(Regularizer, LocalSDE):
    name = "local"

    def __init__(self, *, sampling: str = "unbiased", estimate: str = "error"):
        self.sampling = choice("sampling", sampling, SAMPLINGS)
        self.estimate = choice("estimate", estimate, ESTIMATES)
        self._pick: _Unbiased | _Biased | None = None

    def options(self) -> dict[str, object]:
        return {"sampling": self.sampling, "estimate": self.estimate}

    def selector(self, t0: float, t1: float):
        if not t1 > t0:
            raise ValueError("the local regularizer needs increasing integration times")
        self._pick = _Unbiased(t0, t1) if self.sampling == "unbiased" else _Biased()
        return self._pick

    def penalty(self, ctx: SolveContext) -> Penalty:
        chosen = ctx.recorder.selected
        if chosen is None:  # no accepted step (cannot happen for t1 > t0)
            return Penalty(ctx.ys.new_zeros(()))
        # (t_s, y_s, h) are constants: even the step size depends on y0 through the solver's
        # initial-step heuristic, and no gradient may reach the past of the solve.
        t0, t1 = chosen.t0.detach(), chosen.t1.detach()
        h = t1 - t0
        if isinstance(self._pick, _Unbiased):
            t_s = torch.as_tensor(self._pick.time, dtype=t0.dtype, device=t0.device)
            y_s = _torchdiffeq.interpolate([c.detach() for c in chosen.interp], t0, t1, t_s)
        else:
            t_s, y_s = t0, chosen.y0.detach()
        with torch.enable_grad():
            step = rk_step(ctx.field, t_s, y_s, h, ctx.tableau)
            if self.estimate == "error":
                size = error_ratio(step.error, y_s, step.y1, ctx.rtol, ctx.atol, ctx.norm)
            else:
                size = stiffness_estimate(step.ys, step.ks)
            value = size * h.to(size.dtype)
        return Penalty(value, time=float(t_s), step=float(h), state=y_s)
