"""A regularizer with one option, as a new file would add it (see test_plugins.py)."""

from study.nde import Penalty
from study.regularizers import Integer, Option, Regularizer


class LastSteps(Regularizer):
    """The error ratio times the size of the last ``count`` accepted steps."""

    name = "last-steps"
    keep_steps = True
    options = (Option("count", Integer(1, 5), 1, "how many of the last accepted steps"),)
    default_weight = 0.1

    def penalty(self, ctx):
        total = ctx.ys.new_zeros(())
        for step in ctx.kept[-self.count:]:
            total = total + ctx.error_ratio(step) * step.h.abs()
        return Penalty(total)


class NotARegularizer:
    pass
