"""The Optuna studies of an experiment: creating them, and counting where they stand.

Experiment ``NAME`` comparing regularizers ``R1, R2, ...`` is one multi-objective search study per
regularizer, named ``NAME.R``, with objectives ``[quality metric, cost objective]`` (the
experiment's ``objective``, ``predict_nfe`` or ``predict_nfe_warm``) and the same budget of
COMPLETE trials; with ``replicates > 1`` also a replicate study ``NAME.R.replicates`` each
(``study.search.replicates``). Study user attributes: ``experiment_name``, ``regularizer``,
``experiment`` (the whole experiment, ``Experiment.to_dict()``), ``quality_metric``,
``objective``, and ``budget`` (search) or ``role = "replicates"`` and ``replicates``.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from study.search.errors import SearchError
from study.search.experiment import Experiment
from study.search.storage import REPLICATES, ROLE, Backend, backend, experiment_studies
from study.search.storage.artifacts import DATABASE, location

ARTIFACTS = "artifacts"  # study user attribute: the experiment's artifact location
# Trial user attribute of a claim abandoned before its parameters were all chosen
# (``study.search.claims``): failed, not rerun, and neither a failure nor a started trial.
ABANDONED = "abandoned_claim"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SearchError(f"bad experiment name {name!r}: use letters, digits, '-' and '_' "
                          "(its studies are named NAME.<regularizer>)")
    return name


def create(url: str, storage: BaseStorage, name: str, experiment: Experiment, *,
           artifacts: str | None = None) -> tuple[dict[str, optuna.Study], bool]:
    """The studies of experiment ``name``, created unless they exist: ``(studies, created)``.

    Each regularizer gets its search study ``NAME.<regularizer>`` and, with ``replicates > 1``,
    its replicate study (``study.search.replicates``). Every study records where the
    experiment's artifacts live (``artifacts``: a location of ``study.search.storage.artifacts``;
    default: the backend's). An existing experiment of that name is reused only if it is the
    same experiment. If creating fails half-way, the studies made so far are deleted again.
    """
    check_name(name)
    wanted = json.loads(json.dumps(experiment.to_dict()))
    store = backend(url)
    where = store.default_artifacts() if artifacts is None else location(artifacts)
    with store.lock(storage, name):
        existing = {s.study_name: s for s in storage.get_all_studies()}
        mine = [s for s in existing.values() if s.user_attrs.get("experiment_name") == name]
        if mine:
            stored = _normalised(mine[0].user_attrs.get("experiment"))
            if stored != wanted:
                raise SearchError(f"experiment {name!r} already exists with a different "
                                  f"configuration ({_differences(stored, wanted)}): choose "
                                  "another --name")
            return experiment_studies(storage, name), False
        names = [f"{name}.{r}" for r in experiment.regularizers]
        if experiment.replicates > 1:
            names += [replicate_study_name(name, r) for r in experiment.regularizers]
        clashes = [n for n in names if n in existing]
        if clashes:
            raise SearchError(f"study {clashes[0]!r} exists and belongs to no experiment: "
                              "choose another --name")
        made: list[optuna.Study] = []
        try:
            if where == DATABASE:
                store.artifact_store(where).create_table()
            for regularizer in experiment.regularizers:
                made.append(_new_study(storage, f"{name}.{regularizer}", name, regularizer,
                                       experiment, {"budget": experiment.budget(regularizer),
                                                    ARTIFACTS: where}))
            if experiment.replicates > 1:
                for regularizer in experiment.regularizers:
                    made.append(new_replicate_study(storage, name, regularizer, experiment,
                                                    experiment.replicates, where))
        except BaseException:
            for study in made:
                optuna.delete_study(study_name=study.study_name, storage=storage)
            raise
    return experiment_studies(storage, name), True


def replicate_study_name(name: str, regularizer: str) -> str:
    return f"{name}.{regularizer}.{REPLICATES}"


def new_replicate_study(storage: BaseStorage, name: str, regularizer: str,
                        experiment: Experiment, replicates: int, artifacts: str
                        ) -> optuna.Study:
    """The replicate study of ``regularizer`` (call it under the experiment lock)."""
    return _new_study(storage, replicate_study_name(name, regularizer), name, regularizer,
                      experiment, {ROLE: REPLICATES, REPLICATES: replicates,
                                   ARTIFACTS: artifacts})


def artifact_location(study: optuna.Study, store: Backend) -> str:
    """Where the experiment of ``study`` keeps its artifacts (the backend's default for an
    experiment created before it was recorded)."""
    return study.user_attrs.get(ARTIFACTS) or store.default_artifacts()


def _new_study(storage: BaseStorage, study_name: str, name: str, regularizer: str,
               experiment: Experiment, attrs: dict) -> optuna.Study:
    metric, direction = experiment.quality()
    study = optuna.create_study(storage=storage, study_name=study_name,
                                directions=[direction, "minimize"])
    with warnings.catch_warnings():  # experimental in Optuna, shown by the dashboard
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric, experiment.objective])
    stored = json.loads(json.dumps(experiment.to_dict()))
    for key, value in {"experiment_name": name, "regularizer": regularizer, "experiment": stored,
                       "quality_metric": metric, "objective": experiment.objective,
                       **attrs}.items():
        study.set_user_attr(key, value)
    return study


def _normalised(stored: object) -> object:
    """A stored experiment as this version would store it (keys added since take their
    defaults), so that creating an existing experiment again compares what it means."""
    try:
        return json.loads(json.dumps(Experiment.from_dict(stored).to_dict()))
    except (SearchError, TypeError, ValueError):
        return stored


def stored_experiment(study: optuna.Study) -> Experiment:
    """The experiment a study belongs to, as ``study create`` stored it."""
    return Experiment.from_dict(study.user_attrs["experiment"],
                                source=f"experiment stored in {study.study_name}")


def _differences(stored: dict | None, wanted: dict) -> str:
    if not isinstance(stored, dict):
        return "it has no stored configuration"
    keys = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += [f"{key}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            keys.append(key)
    return "differs in " + ", ".join(keys)


@dataclass(frozen=True)
class Counts:
    """Where one study stands. ``failed`` counts every FAIL trial, ``retried`` those whose
    configuration was queued again (worker died or was stopped), ``abandoned`` those whose
    worker died before choosing all its parameters (``study.search.claims``)."""

    budget: int
    complete: int = 0
    running: int = 0
    waiting: int = 0
    failed: int = 0
    retried: int = 0
    pruned: int = 0  # stopped early (study.search.early_stop): not in the budget
    abandoned: int = 0

    @property
    def live(self) -> int:
        """Trials that count against the budget: finished well or still running."""
        return self.complete + self.running

    @property
    def failures(self) -> int:
        """Failed trials not retried (diverged, errors): they count against ``max_failed``."""
        return self.failed - self.retried - self.abandoned

    @property
    def started(self) -> int:
        """Trials started and not queued again: what ``max_trials`` caps."""
        return self.complete + self.running + self.pruned + self.failures

    @property
    def done(self) -> bool:
        return self.complete >= self.budget


def counts(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> Counts:
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    by_state = {state: sum(t.state == state for t in trials) for state in TrialState}
    return Counts(
        budget=int(study.user_attrs["budget"]),
        complete=by_state[TrialState.COMPLETE],
        running=by_state[TrialState.RUNNING],
        waiting=by_state[TrialState.WAITING],
        failed=by_state[TrialState.FAIL],
        retried=sum(t.state == TrialState.FAIL and t.number in retried for t in trials),
        pruned=by_state[TrialState.PRUNED],
        abandoned=sum(t.state == TrialState.FAIL and t.number not in retried
                      and bool(t.user_attrs.get(ABANDONED)) for t in trials),
    )


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """The non-dominated COMPLETE trials with finite objectives (``study.best_trials``, what
    Optuna and the dashboard show), cheapest (lowest cost objective) first."""
    finite = (t for t in study.best_trials
              if t.values is not None and all(math.isfinite(v) for v in t.values))
    return sorted(finite, key=lambda t: (t.values[1], t.number))
