"""Workers through `study proxy` (grpc://): exact budgets, a SIGKILL'd worker, the experiment
lock shared with direct workers, status/export/dashboard; each against a real PostgreSQL and a
real proxy subprocess on a free port."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from optuna.trial import TrialState

from study import report
from study.cli import main
from study.search.storage._locks import experiment as experiment_lock_key
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

ADDRESS = re.compile(r"at (grpc://127\.0\.0\.1:\d+)")


class Proxy:
    def __init__(self, pg_url: str, cwd: Path):
        self.process = study("proxy", "--storage", pg_url, "--port", "0", cwd=cwd)
        self.lines: list[str] = []
        found = threading.Event()

        def read() -> None:
            for line in self.process.stdout:
                self.lines.append(line)
                if ADDRESS.search(line):
                    found.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not found.wait(120):
            self.process.kill()
            raise AssertionError(f"the proxy printed no address: {self.lines}")
        self.url = ADDRESS.search("".join(self.lines))[1]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.reader.join(timeout=10)
        return "".join(self.lines)


@pytest.fixture
def proxy(pg_url, tmp_path) -> Iterator[Proxy]:
    """A `study proxy` subprocess over the test database; stopped by SIGTERM afterwards, which
    must end it cleanly."""
    # The proxy serves an existing database: the tables come with the first `study create`.
    config = str(write_experiment(tmp_path, 1))
    assert run("create", "--name", "first", "--config", config, "--regularizers", "none",
               "--storage", pg_url, cwd=tmp_path).returncode == 0
    served = Proxy(pg_url, tmp_path)
    try:
        yield served
    finally:
        if served.process.poll() is None:
            output = served.stop()
            assert served.process.returncode == 0, output
            assert PASSWORD not in output and "Traceback" not in output
            assert sum(bool(ADDRESS.search(line)) for line in served.lines) == 1


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def test_three_workers_through_the_proxy_meet_the_budget_exactly(pg_url, proxy, tmp_path):
    assert run("create", "--name", "three", "--config", str(write_experiment(tmp_path, 3)),
               "--storage", pg_url, cwd=tmp_path).returncode == 0
    workers = [study("worker", "--name", "three", "--storage", proxy.url, "--poll", "0.3",
                     "--device", "cpu", cwd=tmp_path) for _ in range(3)]
    outputs = [w.communicate(timeout=400)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    started = started_trials(*outputs)
    assert len(started) == len(set(started)) == 6  # no trial number run twice
    for regularizer, s in load(pg_url, "three").items():
        trials = s.get_trials()
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, regularizer
        assert {(s.study_name, t.number) for t in trials} <= set(started)
        for t in trials:
            assert t.user_attrs["worker"].split(":")[1] in {str(w.pid) for w in workers}
            assert set(t.user_attrs["artifacts"]) == {"curves", "checkpoint"}

    status = run("status", "--name", "three", "--storage", proxy.url, cwd=tmp_path)
    assert status.returncode == 0, status.stdout
    assert re.search(r"^none\s+3/3\s+0\s+0", status.stdout, re.MULTILINE), status.stdout
    assert re.search(r"^local\s+3/3\s+0\s+0", status.stdout, re.MULTILINE), status.stdout
    # Export through the proxy, from a directory without the database: the checkpoints are
    # downloaded from the database through the proxy and timed.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exported = run("export", "--name", "three", "--storage", proxy.url, "--out", "out",
                   "--format", "md", "--rounds", "1", "--no-publish", cwd=elsewhere,
                   timeout=300)
    assert exported.returncode == 0, exported.stdout
    summary = (elsewhere / "out" / "three-summary.md").read_text()
    assert "not measured" not in summary and "µs/NFE" in summary

    served = report.open_dashboard(proxy.url, host="127.0.0.1", port=0)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        base = served.url.removesuffix("/dashboard/")
        assert json.loads(_get(f"{base}/api/meta"))["artifact_is_available"] is True
        listed = {s["study_name"]: s["study_id"]
                  for s in json.loads(_get(f"{base}/api/studies"))["study_summaries"]}
        assert {"three.none", "three.local"} <= set(listed)
        trial = load(pg_url, "three")["local"].trials[0]
        curves = json.loads(_get(f"{base}/artifacts/{listed['three.local']}/{trial._trial_id}/"
                                 f"{trial.user_attrs['artifacts']['curves']}"))
        assert len(curves["val_accuracy"]) == 1
    finally:
        served.shutdown()
        thread.join(timeout=10)
    for text in [status.stdout, exported.stdout, *outputs]:
        assert PASSWORD not in text
        assert "Traceback" not in text


def test_a_sigkilled_worker_behind_the_proxy_is_failed_and_its_configuration_rerun(
        pg_url, proxy, tmp_path):
    config = str(write_experiment(tmp_path, 2))
    assert run("create", "--name", "kill", "--config", config, "--regularizers", "local",
               "--storage", pg_url, cwd=tmp_path).returncode == 0
    environment = env(STUDY_STORAGE=proxy.url)
    worker = ["worker", "--name", "kill", "--heartbeat", "1", "--poll", "0.3", "--device", "cpu"]
    victim = study(*worker, cwd=tmp_path, environment=environment)
    killed = wait_for_training(pg_url, "kill", victim.pid, timeout=120)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    survivor = study(*worker, cwd=tmp_path, environment=environment)
    output = survivor.communicate(timeout=300)[0]
    assert survivor.returncode == 0, output
    assert "no heartbeat for over 3 s; queued again" in output
    trials = {t.number: t for t in load(pg_url, "kill")["local"].get_trials()}
    lost = trials[killed.number]
    assert lost.state == TrialState.FAIL
    assert "no heartbeat" in lost.user_attrs["fail_reason"]
    reruns = [t for t in trials.values() if t.system_attrs.get("failed_trial") == killed.number]
    assert len(reruns) == 1 and reruns[0].state == TrialState.COMPLETE
    assert reruns[0].params == killed.params and "fail_reason" not in reruns[0].user_attrs
    assert Counter(t.state for t in trials.values()) == {TrialState.COMPLETE: 2,
                                                         TrialState.FAIL: 1}


HOLD = """\
import sys
from study.search.storage import backend
store = backend(sys.argv[1])
storage = store.open()
with store.lock(storage, "shared"):
    print("held", flush=True)
    sys.stdin.read()
"""


def _direct_lock_free(pg_url: str) -> bool:
    engine = sqlalchemy.create_engine(pg_url)
    try:
        with engine.begin() as connection:
            return connection.execute(sqlalchemy.text("SELECT pg_try_advisory_xact_lock(:k)"),
                                      {"k": experiment_lock_key("shared")}).scalar_one()
    finally:
        engine.dispose()


def test_the_lock_through_the_proxy_excludes_direct_workers_until_its_holder_dies(
        pg_url, proxy, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, proxy.url], cwd=tmp_path, env=env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert not _direct_lock_free(pg_url)  # a direct worker cannot take it meanwhile
        holder.send_signal(signal.SIGKILL)  # dies holding it
        holder.wait(timeout=30)
        deadline = time.monotonic() + 60
        while not _direct_lock_free(pg_url):
            assert time.monotonic() < deadline, "the dead holder's lock was never released"
            time.sleep(0.1)
    finally:
        holder.kill()
        holder.wait()


def test_bad_proxy_urls_and_uses_are_one_line_errors(pg_url, proxy, tmp_path, capsys):
    assert main(["status", "--storage", "grpc://127.0.0.1:1"]) == 4
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no study proxy answers at grpc://127.0.0.1:1" in error
    assert main(["status", "--storage", "grpc://127.0.0.1"]) == 4
    assert "expected grpc://HOST:PORT" in capsys.readouterr().err
    config = str(write_experiment(tmp_path, 1))
    assert main(["create", "--name", "x", "--config", config, "--storage", proxy.url]) == 4
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "create experiments on the database itself" in error
    assert main(["proxy", "--storage", str(tmp_path / "study.journal"), "--port", "0"]) == 4
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "serves a PostgreSQL database" in error
