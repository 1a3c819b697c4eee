"""STEER: train with a random end time ``T ~ Uniform(t1 - b, t1 + b)``, ``0 < b < t1 - t0``.

Only the end time changes (no penalty term). ``NeuralODE`` uses regularizers in training mode
only, so evaluation integrates to the true ``t1``. ``t1 - t0`` is the gap between a solve's last
two times: where a task declares its smallest (``TaskInfo.min_last_gap``) a ``b`` that is too
large is refused before training starts; every solve checks it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from study.params import POSITIVE, Option
from study.regularizers.base import Regularizer

if TYPE_CHECKING:
    import torch

    from study.tasks import TaskInfo


class STEER(Regularizer):
    name = "steer"
    penalised = False  # only the end time changes
    options = (
        Option("b", POSITIVE, 0.5, "end times are drawn from [t1 - b, t1 + b]"),
    )

    def check_task(self, task: TaskInfo) -> None:
        gap = task.min_last_gap
        if gap is not None and not self.b < gap:
            raise ValueError(
                f"steer needs 0 < b < {gap:.6g}, the last time gap of task {task.name!r} (end "
                f"times are drawn from [t1 - b, t1 + b]), got b={self.b}"
            )

    def end_time(self, t: torch.Tensor) -> torch.Tensor:
        import torch

        last_gap = float(t[-1] - t[-2])
        if not self.b < abs(last_gap):
            raise ValueError(
                f"steer needs 0 < b < t1 - t0 (the last interval, {abs(last_gap):.6g}), "
                f"got b={self.b}"
            )
        shift = (2.0 * torch.rand((), dtype=t.dtype, device=t.device) - 1.0) * self.b
        return torch.cat([t[:-1], (t[-1] + shift).reshape(1)])
