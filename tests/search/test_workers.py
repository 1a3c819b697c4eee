"""Workers on the shared PostgreSQL: exact budgets, SIGKILL and SIGTERM, divergence.

Every trial is a real one-epoch digits run in `study worker` subprocesses.
"""

from __future__ import annotations

import io
import signal
import socket
import subprocess
from collections import Counter

import pytest
from optuna.trial import TrialState

from study.cli import main
from study.search.worker import Worker
from tests.search.helpers import (
    PASSWORD,
    env,
    load,
    run,
    started_trials,
    study,
    wait_for_training,
    write_experiment,
)

pytestmark = pytest.mark.postgres


def test_four_workers_meet_the_budget_exactly_and_run_no_trial_twice(pg_url, tmp_path):
    created = run("create", "--name", "four", "--config", str(write_experiment(tmp_path, 6)),
                  "--storage", pg_url, cwd=tmp_path)
    assert created.returncode == 0, created.stdout
    workers = [study("worker", "--name", "four", "--storage", pg_url, "--poll", "0.3",
                     "--device", "cpu", cwd=tmp_path) for _ in range(4)]
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0], outputs
    status = run("status", "--name", "four", "--storage", pg_url, cwd=tmp_path)
    for text in [created.stdout, status.stdout, *outputs]:
        assert PASSWORD not in text
        assert "Traceback" not in text
    started = started_trials(*outputs)
    assert len(started) == len(set(started)) == 12  # no trial number run twice
    assert sum(bool(started_trials(w)) for w in outputs) > 1  # the work was shared
    for regularizer, s in load(pg_url, "four").items():
        trials = s.get_trials()
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 6, regularizer
        assert sorted(t.number for t in trials) == list(range(6))
        assert {(s.study_name, t.number) for t in trials} <= set(started)
        for t in trials:
            assert t.user_attrs["config"]["regularizer"] == regularizer
            assert t.user_attrs["config"]["rtol"] == t.params["rtol"]
            assert {"predict_nfe", "val_accuracy", "train_seconds"} <= set(t.user_attrs)
            assert set(t.user_attrs["artifacts"]) == {"curves", "checkpoint"}


def test_sigkilled_worker_trial_fails_and_its_configuration_is_rerun(pg_url, tmp_path):
    config = str(write_experiment(tmp_path, 2))
    environment = env(STUDY_STORAGE=pg_url)  # the URL through the environment, this time
    assert run("create", "--name", "kill", "--config", config, "--regularizers", "local",
               cwd=tmp_path, environment=environment).returncode == 0
    worker = ["worker", "--name", "kill", "--heartbeat", "1", "--poll", "0.3", "--device", "cpu"]
    victim = study(*worker, cwd=tmp_path, environment=environment)
    killed = wait_for_training(pg_url, "kill", victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    survivor = study(*worker, cwd=tmp_path, environment=environment)
    output = survivor.communicate(timeout=180)[0]
    assert survivor.returncode == 0, output
    trials = {t.number: t for t in load(pg_url, "kill")["local"].get_trials()}
    lost = trials[killed.number]
    assert lost.state == TrialState.FAIL
    assert "no heartbeat" in lost.user_attrs["fail_reason"]
    reruns = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(reruns) == 1 and reruns[0].state == TrialState.COMPLETE
    # Compared with the killed trial as stored now, not with the snapshot taken while it was
    # being claimed: Optuna reads a trial's params and user attributes in separate SELECTs, so
    # under load that snapshot can hold its config but miss the parameters chosen just before.
    assert set(lost.params) == {"rtol", "weight", "sampling"}
    assert {k: lost.user_attrs["config"][k] for k in lost.params} == lost.params
    assert reruns[0].params == lost.params and "fail_reason" not in reruns[0].user_attrs
    states = Counter(t.state for t in trials.values())
    assert states == {TrialState.COMPLETE: 2, TrialState.FAIL: 1}


def test_sigterm_fails_the_running_trial_and_queues_it_again(pg_url, tmp_path):
    config = str(write_experiment(tmp_path, 3))
    environment = env(STUDY_STORAGE=pg_url)
    assert run("create", "--name", "term", "--config", config, "--regularizers", "none",
               cwd=tmp_path, environment=environment).returncode == 0
    worker = study("worker", "--name", "term", "--device", "cpu", cwd=tmp_path,
                   environment=environment)
    stopped = wait_for_training(pg_url, "term", worker.pid)
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=60)[0]
    assert worker.returncode == 128 + signal.SIGTERM, output
    assert "Traceback" not in output
    trials = load(pg_url, "term")["none"].get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    failed = trials[stopped.number]
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs["fail_reason"] == "interrupted by SIGTERM"
    waiting = [t for t in trials if t.state == TrialState.WAITING]
    assert len(waiting) == 1 and waiting[0].params == stopped.params


def test_diverging_trials_fail_with_their_reason_until_the_study_gives_up(tmp_path, capsys):
    url = str(tmp_path / "study.journal")
    (tmp_path / "diverge.toml").write_text(
        'regularizers = ["none"]\ntrials = 3\nmax_failed = 2\nsampler = "random"\n'
        '[train]\ntask = "digits"\nepochs = 1\nmax_steps = 1\n'
        '[search]\nrtol = { low = 1e-4, high = 1e-2, log = true }\n')
    assert main(["create", "--name", "div", "--config", str(tmp_path / "diverge.toml"),
                 "--storage", url]) == 0
    result = Worker(url, "div", device="cpu", poll=0.1).run()
    assert result.exit_code == 1 and "gave up on div.none after 2 failed" in result.message
    trials = load(url, "div")["none"].get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] * 2
    assert all(t.user_attrs["fail_reason"].startswith("diverged (step-budget)") for t in trials)
    assert load(url, "div")["none"].user_attrs["budget"] == 3


def test_trial_of_a_dead_local_process_is_failed_and_rerun_on_the_embedded_default(tmp_path):
    url = str(tmp_path / "study.journal")
    assert main(["create", "--name", "dead", "--config", str(write_experiment(tmp_path, 1)),
                 "--regularizers", "none", "--storage", url]) == 0
    gone = subprocess.Popen(["true"])
    gone.wait()  # ended and reaped: no process has its pid
    none = load(url, "dead")["none"]
    orphan = none.ask()
    orphan.set_user_attr("worker", f"{socket.gethostname()}:{gone.pid}")
    rtol = orphan.suggest_float("rtol", 1e-4, 1e-2, log=True)
    orphan.set_user_attr("config", {"rtol": rtol})  # claimed: its configuration is recorded
    result = Worker(url, "dead", device="cpu", poll=0.1).run()
    assert result.exit_code == 0
    lost, rerun = load(url, "dead")["none"].get_trials()
    assert lost.state == TrialState.FAIL
    assert lost.user_attrs["fail_reason"] == "worker lost: its process is gone"
    assert rerun.state == TrialState.COMPLETE and rerun.params == lost.params
    assert rerun.system_attrs["failed_trial"] == lost.number



@pytest.mark.parametrize("debug", ["0", "1"])
def test_a_trial_that_raises_is_one_line_unless_debugging(debug, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDY_DEBUG", debug)
    url = str(tmp_path / "study.journal")
    (tmp_path / "raise.toml").write_text(
        'regularizers = ["none"]\ntrials = 2\nmax_failed = 1\nsampler = "random"\n'
        '[train]\ntask = "digits"\nepochs = 1\n[search]\nrtol = { low = 1e-4, high = 1e-2 }\n')
    assert main(["create", "--name", "r", "--config", str(tmp_path / "raise.toml"),
                 "--storage", url]) == 0

    def broken(config, **kwargs):
        raise RuntimeError("no data in /nowhere\nsecond line")

    out = io.StringIO()
    result = Worker(url, "r", device="cpu", poll=0.1, train=broken, out=out).run()
    assert result.exit_code == 1
    (trial,) = load(url, "r")["none"].get_trials()
    assert trial.user_attrs["fail_reason"] == "error: RuntimeError: no data in /nowhere"
    assert "trial 0 FAIL: RuntimeError: no data in /nowhere\n" in out.getvalue()
    assert ("Traceback (most recent call last)" in out.getvalue()) == (debug == "1")
