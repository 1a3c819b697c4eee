"""An experimental local regularizer for SDEs (``spiral_sde_schedules.py --stage drift``): the
paper's penalty plus, or replaced by, the local error of the *drift alone*.

``spiral-sde-floor.md`` found every trained drift needing 25-32 steps on its own, a floor the
paper's penalty (on the full step-doubling attempt, dominated by the diffusion's share) does not
lower. This variant asks whether penalising the drift's own error there does. At the same sampled
``(t_s, y_s)`` and step ``h`` as the paper's penalty, it re-takes the drift's ODE ``y' = f(t, y)``
by Euler step doubling (milstein with zero diffusion is Euler): ``y_full = y_s + h f(t_s, y_s)``
against two half steps, and takes their ratio as the solver does (tolerance-scaled RMS) times
``h``; the training weight scales the penalty as for every regularizer. ``drift="added"``: the
paper's ``R`` plus that term; ``drift="only"``: that term alone (the paper's step is still
re-taken, and its value dropped). Two more drift calls per sampled point. A user's regularizer by
import path (``_drift_local:DriftLocal``, the benchmarks folder on ``sys.path``), not part of the
product: it did not help (see the stage's verdict).
"""

from __future__ import annotations

from study.nde import _torchsde
from study.params import Choice, Option
from study.regularizers import Local


class DriftLocal(Local):
    name = "local-drift"
    solves = ("sde",)
    options = (
        *Local.options,
        Option("drift", Choice(("added", "only")), "added",
               "add the drift's own Euler step-doubling error to the paper's penalty, or use "
               "it alone"),
    )

    def _one(self, ctx, chosen, slot):
        import torch

        value, where = super()._one(ctx, chosen, slot)
        t_s, h = where["state"].new_tensor(where["time"]), where["state"].new_tensor(where["step"])
        y_s = where["state"]
        with torch.enable_grad():
            f0 = ctx.drift(t_s, y_s)
            y_full = y_s + h * f0
            y_mid = y_s + 0.5 * h * f0
            y_half = y_mid + 0.5 * h * ctx.drift(t_s + 0.5 * h, y_mid)
            term = _torchsde.error_ratio(y_full, y_half, ctx.spec.rtol, ctx.spec.atol) * h
        return (value + term if self.drift == "added" else term), where
