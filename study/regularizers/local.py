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

Variants, off by default (the defaults are the published method, bit for bit):

- ``samples=K``: ``K`` time points drawn independently (with replacement: two may share a step),
  one re-taken step each, and the penalty is the *mean* of their ``R``, an estimate of the same
  expectation as one sample with less variance, so a weight means the same for every ``K``. It
  costs ``K`` re-taken steps. ``Penalty.time``/``step``/``state`` describe the first sample.
- ``norm="per-sample"``: the error ratio is the RMS over each batch element's state (the first
  dimension is the batch), then the mean over the batch, instead of one RMS over the whole batch
  array (the solver's own norm, ``"batch"``). A batch element with a large error then counts by
  its own size rather than diluted by the batch; ``estimate="stiffness"`` has no per-sample form.
- ``objective="steps"``: instead of ``R = r * h``, the number of steps the solver's controller
  would take, estimated from the sampled step: a step ``h`` at ratio ``r`` would be
  ``h * r ** (-1 / q)`` at ratio 1 (``q`` the power of ``h`` the ratio grows with:
  ``SolveContext.error_order``), so ``S = (t1 - t0) * r ** (1 / q) / h`` for an unbiased time
  (``E[S]`` is the integral of the step density over the solve) and ``S = N * r ** (1 / q)`` for a
  biased one (``N`` accepted steps). Its gradient ``dS = S / (q r) dr`` weighs ``dr`` by ``1 / h``
  where ``R``'s weighs it by ``h``: where steps are short, and many, it pushes hardest, where the
  published penalty pushes least. Its scale is steps, not error: weights are not comparable.
"""

from __future__ import annotations

from study.nde.hooks import Penalty, SolveContext, SolveSpec
from study.params import Choice, Integer, Option
from study.regularizers.base import Regularizer


class _Unbiased:
    """Pre-samples ``samples`` times; each slot keeps the first accepted step containing its
    time."""

    def __init__(self, t0: float, t1: float, samples: int):
        import torch

        self.times = [t0 + (t1 - t0) * float(torch.rand(())) for _ in range(samples)]
        self.found = [False] * samples

    def __call__(self, start: float, end: float) -> list[int]:
        slots = [k for k, time in enumerate(self.times)
                 if not self.found[k] and start <= time <= end]
        for k in slots:
            self.found[k] = True
        return slots


class _Biased:
    """Reservoir sampling of one accepted step per slot, uniformly and independently, in O(1)
    memory per slot."""

    def __init__(self, samples: int) -> None:
        self.samples = samples
        self.seen = 0

    def __call__(self, start: float, end: float) -> list[int]:
        import torch

        self.seen += 1
        return [k for k in range(self.samples) if float(torch.rand(())) * self.seen < 1.0]


def per_sample_rms(scaled):
    """The RMS over each batch element (first dimension) of ``scaled``, then the batch mean."""
    if scaled.ndim < 2:
        raise ValueError("the local regularizer's norm='per-sample' needs a batch dimension: "
                         f"the state has shape {tuple(scaled.shape)}, (batch, ...) is needed")
    from study.nde.runge_kutta import safe_sqrt  # torch: not at import (light commands)

    return safe_sqrt(scaled.flatten(1).pow(2).mean(dim=1)).mean()


class Local(Regularizer):
    name = "local"
    solves = ("ode", "sde")
    options = (
        Option("sampling", Choice(("unbiased", "biased")), "unbiased",
               "where the re-taken step starts (uniform time, or an accepted step)"),
        Option("estimate", Choice(("error", "stiffness")), "error",
               "penalise the step's error ratio or its stiffness estimate (ODEs)"),
        Option("samples", Integer(1, 64), 1,
               "time points sampled per solve, one re-taken step each; the penalty is their mean"),
        Option("norm", Choice(("batch", "per-sample")), "batch",
               "error norm: RMS over the whole batch (the solver's), or per sample then mean"),
        Option("objective", Choice(("error", "steps")), "error",
               "penalise the error ratio times h (the paper's), or the steps it predicts"),
    )

    def check(self, spec: SolveSpec) -> None:
        super().check(spec)
        if spec.kind == "sde" and self.estimate != "error":
            raise ValueError(
                f"the local regularizer's estimate={self.estimate!r} needs Runge-Kutta stages, "
                "which SDE solvers do not have: use estimate='error' for SDEs"
            )
        if self.objective != "error" and self.estimate != "error":
            raise ValueError(
                f"the local regularizer's objective={self.objective!r} predicts steps from the "
                "error ratio: use estimate='error' with it, or objective='error'"
            )
        if self.norm != "batch" and self.estimate != "error":
            raise ValueError(
                f"the local regularizer's norm={self.norm!r} applies to the error estimate: "
                "use estimate='error' with it, or norm='batch'"
            )

    def selector(self, t0: float, t1: float):
        if not t1 > t0:
            raise ValueError("the local regularizer needs increasing integration times")
        self._span = t1 - t0
        self._pick = _Unbiased(t0, t1, self.samples) if self.sampling == "unbiased" \
            else _Biased(self.samples)
        return self._pick

    def penalty(self, ctx: SolveContext) -> Penalty:
        values, first = [], None
        for slot in range(self.samples):
            chosen = ctx.selected.get(slot)
            if chosen is None:  # no accepted step (cannot happen for t1 > t0)
                continue
            value, where = self._one(ctx, chosen, slot)
            values.append(value)
            first = first or where
        if not values:
            return Penalty(ctx.ys.new_zeros(()))
        if len(values) == 1:
            return Penalty(values[0], **first)
        import torch

        with torch.enable_grad():  # differentiable also when the solve ran without a graph
            return Penalty(torch.stack(values).mean(), **first)

    def _one(self, ctx: SolveContext, chosen, slot: int):
        import torch

        # (t_s, y_s, h) are constants: even the step size depends on y0 through the solver's
        # initial-step heuristic, and no gradient may reach the past of the solve.
        t0, t1 = chosen.t0.detach(), chosen.t1.detach()
        h = t1 - t0
        if self.sampling == "unbiased":
            t_s = torch.as_tensor(self._pick.times[slot], dtype=t0.dtype, device=t0.device)
            y_s, end = ctx.state_at(chosen, t_s).detach(), None
        else:
            t_s, y_s, end = t0, chosen.y0.detach(), t1
        with torch.enable_grad():
            step = ctx.retake(t_s, y_s, h, end)
            if self.estimate == "stiffness":
                size = ctx.stiffness(step)
            elif self.norm == "batch":
                size = ctx.error_ratio(step)
            else:
                size = ctx.error_ratio(step, per_sample_rms)
            h = step.h.to(size.dtype)
            if self.objective == "error":
                value = size * h
            else:
                # The controller's steps: span / h per unit of step density (unbiased) or N
                # accepted steps (biased), each split into r ** (1 / q) at ratio 1.
                count = self._span / h if self.sampling == "unbiased" else self._pick.seen
                value = count * size.pow(1.0 / ctx.error_order())
        return value, {"time": float(t_s), "step": float(step.h), "state": y_s}
