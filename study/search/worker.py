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

SIGTERM, SIGINT and SIGHUP end the running trial as FAIL, queue its configuration again and stop
the worker; a SIGKILL'd worker's trial is failed and retried by the next worker that claims a
trial.

Storage outages (``study.search.outage``): every storage step is retried with backoff for the
outage window; a claim is retried whole (a trial it had started is failed as never trained, and
queued again if it came from the queue). A trained result is recorded when the storage is back:
on its trial, or, if another worker failed that trial meanwhile, on the queued rerun of the same
configuration; if the window runs out first, the result is kept on local disk
(``study.search.spool``) and recorded by the next worker started here. A worker that saw the
storage fail does not fail other workers' trials for late heartbeats during the grace period
that follows (their heartbeats could not get through either).
"""

from __future__ import annotations

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

from study import debug
from study.search import claims, intervals, replicates, spool
from study.search import studies as _studies
from study.search.early_stop import REASON, Checker, Pruned
from study.search.errors import SearchError
from study.search.outage import OUTAGE_WINDOW_SECONDS, OutageError, Retrier, cause, transient
from study.search.storage import (
    GRACE_FACTOR,
    HEARTBEAT_SECONDS,
    MAX_RETRY,
    REPLICATES,
    Backend,
    RetryLostTrial,
    backend,
    experiment_studies,
    scrub,
)
from study.train.config import TrainConfig
from study.train.errors import TrainingDiverged

POLL_SECONDS = 2.0
EXIT_STORAGE = 4  # the command line's exit status for an unusable storage
_STORAGE_FAILURES = (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError)


class _Spooled(Exception):
    """A trained result went to the spool (the storage stayed unreachable, or a signal came
    while waiting for it): the worker stops."""

    def __init__(self, message: str, signum: int | None):
        super().__init__(message)
        self.signum = signum


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
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
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

    def __init__(self, storage: BaseStorage, interval: int | None, trial_id: int,
                 retrier: Retrier):
        self._storage = storage
        self._retrier = retrier
        self._failing = False
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
            try:
                self._storage.record_heartbeat(self._trial_id)
            except _STORAGE_FAILURES as exc:
                # an outage: training goes on, the next beat tries again
                if not self._failing:
                    self._retrier.log(f"heartbeat: the storage is unreachable "
                                      f"({self._retrier.scrub(cause(exc))}); training goes on")
                self._failing = True
                self._retrier.note_failure()
            else:
                if self._failing:
                    self._retrier.note_failure()  # the grace period counts from the recovery
                    self._retrier.log("heartbeat: the storage is back")
                self._failing = False

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
                 outage_window: float = OUTAGE_WINDOW_SECONDS,
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
        self.grace = GRACE_FACTOR * heartbeat
        self.train = train or _train
        self.out = out or sys.stdout
        self.identity = worker_identity()
        self.signals = _Signals()
        self.retrier = Retrier(outage_window, log=self.log, sleep=self.signals.sleep,
                               scrub=lambda text: scrub(text, self.url))
        # the trial of a claim not yet complete: study, trial id, queued?, heartbeat
        self._orphan: tuple[optuna.Study, int, bool, _Heartbeat | None] | None = None
        self.storage = self.retrier.call(
            "opening the storage", lambda: self.backend.open(heartbeat=heartbeat))
        # Reading a study's attributes and opening the artifact store query the storage too:
        # all of it is retried through an outage (a worker started during one exited 4 here).
        self.studies, self.experiment, self.metric, self.artifacts = self.retrier.call(
            "reading the experiment", lambda: self._read_experiment(name))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = RetryLostTrial(max_retry=MAX_RETRY)
        self.complete = 0
        self.failed = 0

    def _read_experiment(self, name: str) -> tuple[dict, Any, str, Any]:
        """The experiment's studies, its stored definition, quality metric and artifact store."""
        studies = experiment_studies(self.storage, name)
        first = next(iter(studies.values()))
        return (studies, _studies.stored_experiment(first), first.user_attrs["quality_metric"],
                self.backend.artifact_store(_studies.artifact_location(first, self.backend)))

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
            self.replay()
            return self._loop()
        except Stop as stop:
            message = f"stopped by {stop}"
            self.log(message)
            return WorkerResult(self.complete, self.failed, 128 + stop.signum, message)
        except _Spooled as spooled:
            message = str(spooled)
            self.log(message)
            code = EXIT_STORAGE if spooled.signum is None else 128 + spooled.signum
            return WorkerResult(self.complete, self.failed, code, message)
        finally:
            if main:
                self.signals.restore()

    def _loop(self) -> WorkerResult:
        while True:
            self.signals.check()
            try:
                claim = self.retrier.call("claiming a trial", self._claim)
            except optuna.exceptions.UpdateFinishedTrialError:
                # The lock went with a lost connection and another worker settled this claim
                # as abandoned meanwhile: start over.
                self._abandon_orphan()
                continue
            # complete only once the lock is released: committing it can fail too
            self._orphan = None
            if isinstance(claim, WorkerResult):
                return claim
            if claim is None:
                self.signals.sleep(self.poll)
                continue
            self._run(claim)

    def _claim(self) -> _Claim | WorkerResult | None:
        """Start a trial under the experiment lock: a search trial while a budget is open, else a
        replicate of a finished regularizer's front. ``None``: wait; a result: nothing left."""
        self._abandon_orphan()
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
        # Until the claim is recorded whole, a storage failure leaves an orphan to abandon.
        # Parameters present right after ask() were queued (a rerun or a replicate).
        queued = bool(trial.params)
        self._orphan = (study, trial._trial_id, queued, None)
        heartbeat = _Heartbeat(self.storage, self.backend.heartbeat_interval(self.storage),
                               trial._trial_id, self.retrier)
        self._orphan = (study, trial._trial_id, queued, heartbeat)
        trial.set_user_attr("worker", self.identity)
        chosen = config(trial)
        trial.set_user_attr("config", chosen)
        return _Claim(regularizer, study, trial, chosen, heartbeat, replicate)

    def _abandon_orphan(self) -> None:
        """Fail the trial of a claim a storage failure interrupted (it never trained), and queue
        it again if it came from the queue: its slot is free, and nothing queued is lost."""
        if self._orphan is None:
            return
        study, trial_id, queued, heartbeat = self._orphan
        if heartbeat is not None:
            heartbeat.stop()
        try:
            self.storage.set_trial_user_attr(
                trial_id, "fail_reason", "claim interrupted by a storage failure (not trained)")
            if not queued:  # never trained, not run again: neither a failure nor a start
                self.storage.set_trial_user_attr(trial_id, _studies.ABANDONED, True)
            failed = self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            failed = False  # another worker failed it already (and queued it if it was lost)
        if failed and queued:
            self._retry(study, self.storage.get_trial(trial_id))
        self._orphan = None

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
        """Fail (and queue again) the running trials whose worker is gone: abandoned claims
        at once, trials with a stale heartbeat but not for a grace period after this worker saw
        the storage fail (late heartbeats are the outage's)."""
        for line in claims.settle_abandoned(self.storage, study, self._retry):
            self.log(line)
        if self.backend.heartbeat_interval(self.storage) is not None and \
                self.retrier.failed_within(self.grace):
            return
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
        with tempfile.TemporaryDirectory(prefix="study-trial-") as tmp:
            try:
                self.signals.check()
                self.log(f"{label} started: {_describe(trial.params)}")
                result = self._train(claim.config, self._progress(claim), Path(tmp))
                self._record(study, trial.number, result, label)
                self.complete += 1
                self.log(f"{label} COMPLETE in {time.perf_counter() - start:.1f} s: "
                         f"{self.metric}={result.values[0]:.4g} "
                         f"{self.experiment.objective}={result.values[1]:.4g}")
            except Stop as stop:
                # Stopping: one try, no waiting out an outage (a scheduler's kill follows).
                try:
                    self.failed += 1
                    self._fail_once(study, trial, f"interrupted by {stop}", retry=True)
                    self.log(f"{label} FAIL: interrupted by {stop}; queued again")
                except _STORAGE_FAILURES as exc:
                    if not transient(exc):
                        raise
                    self.log(f"{label} stays RUNNING (the storage is unreachable): the next "
                             "worker fails it once its heartbeat is stale and runs it again")
                raise
            except TrainingDiverged as exc:
                self._fail(study, trial, f"diverged ({exc.kind}): {exc}", retry=False)
                self.log(f"{label} FAIL: {exc}")
            except Pruned as exc:
                self.retrier.call(f"recording {label} as PRUNED",
                                  lambda pruned=exc: self._prune(study, trial, pruned))
                self.log(f"{label} PRUNED: {exc.reason}")
            except (OutageError, _Spooled):
                raise
            except _STORAGE_FAILURES as exc:
                if not transient(exc) or self.retrier.window <= 0:
                    raise
                # an outage where no step retries it: fail the trial, run it again, go on
                why = scrub(cause(exc), self.url)
                self._fail(study, trial, f"interrupted by a storage failure: {why}", retry=True)
                self.log(f"{label} FAIL: interrupted by a storage failure ({why}); queued again")
            except Exception as exc:  # a broken run must not end the worker: record it, go on
                if debug.enabled():
                    debug.print_traceback(exc, self.out)
                self._fail(study, trial, f"error: {debug.describe(exc)}", retry=False)
                self.log(f"{label} FAIL: {debug.describe(exc)}")
            finally:
                claim.heartbeat.stop()

    def _prune(self, study: optuna.Study, trial: optuna.Trial, exc: Pruned) -> None:
        trial.set_user_attr(REASON, exc.reason)
        if exc.train_seconds is not None:
            trial.set_user_attr("train_seconds", exc.train_seconds)
        if exc.device_name is not None:  # the compute reports' device, as for complete trials
            trial.set_user_attr("device_name", exc.device_name)
        study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)

    def _record(self, study: optuna.Study, number: int, result: spool.Result, label: str
                ) -> None:
        """Record a trained result through outages; if the window runs out (or a signal stops
        the worker while it waits), keep it in the spool and stop."""
        try:
            outcome = self.retrier.call(f"recording {label}",
                                        lambda: self._deliver(study, number, result))
        except (Exception, Stop) as exc:
            if not isinstance(exc, (OutageError, Stop)) and not transient(exc):
                raise
            path = spool.save(self.backend.runs_dir(), self.name, study.study_name, number,
                              result)
            why = scrub(str(exc) if isinstance(exc, (OutageError, Stop)) else cause(exc), self.url)
            raise _Spooled(f"{why}; the result of {label} is kept in {path} and the next worker "
                           "started here records it",
                           exc.signum if isinstance(exc, Stop) else None) from None
        if outcome:
            self.log(f"{label}: {outcome}")

    def _deliver(self, study: optuna.Study, number: int, result: spool.Result) -> str:
        """Record ``result`` of trial ``number``: on the trial while it runs, else on the queued
        rerun of its configuration (another worker failed it, taking its late heartbeat for a
        lost worker). Returns what happened other than the plain case ('' for that)."""
        storage = self.storage
        for _ in range(3):  # the trial's state may change between reading and writing it
            trial = storage.get_trial(
                storage.get_trial_id_from_study_id_trial_number(study._study_id, number))
            note = ""
            if trial.state == TrialState.COMPLETE:
                return "recorded already"  # a retried write whose first try got through
            if trial.state != TrialState.RUNNING:
                with self.backend.lock(self.storage, self.name):  # no reaper sees it half-taken
                    trial = self._adopt(study, trial)
                if trial is None:
                    return ("failed by another worker meanwhile and its rerun is already "
                            "taken: this result is not recorded twice")
                note = f"recorded on trial {trial.number}, the rerun of its configuration"
            try:
                artifacts = {key: upload_artifact(
                    artifact_store=self.artifacts, file_path=str(path), study_or_trial=trial,
                    storage=storage, mimetype=mimetype)
                    for key, (path, mimetype) in result.files.items()}
                for key, value in result.attrs.items():
                    storage.set_trial_user_attr(trial._trial_id, key, value)
                storage.set_trial_user_attr(trial._trial_id, "artifacts", artifacts)
                study.tell(trial.number, result.values)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            return note
        raise SearchError(f"{study.study_name} trial {number}: its state kept changing while "
                          "its result was recorded")

    def _adopt(self, study: optuna.Study, failed: optuna.trial.FrozenTrial
               ) -> optuna.trial.FrozenTrial | None:
        """Take the queued rerun of ``failed``'s configuration (WAITING -> RUNNING succeeds for
        one worker only), or ``None`` if there is none to take."""
        for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            history = trial.system_attrs.get("retry_history") or [None]
            if history[-1] != failed.number:
                continue
            if not self.storage.set_trial_state_values(trial._trial_id, TrialState.RUNNING):
                return None
            self.storage.set_trial_user_attr(trial._trial_id, "worker", self.identity)
            if "config" in failed.user_attrs:
                self.storage.set_trial_user_attr(trial._trial_id, "config",
                                                 failed.user_attrs["config"])
            self.storage.set_trial_user_attr(trial._trial_id, "trained_as_trial",
                                             failed.number)
            return self.storage.get_trial(trial._trial_id)
        return None

    def replay(self) -> None:
        """Record the results a worker here kept in the spool when the storage was gone."""
        for entry in spool.pending(self.backend.runs_dir(), self.name):
            label = f"{entry.study_name} trial {entry.number}"
            study = optuna.load_study(study_name=entry.study_name, storage=self.storage)
            try:
                outcome = self.retrier.call(
                    f"recording {label} from {entry.path}",
                    lambda e=entry, s=study: self._deliver(s, e.number, e.result))
            except optuna.exceptions.UpdateFinishedTrialError:
                outcome = "finished meanwhile: not recorded"
            self.log(f"{label}: the result kept in {entry.path} is "
                     + (outcome or "recorded"))
            spool.remove(entry)

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
            try:
                checker(event)
            except _STORAGE_FAILURES as exc:
                if not transient(exc):
                    raise
                self.retrier.note_failure()
                self.log(f"{claim.study.study_name} trial {claim.trial.number}: no early-stopping "
                         "comparison at this epoch (the storage is unreachable)")

        return progress

    def _train(self, config: dict[str, Any], progress: Callable[[Any], None], folder: Path
               ) -> spool.Result:
        """Train; the result's files (curves, checkpoint) are written to ``folder``."""
        checkpoint = folder / "model.pt"
        record = self.train(TrainConfig.from_dict(config), checkpoint=checkpoint,
                            progress=progress)
        self.signals.check()
        values = [float(record[self.metric]), float(record[self.experiment.objective])]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"non-finite objective {values}")
        curves = folder / "curves.json"
        curves.write_text(json.dumps(record.get("curves", {})))
        files = {"curves": (curves, "application/json")}
        if checkpoint.exists():
            files["checkpoint"] = (checkpoint, "application/octet-stream")
        attrs = {key: value for key, value in record.items()
                 if isinstance(value, (int, float, str, bool))}
        return spool.Result(values, attrs, files)

    def _fail(self, study: optuna.Study, trial: optuna.Trial, reason: str, *, retry: bool
              ) -> None:
        self.failed += 1
        self.retrier.call(f"recording {study.study_name} trial {trial.number} as FAIL",
                          lambda: self._fail_once(study, trial, reason, retry))

    def _fail_once(self, study: optuna.Study, trial: optuna.Trial, reason: str, retry: bool
                   ) -> None:
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
