"""Replicates: each configuration on a regularizer's validation front, trained again with further
seeds, so that the report can say how much of a difference is real.

A search trial is one seed. Once a regularizer's search is finished (its budget of COMPLETE
trials met, none running), every configuration on its validation front (``pareto_front``) is
trained again with the seeds ``Experiment.replicate_seeds`` (the same for every regularizer, all
other than the search's). Each such run is a trial of the regularizer's *replicate study*
``NAME.<regularizer>.replicates`` (``studies.replicate_study_name``): queued as WAITING with the
configuration's parameters plus ``replicate_of`` (the search trial's number) and ``seed`` -- all
stored as parameters, so that a rerun of a lost or interrupted replicate is the same run -- then
claimed by any worker under the experiment lock, exactly like a search trial. Replicates do not
count against the search budget. A replicate that diverges is FAIL and stays so: it is a result
about that seed.

The replicate study's user attribute ``replicates`` is the target number of seeds per
configuration (the experiment's ``replicates``; ``study replicate --replicates K`` raises it).
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.distributions import IntDistribution
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState, create_trial

from study.search.errors import SearchError
from study.search.experiment import Experiment
from study.search.storage import REPLICATES, backend, experiment_studies
from study.search.studies import (
    artifact_location,
    counts,
    new_replicate_study,
    pareto_front,
    stored_experiment,
)

SOURCE = "replicate_of"  # parameter: the number of the search trial replicated
SEED = "seed"  # parameter: the training seed of the replicate
_NUMBERS = IntDistribution(0, 2**31 - 1)


def target(study: optuna.Study) -> int:
    """Seeds per front configuration (the search's included) this replicate study aims at."""
    return int(study.user_attrs[REPLICATES])


def pair(trial: FrozenTrial) -> tuple[int, int]:
    """``(replicate_of, seed)`` of a replicate trial."""
    return int(trial.params[SOURCE]), int(trial.params[SEED])


def wanted(experiment: Experiment, search: optuna.Study, replicates: optuna.Study
           ) -> list[tuple[FrozenTrial, int]]:
    """Every (front configuration, seed) the replicate study should hold."""
    seeds = experiment.replicate_seeds(target(replicates))
    return [(trial, seed) for trial in pareto_front(search) for seed in seeds]


def queue(experiment: Experiment, search: optuna.Study, replicates: optuna.Study) -> int:
    """Queue the (configuration, seed) runs not queued or run yet; how many were queued. Call it
    under the experiment lock, once the regularizer's search is finished."""
    covered = {pair(t) for t in replicates.get_trials(deepcopy=False)}
    added = 0
    for trial, seed in wanted(experiment, search, replicates):
        if (trial.number, seed) in covered:
            continue
        replicates.add_trial(create_trial(
            state=TrialState.WAITING,
            params={**trial.params, SOURCE: trial.number, SEED: seed},
            distributions={**trial.distributions, SOURCE: _NUMBERS, SEED: _NUMBERS},
        ))
        added += 1
    return added


@dataclass(frozen=True)
class Progress:
    """Where a replicate study stands: ``total`` runs wanted, and their states."""

    total: int
    complete: int = 0
    running: int = 0
    waiting: int = 0
    failed: int = 0  # diverged or broken: final

    @property
    def settled(self) -> bool:
        """Every wanted run is queued and none waits or runs (``total`` is only known once the
        search is finished)."""
        return self.waiting == 0 and self.running == 0 and self.complete + self.failed >= \
            self.total


def progress(experiment: Experiment, search: optuna.Study, replicates: optuna.Study
             ) -> Progress:
    want = {(t.number, s) for t, s in wanted(experiment, search, replicates)}
    trials = replicates.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    by_state: dict[TrialState, set] = {state: set() for state in TrialState}
    for t in trials:
        if not (t.state == TrialState.FAIL and t.number in retried):
            by_state[t.state].add(pair(t))
    return Progress(
        total=len(want),
        complete=len(by_state[TrialState.COMPLETE] & want),
        running=len(by_state[TrialState.RUNNING] & want),
        waiting=len(by_state[TrialState.WAITING] & want),
        failed=len(by_state[TrialState.FAIL] & want),
    )


def search_finished(search: optuna.Study) -> bool:
    """Whether the search is over: its budget of COMPLETE trials met and none running."""
    c = counts(search)
    return c.done and c.running == 0


def request(url: str, storage: BaseStorage, name: str, replicates: int | None = None
            ) -> dict[str, Progress | None]:
    """Ask for ``replicates`` seeds per front configuration of experiment ``name`` (``None``:
    the experiment's own number): create the replicate studies that are missing, set their
    target, and queue the runs of every regularizer whose search is finished. Returns each
    regularizer's replicate progress (``None`` while its search goes on)."""
    searches = experiment_studies(storage, name)
    experiment = stored_experiment(next(iter(searches.values())))
    wanted_seeds = experiment.replicates if replicates is None else replicates
    if wanted_seeds < 1:
        raise SearchError(f"--replicates {wanted_seeds}: expected at least 1")
    result: dict[str, Progress | None] = {}
    store = backend(url)
    where = artifact_location(next(iter(searches.values())), store)
    with store.lock(storage, name):
        copies = experiment_studies(storage, name, role=REPLICATES)
        for regularizer, search in searches.items():
            study = copies.get(regularizer)
            if study is None:
                study = new_replicate_study(storage, name, regularizer, experiment, wanted_seeds,
                                            where)
            elif target(study) != wanted_seeds:
                study.set_user_attr(REPLICATES, wanted_seeds)
            if not search_finished(search):
                result[regularizer] = None
                continue
            queue(experiment, search, study)
            result[regularizer] = progress(experiment, search, study)
    return result
