"""Local workers: start N ``study worker`` processes on this machine and follow their progress.

Each worker is its own process (``n_jobs`` threads would share one GIL), with one GPU each when
GPUs are given (``CUDA_VISIBLE_DEVICES``) and an equal share of the CPUs (``study.threads``). The
storage URL reaches the workers through ``$STUDY_STORAGE``, never their command line (which
``ps`` shows to everyone). Worker output goes to ``<runs>/logs/NAME.<UTC time>-<launch
pid>.worker-<i>.log``: every launch has its own logs, appended to, never truncated.

No orphans: each worker gets SIGTERM when ``launch`` dies, however it dies (Linux's
parent-death signal), and SIGTERM/SIGHUP/Ctrl-C to ``launch`` stop the workers in order. A storage
outage does not end ``launch``: it keeps following its workers, which retry for their outage
window.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from study import threads
from study.search import intervals
from study.search import studies as _studies
from study.search.errors import SearchError
from study.search.experiment import Experiment
from study.search.outage import OUTAGE_WINDOW_SECONDS, cause, transient
from study.search.storage import ENV, HEARTBEAT_SECONDS, backend, experiment_studies, scrub

STOP_TIMEOUT_SECONDS = 60  # a stopped worker fails its trial and exits; then it is killed
_REFRESH_SECONDS = 1.0


@dataclass
class _Process:
    index: int
    popen: subprocess.Popen
    log: Path
    reported: bool = False


def launch(url: str | None, name: str, *, workers: int, gpus: Sequence[str] | None = None,
           device: str = "auto", heartbeat: int = HEARTBEAT_SECONDS, poll: float = 2.0,
           outage_window: float = OUTAGE_WINDOW_SECONDS, out: TextIO | None = None) -> int:
    """Run ``workers`` local worker processes until the experiment's budgets are met.

    Returns 0 when every study has its budget and every worker ended well; 130 after Ctrl-C
    (the workers are stopped: their running trials end as FAIL and are queued again).
    """
    out = out or sys.stderr
    store = backend(url)
    url = store.url
    if workers < 1:
        raise SearchError(f"--workers {workers}: expected at least 1")
    heartbeat, poll = intervals.heartbeat(heartbeat), intervals.poll(poll)
    if store.max_workers is not None and workers > store.max_workers:
        raise SearchError(f"{store.label} takes {store.max_workers} worker(s) at a time: use the "
                          "journal file default (runs/study.journal) or PostgreSQL for more")
    storage = store.open(heartbeat=heartbeat)
    studies = experiment_studies(storage, name)
    log_dir = store.runs_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    options = ["--device", device, "--heartbeat", str(heartbeat), "--poll", str(poll),
               "--outage-window", str(outage_window)]
    started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    logs = log_dir / f"{name}.{started}-{os.getpid()}.worker-"
    previous = {signum: signal.signal(signum, _raise_interrupt)
                for signum in (signal.SIGTERM, signal.SIGHUP)}
    processes: list[_Process] = []
    try:
        for i in range(workers):
            processes.append(_start(i, url, name, workers, gpus, options, logs))
        print(f"started {workers} worker(s) for {name}; logs in {logs}*.log", file=out,
              flush=True)
        return _follow(processes, name, studies, out, url)
    except KeyboardInterrupt:
        print("stopping the workers (their running trials are queued again)...", file=out,
              flush=True)
        _stop(processes)
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: the worker gets SIGTERM when ``launch`` dies (Linux; elsewhere a no-op,
    and Ctrl-C/SIGTERM to launch still stop the workers)."""

    def arm() -> None:
        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # launch died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


_PR_SET_PDEATHSIG = 1


def _start(index: int, url: str, name: str, workers: int, gpus: Sequence[str] | None,
           options: list[str], logs: Path) -> _Process:
    env = {**os.environ, ENV: url}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = str(gpus[index % len(gpus)])
    if threads.OMP_ENV not in env:  # the workers share this machine's CPUs (study.threads)
        env[threads.OMP_ENV] = str(threads.per_worker(workers))
    log = logs.with_name(f"{logs.name}{index}.log")
    command = [sys.executable, "-m", "study", "worker", "--name", name, *options]
    with open(log, "a") as handle:
        # A session of its own: Ctrl-C reaches launch only, which stops the workers in order.
        popen = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 preexec_fn=_die_with_parent(os.getpid()))
    return _Process(index, popen, log)


def _follow(processes: list[_Process], name: str, studies: dict, out: TextIO, url: str
            ) -> int:
    total = sum(int(s.user_attrs["budget"]) for s in studies.values())
    bar = tqdm(total=total, desc="trials", unit="trial", file=out, dynamic_ncols=True) \
        if out.isatty() else None
    last = None
    failed_workers = 0
    outage = False
    try:
        while True:
            try:
                states = [_studies.counts(s) for s in studies.values()]
            except Exception as exc:
                if not transient(exc):
                    raise
                if not outage:
                    print(f"the storage is unreachable ({scrub(cause(exc), url)}); the "
                          "workers retry through the outage, following them meanwhile",
                          file=out, flush=True)
                outage = True
                states = None
            if states is not None:
                if outage:
                    print("the storage is back", file=out, flush=True)
                    outage = False
                complete = sum(min(c.complete, c.budget) for c in states)
                line = (complete, sum(c.running for c in states),
                        sum(c.failed for c in states))
                if bar is not None:
                    bar.update(complete - bar.n)
                    bar.set_postfix(running=line[1], failed=line[2])
                elif line != last:
                    print(f"{complete}/{total} trials complete, {line[1]} running, {line[2]} "
                          "failed", file=out, flush=True)
                last = line
            for process in processes:
                code = process.popen.poll()
                if code not in (None, 0) and not process.reported:
                    process.reported = True
                    failed_workers += 1
                    _report(process, code, out)
            if all(p.popen.poll() is not None for p in processes):
                break
            time.sleep(_REFRESH_SECONDS)
    finally:
        if bar is not None:
            bar.close()
    try:
        standing = {r: _studies.counts(s) for r, s in studies.items()}
        experiment = _studies.stored_experiment(next(iter(studies.values())))
    except Exception as exc:
        if not transient(exc):
            raise
        print(f"the workers ended; the storage is unreachable ({scrub(cause(exc), url)}), so "
              "whether every study has its budget is unknown: run `study status` once it is "
              "back", file=out, flush=True)
        return 1
    return _ending(name, standing, experiment, failed_workers, out)


def _ending(name: str, standing: dict[str, _studies.Counts], experiment: Experiment,
            failed_workers: int, out: TextIO) -> int:
    """Say why any study ended short of its budget; 0 when every study is finished (its budget,
    or its cap of trials, as the workers finish it) and no worker failed."""
    short = {r: c for r, c in standing.items() if not c.done}
    capped = [r for r, c in short.items() if c.started >= experiment.trial_limit]
    given_up = [r for r, c in short.items()
                if r not in capped and c.failures >= experiment.failure_limit]
    for regularizer in capped:
        c = short[regularizer]
        print(f"{name}.{regularizer} started its cap of {experiment.trial_limit} trials "
              f"(max_trials) with {c.complete}/{c.budget} COMPLETE ({c.pruned} pruned, "
              f"{c.failures} failed): its front is what those found; raise max_trials (a new "
              "experiment) to search further", file=out, flush=True)
    for regularizer in given_up:
        print(f"{name}.{regularizer} was given up after {experiment.failure_limit} failed "
              "trials: see fail_reason in `study status`", file=out, flush=True)
    if set(short) - set(capped) - set(given_up):
        print("the workers ended before every study had its budget: see their logs, then run "
              "`study launch` (or `study worker`) again to go on", file=out, flush=True)
    finished = not (set(short) - set(capped))
    return 0 if finished and failed_workers == 0 else 1


def _report(process: _Process, code: int, out: TextIO) -> None:
    why = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
    tail = process.log.read_text(errors="replace").strip().splitlines()[-5:]
    print(f"worker {process.index} ended with {why}; the last lines of {process.log}:", file=out)
    for line in tail:
        print(f"  {line}", file=out)
    out.flush()


def _stop(processes: list[_Process]) -> None:
    for process in processes:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in processes:
        try:
            process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()
