"""Pareto-aware early stopping of multi-objective trials.

Optuna's pruners do not work for multi-objective studies (``Trial.report``/``should_prune``
raise), but a trial may still end PRUNED. At configured fractions of the epoch budget
(``[search] early_stop = { at = [0.2, 0.3], margin = 0.0 }`` in an experiment), a search trial
records its point at that epoch -- validation quality and the validation split's prediction cost
(the experiment's objective), both measured at the end of the epoch -- as the user attribute
``early_stop`` (``{epoch: [quality, cost]}``), and compares it with the points the same
regularizer's other trials recorded at the same epoch. When one of them dominates it by the
margin -- at least ``margin`` (a fraction) better in quality and at most ``1 - margin`` of its
cost -- the trial stops there and ends PRUNED, with the reason in its ``prune_reason`` attribute
and the training seconds it used in ``train_seconds`` (on ``device_name``). Pruned trials do not
count toward the budget of COMPLETE trials; ``max_trials`` caps the trials a regularizer may
start so that a study stays finite (by default 1.1 times the budget with early stopping: a
pruned trial mostly takes a COMPLETE one's slot, which is where the time is saved).
Replicates are never stopped early.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from study.params import Real

ATTR = "early_stop"
#: ``max_trials`` with early stopping and none given, as a multiple of the budget (measured)
EARLY_STOP_CAP = 1.1
REASON = "prune_reason"
_FRACTION = Real(0, 1, closed="neither")
_MARGIN = Real(0, 1, closed="left")


@dataclass(frozen=True)
class EarlyStop:
    """When trials are compared (``at``: fractions of the epoch budget) and by what ``margin``.
    The defaults (``early_stop = true``) are the setting ``benchmarks/early_stop.py`` chose."""

    at: tuple[float, ...] = (0.2, 0.3)
    margin: float = 0.0

    @classmethod
    def from_value(cls, value: Any) -> EarlyStop | None:
        """From an experiment's ``early_stop`` value: ``false`` (off), ``true`` (the defaults)
        or ``{ at = [...], margin = ... }``; ``ValueError`` names a bad one."""
        if value is False or value is None:
            return None
        if value is True:
            return cls()
        if not isinstance(value, Mapping) or set(value) - {"at", "margin"}:
            raise ValueError("early_stop is false, true or { at = [fractions], margin = m }")
        at = value.get("at", cls.at)
        if isinstance(at, (str, bytes)) or not isinstance(at, Sequence) or not at:
            raise ValueError("early_stop.at must be a non-empty list of fractions of the epochs")
        fractions = tuple(sorted({_FRACTION.check("early_stop.at", f) for f in at}))
        return cls(fractions, _MARGIN.check("early_stop.margin", value.get("margin", 0.0)))

    def to_value(self) -> dict[str, Any]:
        return {"at": list(self.at), "margin": self.margin}

    def epochs(self, total: int) -> list[int]:
        """The epochs (1-based) at which trials are compared; never the last one."""
        return sorted({min(total - 1, max(1, round(f * total))) for f in self.at} - {0})


def dominates(other: Sequence[float], point: Sequence[float], *, maximize: bool,
              margin: float) -> bool:
    """Whether ``other`` beats ``point`` (quality, cost) by ``margin`` in both objectives (and
    is not the same point)."""
    (q_o, c_o), (q, c) = other, point
    better = q_o >= q + margin * abs(q) if maximize else q_o <= q - margin * abs(q)
    return better and c_o <= (1 - margin) * c and (q_o, c_o) != (q, c)


class Pruned(Exception):
    """A trial stopped early; ``reason`` says by which trial, at which epoch."""

    def __init__(self, reason: str, train_seconds: float | None,
                 device_name: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.train_seconds = train_seconds
        self.device_name = device_name


class Checker:
    """The ``progress`` callback of one search trial's training: records its point at the
    comparison epochs and raises ``Pruned`` when another trial's point dominates it."""

    def __init__(self, rule: EarlyStop, study: optuna.Study, trial: optuna.Trial, *,
                 maximize: bool, objective: str):
        self.rule = rule
        self.study = study
        self.trial = trial
        self.maximize = maximize
        self.objective = objective
        self.points: dict[str, list[float]] = {}

    def __call__(self, event: Any) -> None:
        """``event``: ``study.train.Progress``; epoch ends carry the validation point."""
        if event.val is None or event.epoch not in self.rule.epochs(event.epochs):
            return
        point = [float(event.val), float(getattr(event, self.objective))]
        epoch = str(event.epoch)
        self.points[epoch] = point
        self.trial.set_user_attr(ATTR, dict(self.points))
        states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        for other in self.study.get_trials(deepcopy=False, states=states):
            seen = other.user_attrs.get(ATTR, {}).get(epoch)
            if other.number == self.trial.number or seen is None:
                continue
            if dominates(seen, point, maximize=self.maximize, margin=self.rule.margin):
                raise Pruned(
                    f"dominated at epoch {event.epoch} by trial {other.number} "
                    f"({seen[0]:.4g}, {seen[1]:.4g} against {point[0]:.4g}, {point[1]:.4g}; "
                    f"margin {self.rule.margin:g})",
                    getattr(event, "train_seconds", None), getattr(event, "device_name", None))
