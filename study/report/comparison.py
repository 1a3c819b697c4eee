"""One experiment's studies side by side: fronts, a shared reference point, hypervolumes.

An experiment ``NAME`` has one two-objective study per regularizer (``NAME.<regularizer>``):
validation quality (``val_accuracy`` maximised or ``val_loss`` minimised) and ``predict_nfe``
minimised. The front of each regularizer is ``study.best_trials``, exactly what Optuna and the
dashboard show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from study.report import pareto
from study.report.errors import ReportError
from study.search.experiment import NFE_METRIC
from study.search.studies import pareto_front

LOCAL = "local"


@dataclass(frozen=True)
class Method:
    """One regularizer's study: its trials, its front and its hypervolume."""

    regularizer: str
    study: optuna.Study
    trials: list[FrozenTrial]
    complete: list[FrozenTrial]
    front: list[FrozenTrial]  # ``study.search.studies.pareto_front``: by prediction NFE
    hypervolume: float
    history: list[tuple[int, float]]  # (trial number, hypervolume of the trials up to it)

    def on_front(self, trial: FrozenTrial) -> bool:
        return any(t.number == trial.number for t in self.front)


@dataclass(frozen=True)
class Comparison:
    """Every regularizer of experiment ``name``, measured against one ``reference`` point.

    ``reference`` is in the objectives' own units: ``(quality, predict_nfe)``.
    """

    name: str
    quality_metric: str
    maximize_quality: bool
    reference: tuple[float, float]
    methods: dict[str, Method]

    @property
    def baselines(self) -> list[str]:
        return [r for r in self.methods if r != LOCAL]

    @property
    def maximize(self) -> tuple[bool, bool]:
        return (self.maximize_quality, False)

    def better_quality(self, a: float, b: float) -> bool:
        """Whether quality ``a`` is at least as good as ``b``."""
        return a >= b if self.maximize_quality else a <= b

    def describe_reference(self) -> str:
        q, n = self.reference
        return f"{self.quality_metric} = {q:.4g}, {NFE_METRIC} = {n:.4g}"


def compare(
    name: str,
    studies: Mapping[str, optuna.Study],
    *,
    reference: Sequence[float] | None = None,
) -> Comparison:
    """Fronts and hypervolumes of ``studies`` (regularizer -> study) of experiment ``name``.

    ``reference`` is ``(quality, predict_nfe)``; by default the worst values over every
    regularizer's complete trials, pushed out by 10% of their range, so it is shared by all.
    """
    if not studies:
        raise ReportError(f"experiment {name!r} has no studies")
    metric, maximize_quality = _quality_objective(name, studies)
    maximize = (maximize_quality, False)

    trials = {r: s.get_trials(deepcopy=False) for r, s in studies.items()}
    complete = {
        r: [t for t in ts if t.state == TrialState.COMPLETE and pareto.is_finite(t.values)]
        for r, ts in trials.items()
    }
    if reference is None:
        losses = [pareto.to_losses(t.values, maximize) for ts in complete.values() for t in ts]
        if not losses:
            raise ReportError(f"experiment {name!r} has no complete trials yet")
        ref_loss = pareto.default_reference(losses)
        reference = pareto.to_losses(ref_loss, maximize)  # negation is its own inverse
    else:
        reference = _check_reference(reference)
        ref_loss = pareto.to_losses(reference, maximize)

    methods = {}
    for r, study in studies.items():
        points = [pareto.to_losses(t.values, maximize) for t in complete[r]]
        history = pareto.hypervolume_history(points, ref_loss)
        front = pareto_front(study)
        methods[r] = Method(
            regularizer=r,
            study=study,
            trials=trials[r],
            complete=complete[r],
            front=front,
            hypervolume=history[-1] if history else 0.0,
            history=[(t.number, hv) for t, hv in zip(complete[r], history)],
        )
    return Comparison(
        name=name,
        quality_metric=metric,
        maximize_quality=maximize_quality,
        reference=(float(reference[0]), float(reference[1])),
        methods=methods,
    )


def _quality_objective(name: str, studies: Mapping[str, optuna.Study]) -> tuple[str, bool]:
    found = set()
    for r, study in studies.items():
        directions = study.directions
        if len(directions) != 2:
            raise ReportError(
                f"study {study.study_name!r} has {len(directions)} objective(s); an experiment's "
                f"studies have two (quality, {NFE_METRIC})"
            )
        names = study.metric_names or [study.user_attrs.get("quality_metric"), NFE_METRIC]
        if names[0] is None or names[1] != NFE_METRIC:
            raise ReportError(
                f"study {study.study_name!r} (regularizer {r!r}) does not name its objectives "
                f"(quality, {NFE_METRIC})"
            )
        found.add((names[0], directions[0] == optuna.study.StudyDirection.MAXIMIZE))
    if len(found) > 1:
        listed = ", ".join(sorted(m for m, _ in found))
        raise ReportError(f"experiment {name!r} mixes quality metrics: {listed}")
    return found.pop()


def _check_reference(reference: Sequence[float]) -> tuple[float, float]:
    values = tuple(float(v) for v in reference)
    if len(values) != 2 or not pareto.is_finite(values):
        raise ReportError(
            f"reference point {reference!r}: expected two finite numbers (quality, {NFE_METRIC})"
        )
    return (values[0], values[1])
