"""One experiment's regularizers side by side: validation fronts, replicated test fronts, and
hypervolumes against one fixed reference point.

An experiment ``NAME`` has one two-objective search study per regularizer: validation quality
(``val_accuracy`` maximised or ``val_loss`` minimised) and a cost objective (``predict_nfe`` or
``predict_nfe_warm``) minimised. Each regularizer's *validation front* is
``study.search.studies.pareto_front``, what Optuna and the dashboard show. Each configuration on
it is a ``Config``: its search trial and its replicates (``study.search.replicates``), one
``Run`` per seed, with the quality measured on the held-out test split and both prediction NFEs.
The *test front* is the Pareto front of the configurations' means over seeds.

The hypervolume's reference point is fixed: the experiment's ``[report] reference`` when it
states one, else derived from vanilla (``none``): its most accurate configuration on validation
(by the mean over seeds), its mean test quality made 10 % worse and 1.5 times its mean cost, so
that one trial cannot move it. Without vanilla it falls back to the worst mean quality and the
largest mean cost of all replicated configurations, pushed out by 10 % of their range.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from study.report import pareto
from study.report.errors import ReportError
from study.search.replicates import SEED, SOURCE
from study.search.studies import pareto_front

LOCAL = "local"
VANILLA = "none"
TRAIN_SECONDS = "train_seconds"
# Compute spent by trials recorded before the device name was.
UNRECORDED = "device not recorded"
NFE_METRICS = ("predict_nfe", "predict_nfe_warm")
# The best possible quality of each kind, for the normalised hypervolume.
IDEAL = {"accuracy": 1.0, "loss": 0.0}
REFERENCE_MARGIN = 0.1
REFERENCE_COST_FACTOR = 1.5


@dataclass(frozen=True)
class Run:
    """One seed of a configuration: its trial (search or replicate) and what it measured."""

    seed: int
    trial: FrozenTrial
    metrics: Mapping[str, float]  # the scalar metrics of its training record

    @property
    def complete(self) -> bool:
        return self.trial.state == TrialState.COMPLETE


@dataclass(frozen=True)
class Config:
    """A configuration on a regularizer's validation front and its runs, one per seed."""

    regularizer: str
    trial: FrozenTrial  # the search trial
    runs: list[Run]

    @property
    def complete(self) -> list[Run]:
        return [r for r in self.runs if r.complete]

    @property
    def failed(self) -> int:
        return sum(r.trial.state == TrialState.FAIL for r in self.runs)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.complete]

    def values(self, metric: str, seeds: Sequence[int] | None = None) -> list[float]:
        """``metric`` of the complete runs (of ``seeds`` when given, repeats included)."""
        by_seed = {r.seed: r.metrics.get(metric) for r in self.complete}
        chosen = by_seed if seeds is None else [s for s in seeds if s in by_seed]
        return [float(by_seed[s]) for s in chosen if _is_number(by_seed[s])]

    def mean(self, metric: str, seeds: Sequence[int] | None = None) -> float:
        values = self.values(metric, seeds)
        return statistics.fmean(values) if values else math.nan

    def std(self, metric: str) -> float:
        values = self.values(metric)
        return statistics.stdev(values) if len(values) > 1 else math.nan


@dataclass(frozen=True)
class Method:
    """One regularizer: its search trials, validation front, replicated configurations, test
    front and hypervolumes (validation and test, against the comparison's reference)."""

    regularizer: str
    study: optuna.Study
    trials: list[FrozenTrial]
    complete: list[FrozenTrial]
    front: list[FrozenTrial]  # validation front, by cost
    configs: list[Config]  # the front's configurations with their runs, by cost
    test_front: list[Config]  # Pareto front of the configurations' test means, by cost
    hypervolume: float  # of the validation front
    history: list[tuple[int, float]]  # (trial number, validation hypervolume up to it)
    test_hypervolume: float

    def on_front(self, trial: FrozenTrial) -> bool:
        return any(t.number == trial.number for t in self.front)

    @property
    def pruned(self) -> int:
        return sum(t.state == TrialState.PRUNED for t in self.trials)

    def compute(self) -> dict[str, float]:
        """Training seconds spent, by device name: every search trial (pruned ones' partial
        time included) and every replicate run."""
        runs = [*self.trials, *(r.trial for c in self.configs for r in c.runs[1:])]
        spent: dict[str, float] = {}
        for trial in runs:
            seconds = trial.user_attrs.get(TRAIN_SECONDS)
            if _is_number(seconds):
                device = str(trial.user_attrs.get("device_name", UNRECORDED))
                spent[device] = spent.get(device, 0.0) + float(seconds)
        return spent

    def config(self, number: int) -> Config | None:
        return next((c for c in self.configs if c.trial.number == number), None)


@dataclass(frozen=True)
class Comparison:
    """Every regularizer of experiment ``name``, measured against one ``reference`` point
    ``(quality, cost)`` in the objectives' own units (see the module docstring)."""

    name: str
    quality: str  # "accuracy" or "loss"
    maximize_quality: bool
    cost_metric: str  # the cost objective: predict_nfe or predict_nfe_warm
    reference: tuple[float, float]
    reference_source: str
    methods: dict[str, Method]
    replicates: int  # seeds per configuration asked for (1: no replicates)

    @property
    def quality_metric(self) -> str:
        return f"val_{self.quality}"

    @property
    def test_metric(self) -> str:
        return f"test_{self.quality}"

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
        return f"{self.quality} = {q:.4g}, {self.cost_metric} = {n:.4g}"

    def box(self) -> float:
        """The area between the ideal point and the reference: a normalised hypervolume is a
        fraction of it."""
        q, n = self.reference
        return abs(IDEAL[self.quality] - q) * n

    def test_point(self, config: Config, seeds: Sequence[int] | None = None) -> pareto.Point:
        """A configuration's mean test quality and mean cost, as losses."""
        return pareto.to_losses(
            (config.mean(self.test_metric, seeds), config.mean(self.cost_metric, seeds)),
            self.maximize)

    def test_hypervolume(self, configs: Sequence[Config],
                         seeds: Sequence[int] | None = None) -> float:
        points = [self.test_point(c, seeds) for c in configs]
        return pareto.hypervolume([p for p in points if pareto.is_finite(p)], self.ref_losses)

    @property
    def ref_losses(self) -> pareto.Point:
        return pareto.to_losses(self.reference, self.maximize)


def compare(
    name: str,
    studies: Mapping[str, optuna.Study],
    replicates: Mapping[str, optuna.Study] | None = None,
    *,
    reference: Sequence[float] | None = None,
) -> Comparison:
    """Fronts and hypervolumes of the search ``studies`` (regularizer -> study) of experiment
    ``name``, with the runs of their ``replicates`` studies. ``reference`` ``(quality, cost)``
    overrides the experiment's (see the module docstring)."""
    if not studies:
        raise ReportError(f"experiment {name!r} has no studies")
    quality, maximize_quality, cost = _objectives(name, studies)
    maximize = (maximize_quality, False)
    configs = {r: _configs(r, s, (replicates or {}).get(r)) for r, s in studies.items()}
    stated = next(iter(studies.values())).user_attrs.get("experiment", {}).get("report", {})
    if reference is not None:
        ref, source = _check_reference(reference), "given to the export"
    elif "reference" in stated:
        ref = (float(stated["reference"]["quality"]), float(stated["reference"]["nfe"]))
        source = "stated in the experiment"
    else:
        ref, source = _default_reference(configs, f"test_{quality}", cost, maximize)
    ref_losses = pareto.to_losses(ref, maximize)

    methods = {}
    for r, study in studies.items():
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials
                    if t.state == TrialState.COMPLETE and pareto.is_finite(t.values)]
        history = pareto.hypervolume_history(
            [pareto.to_losses(t.values, maximize) for t in complete], ref_losses)
        means = {c.trial.number: pareto.to_losses(
            (c.mean(f"test_{quality}"), c.mean(cost)), maximize) for c in configs[r]}
        kept = [c for c in configs[r] if pareto.is_finite(means[c.trial.number])]
        test_front = [c for c in kept
                      if not pareto.dominated(means[c.trial.number],
                                              [means[o.trial.number] for o in kept])]
        methods[r] = Method(
            regularizer=r, study=study, trials=trials, complete=complete,
            front=[c.trial for c in configs[r]], configs=configs[r],
            test_front=sorted(test_front, key=lambda c: means[c.trial.number][1]),
            hypervolume=history[-1] if history else 0.0,
            history=[(t.number, hv) for t, hv in zip(complete, history)],
            test_hypervolume=pareto.hypervolume([means[c.trial.number] for c in kept],
                                                ref_losses),
        )
    target = max((int(s.user_attrs.get("replicates", 1)) for s in (replicates or {}).values()),
                 default=1)
    return Comparison(name=name, quality=quality, maximize_quality=maximize_quality,
                      cost_metric=cost, reference=ref, reference_source=source,
                      methods=methods, replicates=target)


def _configs(regularizer: str, search: optuna.Study, copies: optuna.Study | None
             ) -> list[Config]:
    """The validation front's configurations with their runs (the search trial first)."""
    runs: dict[int, list[Run]] = {}
    if copies is not None:
        retried = {n for t in copies.get_trials(deepcopy=False)
                   for n in t.system_attrs.get("retry_history", ())}
        for t in copies.get_trials(deepcopy=False):
            if t.state in (TrialState.COMPLETE, TrialState.FAIL) and t.number not in retried:
                runs.setdefault(int(t.params[SOURCE]), []).append(
                    Run(int(t.params[SEED]), t, _metrics(t)))
    configs = []
    for trial in pareto_front(search):
        seed = int(trial.user_attrs.get("config", {}).get("seed", 0))
        own = Run(seed, trial, _metrics(trial))
        others = sorted((r for r in runs.get(trial.number, []) if r.seed != seed),
                        key=lambda r: r.seed)
        configs.append(Config(regularizer, trial, [own, *others]))
    return configs


def _metrics(trial: FrozenTrial) -> dict[str, float]:
    return {k: float(v) for k, v in trial.user_attrs.items() if _is_number(v)}


def _default_reference(configs: Mapping[str, list[Config]], test_metric: str, cost: str,
                       maximize: tuple[bool, bool]) -> tuple[tuple[float, float], str]:
    vanilla = [c for c in configs.get(VANILLA, []) if c.complete]
    if vanilla:
        pick = max if maximize[0] else min
        best = pick(vanilla, key=lambda c: c.mean(test_metric.replace("test_", "val_")))
        q, n = best.mean(test_metric), best.mean(cost)
        if math.isfinite(q) and math.isfinite(n):
            worse = q * (1 - REFERENCE_MARGIN) if maximize[0] else q * (1 + REFERENCE_MARGIN)
            return ((worse, REFERENCE_COST_FACTOR * n),
                    f"default: vanilla's most accurate configuration (trial "
                    f"{best.trial.number}, {len(best.complete)} seed(s)): its mean test quality "
                    f"{int(REFERENCE_MARGIN * 100)} % worse, {REFERENCE_COST_FACTOR:g} x its "
                    "mean cost")
    points = [pareto.to_losses((c.mean(test_metric), c.mean(cost)), maximize)
              for cs in configs.values() for c in cs]
    points = [p for p in points if pareto.is_finite(p)]
    if not points:
        raise ReportError("no configuration has a test quality and a cost yet")
    return (pareto.to_losses(pareto.default_reference(points), maximize),
            "default: the worst mean quality and cost of all configurations, pushed out by "
            "10 % of their range (there is no replicated vanilla configuration)")


def _objectives(name: str, studies: Mapping[str, optuna.Study]) -> tuple[str, bool, str]:
    found = set()
    for r, study in studies.items():
        if len(study.directions) != 2:
            raise ReportError(
                f"study {study.study_name!r} has {len(study.directions)} objective(s); an "
                "experiment's studies have two (quality, cost)")
        names = study.metric_names or []
        if len(names) != 2 or not names[0].startswith("val_") or names[1] not in NFE_METRICS:
            raise ReportError(
                f"study {study.study_name!r} (regularizer {r!r}) does not name its objectives "
                f"(val_<quality>, one of {', '.join(NFE_METRICS)})")
        maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
        found.add((names[0].removeprefix("val_"), maximize, names[1]))
    if len(found) > 1:
        raise ReportError(f"experiment {name!r} mixes objectives: "
                          f"{', '.join(sorted(str(f) for f in found))}")
    return found.pop()


def _check_reference(reference: Sequence[float]) -> tuple[float, float]:
    values = tuple(float(v) for v in reference)
    if len(values) != 2 or not pareto.is_finite(values) or not values[1] > 0:
        raise ReportError(f"reference point {reference!r}: expected two finite numbers "
                          "(quality, cost), the cost positive")
    return (values[0], values[1])


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)
