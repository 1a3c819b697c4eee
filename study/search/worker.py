"""A worker: runs trials of an experiment's studies until each has its budget of COMPLETE trials
and every front configuration its replicates.

Any number of workers, on any number of machines, can share one storage. Each loop of a worker

1. takes the experiment lock (``Backend.lock``) and, under it, fails the trials whose worker is
   gone (``Backend.lost_trials``: heartbeat older than the grace period on PostgreSQL/SQLite, or
   the process no longer running on this machine for a journal file) and queues their
   configuration again (``RetryHeartbeatStaleTrialCallback``); then it counts each study's live
   trials (COMPLETE + RUNNING) and starts one trial (a queued retry first) in the study with the
   fewest, if any is below its budget; its parameters and full configuration are recorded at
   once, so that a rerun is exactly the run that was lost. Counting and starting under one lock
   is what makes budgets exact; a worker that finds every budget taken by running trials waits,
   since one of them may still fail. Once a regularizer's search is finished, its front's
   replicates are queued (``study.search.replicates``) and claimed the same way;
2. trains outside the lock, with a heartbeat thread on PostgreSQL/SQLite, and records the trial:
   COMPLETE with ``[quality, cost objective]``, or FAIL with ``fail_reason`` (divergence, error).

SIGTERM and SIGINT end the running trial as FAIL, queue its configuration again and stop the
worker; a SIGKILL'd worker's trial is failed and retried by the next worker that claims a trial.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import optuna
import sqlalchemy
from optuna.artifacts import upload_artifact
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from study import _debug
from study.search import intervals, replicates
from study.search import studies as _studies
from study.search.early_stop import REASON, Checker, Pruned
from study.search.errors import SearchError
from study.search.storage import (
    HEARTBEAT_SECONDS,
    MAX_RETRY,
    REPLICATES,
    Backend,
    RetryLostTrial,
    backend,
    experiment_studies,
)
from study.train.config import TrainConfig
from study.train.errors import TrainingDiverged

POLL_SECONDS = 2.0
_STORAGE_FAILURES = (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)


class Stop(BaseException):
    """SIGTERM/SIGINT asked the worker to stop. A ``BaseException``, like ``KeyboardInterrupt``,
    so that no ``except Exception`` in training code swallows it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True)
class WorkerResult:
    """What one worker did, and its exit status (0: every budget met)."""

    complete: int
    failed: int
    exit_code: int
    message: str


class _Signals:
    """Records SIGTERM/SIGINT; ``check()`` turns a recorded one into ``Stop``.

    The handler itself raises nothing: an exception raised at an arbitrary point (inside a
    garbage-collection callback, a storage write) can be swallowed or leave a trial half
    recorded. The worker checks at safe points instead: between trials, while waiting, after
    every optimisation step (``train``'s progress callback) and before recording a result. Only
    the first signal counts: cleanup after it runs undisturbed.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self._raised = False
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.pending is None:
            self.pending = signum
            self._event.set()

    def check(self, *_: Any) -> None:
        if self.pending is not None and not self._raised:
            self._raised = True
            raise Stop(self.pending)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or until a signal arrives."""
        self._event.wait(seconds)
        self.check()


class _Heartbeat:
    """Records a running trial's heartbeat every interval (storages with heartbeats only)."""

    def __init__(self, storage: BaseStorage, interval: int | None, trial_id: int):
        self._storage = storage
        self._trial_id = trial_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval is not None:
            # The first beat before training starts: a worker killed at once is detected too.
            storage.record_heartbeat(trial_id)
            self._thread = threading.Thread(target=self._beat, args=(interval,), daemon=True)
            self._thread.start()

    def _beat(self, interval: int) -> None:
        while not self._stop.wait(interval):
            with contextlib.suppress(*_STORAGE_FAILURES):
                self._storage.record_heartbeat(self._trial_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def worker_identity() -> str:
    """``host:pid``, stored as the trial user attribute ``worker``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Claim:
    """A trial this worker started: its study, configuration and heartbeat."""

    regularizer: str
    study: optuna.Study
    trial: optuna.Trial
    config: dict[str, Any]
    heartbeat: _Heartbeat
    replicate: bool


class Worker:
    """Runs trials of experiment ``name`` until every study has its budget (see the module)."""

    def __init__(self, url: str | None, name: str, *, device: str = "auto",
                 heartbeat: int = HEARTBEAT_SECONDS, poll: float = POLL_SECONDS,
                 train: Callable[..., dict] | None = None, out: TextIO | None = None):
        try:
            TrainConfig(device=device)
        except ValueError as exc:
            raise SearchError(str(exc)) from None
        self.backend: Backend = backend(url)
        self.url = self.backend.url
        self.name = name
        self.device = device
        self.poll = intervals.poll(poll)
        heartbeat = intervals.heartbeat(heartbeat)
        self.train = train or _train
        self.out = out or sys.stdout
        self.identity = worker_identity()
        self.signals = _Signals()
        self.storage = self.backend.open(heartbeat=heartbeat)
        self.studies = experiment_studies(self.storage, name)
        first = next(iter(self.studies.values()))
        self.experiment = _studies.stored_experiment(first)
        self.metric = first.user_attrs["quality_metric"]
        self.artifacts = self.backend.artifact_store(
            _studies.artifact_location(first, self.backend))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = RetryLostTrial(max_retry=MAX_RETRY)
        self.complete = 0
        self.failed = 0

    def log(self, message: str) -> None:
        print(f"[worker {self.identity}] {message}", file=self.out, flush=True)

    def run(self) -> WorkerResult:
        """Work until done; handles SIGTERM/SIGINT when called from the main thread."""
        main = threading.current_thread() is threading.main_thread()
        if main:
            self.signals.install()
        try:
            self.log(f"experiment {self.name} at {self.backend.label}: "
                     f"{self.experiment.summary()}")
            return self._loop()
        except Stop as stop:
            message = f"stopped by {stop}"
            self.log(message)
            return WorkerResult(self.complete, self.failed, 128 + stop.signum, message)
        finally:
            if main:
                self.signals.restore()

    def _loop(self) -> WorkerResult:
        while True:
            self.signals.check()
            claim = self._claim()
            if isinstance(claim, WorkerResult):
                return claim
            if claim is None:
                self.signals.sleep(self.poll)
                continue
            self._run(claim)

    def _claim(self) -> _Claim | WorkerResult | None:
        """Start a trial under the experiment lock: a search trial while a budget is open, else a
        replicate of a finished regularizer's front. ``None``: wait; a result: nothing left."""
        with self.backend.lock(self.storage, self.name):
            if self.signals.pending is not None:
                return None  # stopping: start nothing (the loop raises Stop)
            state = {}
            for regularizer, study in self.studies.items():
                self._fail_lost(study)
                trials = study.get_trials(deepcopy=False)
                state[regularizer] = (_studies.counts(study, trials), len(trials))
            limit = self.experiment.failure_limit
            given_up = [r for r, (c, _) in state.items() if not c.done and c.failures >= limit]
            # A regularizer that started its cap of trials (early stopping prunes some) is
            # finished with the COMPLETE trials it has.
            capped = [r for r, (c, _) in state.items() if not c.done and r not in given_up
                      and c.started >= self.experiment.trial_limit]
            open_ = [r for r, (c, _) in state.items()
                     if r not in given_up and r not in capped and c.live < c.budget]
            if open_:
                order = list(self.studies)
                regularizer = min(open_, key=lambda r: (state[r][0].live, order.index(r)))
                return self._claim_search(regularizer, state[regularizer][1])
            finished = [r for r, (c, _) in state.items()
                        if r not in given_up and (c.done or r in capped) and c.running == 0]
            claim, settled = self._claim_replicate(finished)
            if claim is not None:
                return claim
            if settled and all(c.done or r in given_up or r in capped
                               for r, (c, _) in state.items()):
                return self._finish(given_up, limit, capped)
            return None

    def _start(self, regularizer: str, study: optuna.Study, replicate: bool,
               config: Callable[[optuna.Trial], dict[str, Any]]) -> _Claim:
        """Ask ``study`` for a trial (a queued one first) and record its configuration and
        worker before anything can fail, so that a rerun is exactly this run."""
        with warnings.catch_warnings():
            # Heartbeats are recorded by this module, not by Study.optimize.
            warnings.simplefilter("ignore")
            trial = study.ask()
        heartbeat = _Heartbeat(self.storage, self.backend.heartbeat_interval(self.storage),
                               trial._trial_id)
        trial.set_user_attr("worker", self.identity)
        chosen = config(trial)
        trial.set_user_attr("config", chosen)
        return _Claim(regularizer, study, trial, chosen, heartbeat, replicate)

    def _claim_search(self, regularizer: str, n_trials: int) -> _Claim:
        study = optuna.load_study(
            study_name=self.studies[regularizer].study_name, storage=self.storage,
            sampler=self.experiment.make_sampler(regularizer, n_trials))
        return self._start(regularizer, study, False, lambda trial: self.experiment.config(
            regularizer, trial, device=self.device))

    def _claim_replicate(self, finished: list[str]) -> tuple[_Claim | None, bool]:
        """A queued replicate of a finished regularizer, if any; and whether every replicate of
        the finished regularizers is settled (queued, and none waiting or running)."""
        studies = experiment_studies(self.storage, self.name, role=REPLICATES)
        for study in studies.values():
            self._fail_lost(study)
        waiting: dict[str, int] = {}
        settled = True
        for regularizer in finished:
            if regularizer not in studies:
                continue
            search, copies = self.studies[regularizer], studies[regularizer]
            if replicates.queue(self.experiment, search, copies):
                self.log(f"queued the replicates of {copies.study_name}")
            done = replicates.progress(self.experiment, search, copies)
            settled = settled and done.settled
            if done.waiting:
                waiting[regularizer] = done.complete
        if not waiting:
            return None, settled
        regularizer = min(waiting, key=waiting.get)
        search = self.studies[regularizer]

        def config(trial: optuna.Trial) -> dict[str, Any]:
            number, seed = trial.params[replicates.SOURCE], trial.params[replicates.SEED]
            source = search.trials[number].user_attrs["config"]
            return {**source, "seed": seed, "device": self.device}

        study = optuna.load_study(study_name=studies[regularizer].study_name,
                                  storage=self.storage)
        return self._start(regularizer, study, True, config), False

    def _finish(self, given_up: list[str], limit: int, capped: list[str]) -> WorkerResult:
        note = "" if not capped else (
            f"; {', '.join(f'{self.name}.{r}' for r in capped)} started its cap of "
            f"{self.experiment.trial_limit} trials (max_trials) before its budget of COMPLETE "
            "ones")
        if given_up:
            message = (f"gave up on {', '.join(f'{self.name}.{r}' for r in given_up)} after "
                       f"{limit} failed trial(s) each (see fail_reason in `study status`)"
                       + note)
            self.log(message)
            return WorkerResult(self.complete, self.failed, 1, message)
        message = (f"every study of {self.name} has its budget and its replicates; ran "
                   f"{self.complete} trial(s)" + note)
        self.log(message)
        return WorkerResult(self.complete, self.failed, 0, message)

    def _fail_lost(self, study: optuna.Study) -> None:
        """Fail (and queue again) the running trials whose worker is gone."""
        lost, reason = self.backend.lost_trials(self.storage, study)
        for trial_id in lost:
            try:
                self.storage.set_trial_user_attr(trial_id, "fail_reason", reason)
                if not self.storage.set_trial_state_values(trial_id, TrialState.FAIL):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            trial = self.storage.get_trial(trial_id)
            self.log(f"{study.study_name} trial {trial.number}: {reason}; queued again")
            self._retry(study, trial)

    def _run(self, claim: _Claim) -> None:
        study, trial = claim.study, claim.trial
        label = f"{study.study_name} trial {trial.number}"
        start = time.perf_counter()
        try:
            self.signals.check()
            self.log(f"{label} started: {_describe(trial.params)}")
            values = self._train(trial, claim.config, self._progress(claim))
            if study.tell(trial, values, skip_if_finished=True).state != TrialState.COMPLETE:
                raise optuna.exceptions.UpdateFinishedTrialError(label)
            self.complete += 1
            self.log(f"{label} COMPLETE in {time.perf_counter() - start:.1f} s: "
                     f"{self.metric}={values[0]:.4g} {self.experiment.objective}={values[1]:.4g}")
        except Stop as stop:
            self._fail(study, trial, f"interrupted by {stop}", retry=True)
            self.log(f"{label} FAIL: interrupted by {stop}; queued again")
            raise
        except TrainingDiverged as exc:
            self._fail(study, trial, f"diverged ({exc.kind}): {exc}", retry=False)
            self.log(f"{label} FAIL: {exc}")
        except Pruned as exc:
            trial.set_user_attr(REASON, exc.reason)
            if exc.train_seconds is not None:
                trial.set_user_attr("train_seconds", exc.train_seconds)
            study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
            self.log(f"{label} PRUNED: {exc.reason}")
        except optuna.exceptions.UpdateFinishedTrialError:
            self.log(f"{label} was failed by another worker (its heartbeat was late); "
                     "its configuration is queued again")
        except _STORAGE_FAILURES:
            raise
        except Exception as exc:  # a broken run must not end the worker: record it and go on
            if _debug.enabled():
                _debug.print_traceback(exc, self.out)
            self._fail(study, trial, f"error: {_debug.describe(exc)}", retry=False)
            self.log(f"{label} FAIL: {_debug.describe(exc)}")
        finally:
            claim.heartbeat.stop()

    def _progress(self, claim: _Claim) -> Callable[[Any], None]:
        """What ``train`` reports to: signals are checked at every step; a search trial is also
        compared with its study's other trials at the early-stopping epochs."""
        rule = self.experiment.early_stop
        if rule is None or claim.replicate:
            return self.signals.check
        checker = Checker(rule, claim.study, claim.trial,
                          maximize=claim.study.directions[0].name == "MAXIMIZE",
                          objective=self.experiment.objective)

        def progress(event: Any) -> None:
            self.signals.check()
            checker(event)

        return progress

    def _train(self, trial: optuna.Trial, config: dict[str, Any],
               progress: Callable[[Any], None]) -> list[float]:
        with tempfile.TemporaryDirectory(prefix="study-trial-") as tmp:
            checkpoint = Path(tmp) / "model.pt"
            record = self.train(TrainConfig.from_dict(config), checkpoint=checkpoint,
                                progress=progress)
            self.signals.check()
            values = [float(record[self.metric]), float(record[self.experiment.objective])]
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"non-finite objective {values}")
            curves = Path(tmp) / "curves.json"
            curves.write_text(json.dumps(record.get("curves", {})))
            artifacts = {"curves": upload_artifact(
                artifact_store=self.artifacts, file_path=str(curves), study_or_trial=trial,
                mimetype="application/json")}
            if checkpoint.exists():
                artifacts["checkpoint"] = upload_artifact(
                    artifact_store=self.artifacts, file_path=str(checkpoint),
                    study_or_trial=trial, mimetype="application/octet-stream")
        for key, value in record.items():
            if isinstance(value, (int, float, str, bool)):
                trial.set_user_attr(key, value)
        trial.set_user_attr("artifacts", artifacts)
        return values

    def _fail(self, study: optuna.Study, trial: optuna.Trial, reason: str, *, retry: bool
              ) -> None:
        self.failed += 1
        with self.backend.lock(self.storage, self.name):
            try:
                trial.set_user_attr("fail_reason", reason)
                frozen = study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            except optuna.exceptions.UpdateFinishedTrialError:
                return  # another worker failed it already, and queued it if it was lost
            if retry:
                # Under the lock: the rerun is queued before any worker counts the freed slot.
                self._retry(study, frozen)


def _train(config: TrainConfig, **kwargs: Any) -> dict[str, Any]:
    """``study.train.train``, imported with the first trial: torch loads only to train, with
    its threads sized by what this process may use (``study.threads``)."""
    from study import threads
    from study.train.loop import train

    threads.apply()
    return train(config, **kwargs)


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items()) or "no searched parameters"


def run_worker(url: str | None, name: str, **options: Any) -> WorkerResult:
    """``Worker(url, name, **options).run()``."""
    return Worker(url, name, **options).run()
