"""Claims: when a started trial counts as claimed, and what becomes of a claim that its worker
abandoned half-way.

A worker starts a trial under the experiment lock (``Backend.lock``): it asks the study for a
trial (a queued one first; either way the trial is RUNNING from then on), records its worker,
suggests its parameters one by one and finally records its full configuration (the user
attribute ``config``), and only then releases the lock. A trial counts as *claimed* once its
``config`` is recorded. The lock dies with its holder (a file lock with the process, an advisory
lock with the database connection), so a RUNNING trial without ``config`` that a worker sees
while holding the lock belongs to a worker that died mid-claim, or whose database connection
broke mid-claim (an outage): an *abandoned claim*. It never trained.

Retrying it like a lost trial would queue whatever parameters happened to be recorded, and the
sampler would fill in the rest: the rerun would not be the run that was started. So an abandoned
claim is failed, and queued again only when every parameter of its study is recorded (a queued
rerun or replicate always is; a fresh trial is if its worker died after the last suggestion):
then the rerun is exactly that configuration. Otherwise nothing was decided that could be rerun;
the trial is marked ``abandoned_claim`` and counts neither against the budget nor as a failure
(``studies.Counts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from study.search import replicates as _replicates
from study.search.storage import REPLICATES, ROLE
from study.search.studies import ABANDONED, stored_experiment

CONFIG = "config"  # trial user attribute: the full TrainConfig dict; its presence is the claim
# Its worker died, or lost its storage connection (which frees an advisory lock) mid-claim.
REASON = ("claim abandoned: its worker stopped or lost the storage before recording the "
          "trial's configuration (not trained)")


def is_claimed(trial: FrozenTrial) -> bool:
    """Whether ``trial``'s claim is complete: its full configuration is recorded."""
    return CONFIG in trial.user_attrs


def searched_parameters(study: optuna.Study) -> set[str]:
    """The parameters every claimed trial of ``study`` (a search or replicate study) records."""
    experiment = stored_experiment(study)
    names = {param.name for param in experiment.space(study.user_attrs["regularizer"])[1]}
    if study.user_attrs.get(ROLE) == REPLICATES:
        names |= {_replicates.SOURCE, _replicates.SEED}
    return names


def settle_abandoned(storage: BaseStorage, study: optuna.Study,
                     retry: Callable[[optuna.Study, FrozenTrial], None]) -> Iterator[str]:
    """Fail ``study``'s abandoned claims; queue each again with ``retry`` when its configuration
    is complete. Call it holding the experiment lock (see the module docstring). Yields one
    line per settled trial, for the worker's log."""
    wanted: set[str] | None = None
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if is_claimed(trial):
            continue
        wanted = searched_parameters(study) if wanted is None else wanted
        complete = wanted <= set(trial.params)
        trial_id = trial._trial_id
        try:
            storage.set_trial_user_attr(trial_id, "fail_reason", REASON)
            if not complete:
                storage.set_trial_user_attr(trial_id, ABANDONED, True)
            if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        label = f"{study.study_name} trial {trial.number}: {REASON}"
        if complete:
            retry(study, storage.get_trial(trial_id))
            yield f"{label}; its parameters were all recorded: queued again"
        else:
            missing = ", ".join(sorted(wanted - set(trial.params)))
            yield f"{label}; not rerun ({missing} never chosen; it never trained)"
