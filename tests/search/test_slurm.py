"""Workers as SLURM job arrays on a real single-node cluster: exact budgets, scancel, SIGTERM
(preemption) and requeue.

A session fixture starts the dev cluster (``storage/slurm/dev-cluster.sh start``: Debian's
slurm-wlm and munge, ``make slurm``, as root) and fails when it cannot. Jobs are submitted with
``storage/slurm/submit.sh`` and run this checkout's ``study`` (``STUDY_BIN``); every test has
its own PostgreSQL database, and waits on conditions (``squeue``, trial states), never on
fixed sleeps. The cluster's KillWait is 10 s: a signalled worker must record its trial well
within it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from study.cli import main
from tests.search.helpers import PASSWORD, env, load, started_trials, write_experiment

pytestmark = [pytest.mark.slurm, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
SLURM = ROOT / "storage" / "slurm"
KILL_WAIT = 10  # seconds: dev-cluster.sh's KillWait, which the signal tests rely on
DEADLINE = 240  # seconds for an array to finish: generous for a busy 2-core machine
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
         "BOOT_FAIL", "DEADLINE"}

# One study, one trial of a few seconds (long enough to be caught RUNNING): the signal tests.
# Long enough that a signal sent once the trial is seen training lands in training, not in its
# last second of evaluation (3 epochs took 2-3 s on a fast machine: the trial finished, rightly
# COMPLETE, before SIGTERM reached it).
SLOW = """\
regularizers = ["none"]
trials = 1
sampler = "random"
[train]
task = "digits"
epochs = 40
atol = 1e-4
[search]
rtol = { low = 1e-4, high = 3e-4, log = true }
"""


def _sbin_path() -> str:
    return f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"


def slurm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """A SLURM client command (squeue, scancel, scontrol, ...)."""
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PATH": _sbin_path()})
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(args)} failed ({result.returncode}): "
                             f"{result.stdout}{result.stderr}")
    return result


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """The single-node dev cluster: started (as root; stopped again at the end if it was not
    running before), or, for anyone else, one that root started."""
    script = str(SLURM / "dev-cluster.sh")
    environment = {**os.environ, "PATH": _sbin_path()}
    root = os.geteuid() == 0
    running = root and subprocess.run([script, "status"], capture_output=True, timeout=60,
                                      env=environment).returncode == 0
    if root:  # `start` is idempotent, and brings a running cluster's configuration up to date
        started = subprocess.run([script, "start"], capture_output=True, text=True,
                                 timeout=300, env=environment)
        if started.returncode != 0:
            pytest.fail("the SLURM tests need the dev cluster, and `storage/slurm/dev-cluster.sh "
                        "start` failed (install SLURM with `make slurm`):\n"
                        + started.stdout + started.stderr, pytrace=False)
    else:
        try:
            ping = slurm("scontrol", "ping", check=False)
        except FileNotFoundError:
            ping = None
        if ping is None or ping.returncode != 0 or "UP" not in ping.stdout:
            pytest.fail("the SLURM tests need the dev cluster: start it as root "
                        "(`sudo storage/slurm/dev-cluster.sh start`, after `make slurm`)",
                        pytrace=False)
    config = slurm("scontrol", "show", "config").stdout
    assert re.search(rf"^KillWait\s*=\s*{KILL_WAIT} sec", config, re.MULTILINE), (
        f"the SLURM tests rely on KillWait={KILL_WAIT} (dev-cluster.sh's); this cluster has "
        + (re.findall(r"^KillWait.*$", config, re.MULTILINE) or ["none"])[0])
    try:
        yield
    finally:
        if root and not running:
            subprocess.run([script, "stop"], capture_output=True, timeout=120, env=environment)


class Cluster:
    """Submits arrays for one test (and cancels whatever of them is left at its end)."""

    def __init__(self, url: str, directory: Path):
        self.url = url
        self.directory = directory
        wrapper = directory / "study"  # this checkout's code, whatever is installed
        wrapper.write_text(f"#!/bin/sh\nexport PYTHONPATH={shlex.quote(str(ROOT))}\n"
                           f"exec {shlex.quote(sys.executable)} -m study \"$@\"\n")
        wrapper.chmod(0o755)
        # The URL, with its password, only ever travels in the environment.
        self.environment = env(STUDY_STORAGE=url, STUDY_ARTIFACTS=str(directory / "artifacts"),
                               STUDY_BIN=str(wrapper), PATH=_sbin_path())
        self.arrays: list[str] = []

    def create(self, name: str, config: Path) -> None:
        # In this process: a `study` subprocess would add seconds of imports to every test.
        assert main(["create", "--name", name, "--config", str(config),
                     "--storage", self.url]) == 0

    def submit(self, name: str, workers: str, *options: str) -> str:
        """``submit.sh NAME WORKERS OPTIONS...``: the array's job id."""
        result = subprocess.run([str(SLURM / "submit.sh"), name, workers, *options],
                                cwd=self.directory, env=self.environment, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        match = re.search(r"Submitted batch job (\d+)", result.stdout)
        assert match, result.stdout + result.stderr
        self.arrays.append(match[1])
        return match[1]

    def wait(self, array: str, timeout: float = DEADLINE) -> list[dict[str, str]]:
        """Wait until ``squeue`` lists no task of ``array``; its tasks, by ``scontrol``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queued = slurm("squeue", "-h", "-j", array, "-o", "%i %T", check=False)
            if queued.returncode == 0 and not queued.stdout.strip():
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"array {array} still queued after {timeout} s:\n"
                                 f"{queued.stdout}\n{self.logs()}")
        tasks = tasks_of(array)
        assert all(t["JobState"] in ENDED for t in tasks), tasks
        return tasks

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()}"
                         for p in sorted(self.directory.glob("study-worker-*.log")))

    def cancel_all(self) -> None:
        for array in self.arrays:
            slurm("scancel", array, check=False)


@pytest.fixture
def cluster(slurm_cluster, pg_url, tmp_path) -> Iterator[Cluster]:
    c = Cluster(pg_url, tmp_path)
    try:
        yield c
    finally:
        c.cancel_all()  # before pg_url drops the database


def tasks_of(array: str) -> list[dict[str, str]]:
    """``scontrol show job`` of every task of ``array``, by ArrayTaskId."""
    out = slurm("scontrol", "-o", "show", "job", array).stdout
    tasks = [dict(field.split("=", 1) for field in line.split() if "=" in field)
             for line in out.splitlines() if line.strip()]
    return sorted(tasks, key=lambda t: int(t.get("ArrayTaskId", "0")))


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def training(url: str, name: str) -> optuna.trial.FrozenTrial | None:
    """A RUNNING trial that is training (its config recorded), if any."""
    for s in load(url, name).values():
        for t in s.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if "config" in t.user_attrs:
                return t
    return None


def job_of(trial: optuna.trial.FrozenTrial) -> tuple[str, int]:
    """The SLURM job id (``ARRAY_TASK``) of the worker running ``trial``, and its pid: read from
    the process on this node, which also shows that the URL is not on its command line."""
    pid = int(trial.user_attrs["worker"].rpartition(":")[2])
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "worker" in cmdline and PASSWORD not in cmdline, cmdline
    environ = dict(item.split("=", 1) for item in
                   Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item)
    assert PASSWORD in environ["STUDY_STORAGE"]
    return f"{environ['SLURM_ARRAY_JOB_ID']}_{environ['SLURM_ARRAY_TASK_ID']}", pid


def by_state(trials: list[optuna.trial.FrozenTrial]) -> Counter:
    return Counter(t.state for t in trials)


def test_an_array_of_three_workers_meets_the_budget_exactly(cluster, tmp_path):
    cluster.create("budget", write_experiment(tmp_path, 2))
    array = cluster.submit("budget", "3")
    assert PASSWORD not in slurm("scontrol", "-o", "show", "job", array).stdout
    tasks = cluster.wait(array)
    logs = cluster.logs()
    assert [(t["ArrayTaskId"], t["JobState"], t["ExitCode"]) for t in tasks] == [
        (str(i), "COMPLETED", "0:0") for i in range(3)], logs
    assert PASSWORD not in logs and "Traceback" not in logs
    started = started_trials(logs)
    assert len(started) == len(set(started)) == 4, logs  # no trial run twice
    for regularizer, s in load(cluster.url, "budget").items():
        trials = s.get_trials()
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 2, regularizer
        assert {(s.study_name, t.number) for t in trials} <= set(started)
        assert all(t.user_attrs["config"]["regularizer"] == regularizer for t in trials)


def test_scancel_of_a_running_task_fails_its_trial_and_another_task_reruns_it(cluster, tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW)
    cluster.create("cancel", tmp_path / "slow.toml")
    array = cluster.submit("cancel", "2", "--", "--poll", "0.5")  # options after -- : workers'
    victim = wait_for(lambda: training(cluster.url, "cancel"), "a trial training")
    job, _ = job_of(victim)
    slurm("scancel", job)
    tasks = {f"{t['ArrayJobId']}_{t['ArrayTaskId']}": t for t in cluster.wait(array)}
    logs = cluster.logs()
    assert tasks.pop(job)["JobState"] == "CANCELLED", logs
    assert "Traceback" not in logs
    [(survivor, task)] = tasks.items()
    assert (task["JobState"], task["ExitCode"]) == ("COMPLETED", "0:0"), logs
    trials = {t.number: t for t in load(cluster.url, "cancel")["none"].get_trials()}
    failed = trials[victim.number]
    assert failed.state == TrialState.FAIL, logs
    assert failed.user_attrs["fail_reason"] == "interrupted by SIGTERM"
    [rerun] = [t for t in trials.values() if t.system_attrs.get("failed_trial") == victim.number]
    assert rerun.state == TrialState.COMPLETE and rerun.params == victim.params
    assert rerun.user_attrs["worker"] != victim.user_attrs["worker"]
    assert f"{rerun.number} started" in (cluster.directory
                                         / f"study-worker-{survivor}.log").read_text()
    assert by_state(trials.values()) == {TrialState.COMPLETE: 1, TrialState.FAIL: 1}, logs


def test_preemption_sigterm_fails_the_trial_and_queues_it_again(cluster, tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW)
    cluster.create("preempt", tmp_path / "slow.toml")
    array = cluster.submit("preempt", "1")
    victim = wait_for(lambda: training(cluster.url, "preempt"), "a trial training")
    job, _ = job_of(victim)
    # What preemption (and the time limit, through --signal=B:TERM@120) delivers: SIGTERM to the
    # batch step, which is the worker itself (exec).
    slurm("scancel", "--batch", "--signal=TERM", job)
    [task] = cluster.wait(array)
    logs = cluster.logs()
    assert (task["JobState"], task["ExitCode"]) == ("FAILED", "143:0"), logs
    assert "Traceback" not in logs
    trials = load(cluster.url, "preempt")["none"].get_trials()
    assert by_state(trials) == {TrialState.FAIL: 1, TrialState.WAITING: 1}, logs
    failed = trials[victim.number]
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs["fail_reason"] == "interrupted by SIGTERM"
    [waiting] = [t for t in trials if t.state == TrialState.WAITING]
    assert waiting.params == victim.params


def test_a_requeued_task_comes_back_and_the_budget_stays_exact(cluster, tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW)
    cluster.create("requeue", tmp_path / "slow.toml")
    array = cluster.submit("requeue", "1", "--requeue")
    victim = wait_for(lambda: training(cluster.url, "requeue"), "a trial training")
    job, _ = job_of(victim)
    slurm("scontrol", "requeue", job)  # SIGTERM now; the task starts again in ~10 s
    [task] = cluster.wait(array)
    logs = cluster.logs()
    assert (task["JobState"], task["ExitCode"], task["Restarts"]) == ("COMPLETED", "0:0", "1"), logs
    assert "restart 0)" in logs and "restart 1)" in logs  # both runs, in one appended log
    assert "Traceback" not in logs
    trials = {t.number: t for t in load(cluster.url, "requeue")["none"].get_trials()}
    assert by_state(trials.values()) == {TrialState.COMPLETE: 1, TrialState.FAIL: 1}, logs
    failed = trials[victim.number]
    assert failed.user_attrs["fail_reason"] == "interrupted by SIGTERM"
    [rerun] = [t for t in trials.values() if t.system_attrs.get("failed_trial") == victim.number]
    assert rerun.state == TrialState.COMPLETE and rerun.params == victim.params
    assert rerun.user_attrs["worker"] != victim.user_attrs["worker"]  # the task's second run
