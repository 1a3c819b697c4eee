"""Storage outages: what is transient, retrying through a window, results kept and recorded
later, workers that survive a 30 s PostgreSQL outage, and no orphans when launch dies."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter

import psycopg
import pytest
import sqlalchemy
from optuna.trial import TrialState

from study.cli import main
from study.search import spool
from study.search.outage import OutageError, Retrier, transient
from study.search.worker import Worker
from tests.search.helpers import (
    ADMIN_URL,
    PASSWORD,
    env,
    load,
    run,
    started_trials,
    study,
    wait_for_training,
    write_experiment,
)
from tests.search.outage import Forwarder


def _failure(url: str, sql: str = "SELECT 1") -> Exception:
    engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(sql))
    except Exception as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{sql} on {url} did not fail")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_only_an_unreachable_server_is_transient():
    server = sqlalchemy.make_url(ADMIN_URL)
    refused = server.set(port=_free_port()).render_as_string(hide_password=False)
    missing = server.set(database="no_such_database_here").render_as_string(hide_password=False)
    assert transient(_failure(refused))
    assert not transient(_failure(missing))  # waiting does not create the database
    assert not transient(_failure(ADMIN_URL, "SELECT 1/0"))
    assert not transient(ValueError("bad data"))


def test_a_pooled_connection_left_mid_command_is_transient_and_retried_on_a_new_one():
    """An outage that cuts off a query can leave a pooled connection mid-command; SQLAlchemy's
    pre-ping then fails with psycopg's "can't change 'autocommit' now" (this killed a worker in
    CI). The pool drops that connection, so the retry reconnects and the step succeeds."""
    engine = sqlalchemy.create_engine(ADMIN_URL, pool_pre_ping=True, pool_size=1,
                                      pool_reset_on_return=None)  # keeps the state on check-in
    try:
        with engine.connect() as connection:
            # a command sent and never read back: the connection goes back to the pool ACTIVE
            connection.connection.dbapi_connection.pgconn.send_query(b"SELECT pg_sleep(0.1)")
        logged, slept = [], []

        def step() -> int:
            with engine.connect() as connection:
                return connection.execute(sqlalchemy.text("SELECT 7")).scalar()

        assert Retrier(60, log=logged.append, sleep=slept.append).call("claiming", step) == 7
        assert len(slept) == 1  # one failed attempt, then a fresh connection
        assert "transaction status ACTIVE" in logged[0] and "back after" in logged[1]
    finally:
        engine.dispose()
    # a client-side refusal with nothing behind it that is not about the connection's state
    assert not transient(psycopg.ProgrammingError("the query has 2 placeholders but 1 parameters"))
    # ... and one raised while handling a real refused connection: that failure decides
    refused = _failure(sqlalchemy.make_url(ADMIN_URL).set(port=_free_port())
                       .render_as_string(hide_password=False))
    try:
        try:
            raise refused.orig
        except psycopg.OperationalError:
            raise psycopg.ProgrammingError("the cursor is closed") from None
    except psycopg.ProgrammingError as refusal:
        assert transient(refusal)


def test_retrier_waits_out_an_outage_and_names_its_cause():
    refused = _failure(sqlalchemy.make_url(ADMIN_URL).set(port=_free_port())
                       .render_as_string(hide_password=False))
    logged, slept = [], []
    attempts = iter([refused, refused, refused, None])

    def step() -> str:
        failure = next(attempts)
        if failure is not None:
            raise failure
        return "done"

    retrier = Retrier(60, log=logged.append, sleep=slept.append)
    assert retrier.call("claiming", step) == "done"
    assert slept == [0.5, 1.0, 2.0]  # exponential backoff
    assert len(logged) == 2 and "unreachable" in logged[0] and "Connection refused" in logged[0]
    assert "back after" in logged[1]
    assert retrier.failed_within(60)

    def never() -> None:
        raise refused

    with pytest.raises(OutageError, match=r"Connection refused.*--outage-window 1e-09"):
        Retrier(1e-9, log=logged.append, sleep=slept.append).call("claiming", never)
    with pytest.raises(sqlalchemy.exc.OperationalError):  # no window: the failure as it is
        Retrier(0, log=logged.append, sleep=slept.append).call("claiming", never)
    with pytest.raises(ZeroDivisionError):  # a mistake is not retried
        Retrier(60, log=logged.append, sleep=slept.append).call("x", lambda: 1 / 0)


def _record(value: float) -> dict:
    return {"val_accuracy": value, "predict_nfe": 10.0, "predict_nfe_warm": 8.0,
            "train_seconds": 1.0, "curves": {"loss": [1.0]}}


def test_a_result_whose_trial_was_failed_meanwhile_is_recorded_on_its_rerun(tmp_path):
    """Another worker took this worker's late heartbeat (an outage) for a lost worker: it failed
    the trial and queued its configuration. The trained result goes to that rerun."""
    url = str(tmp_path / "study.journal")
    assert main(["create", "--name", "adopt", "--config", str(write_experiment(tmp_path, 1)),
                 "--regularizers", "local", "--storage", url]) == 0
    worker: Worker

    def train(config, *, checkpoint, progress):
        study = worker.studies["local"]
        running = study.get_trials(states=(TrialState.RUNNING,))[0]
        if "trained_as_trial" not in running.user_attrs and not running.system_attrs.get(
                "retry_history"):
            # what the reaping worker does: fail the trial, queue its configuration
            worker.storage.set_trial_state_values(running._trial_id, TrialState.FAIL)
            worker._retry(study, worker.storage.get_trial(running._trial_id))
        checkpoint.write_bytes(b"model")
        return _record(0.75)

    worker = Worker(url, "adopt", device="cpu", poll=0.1, train=train)
    assert worker.run().exit_code == 0
    trials = load(url, "adopt")["local"].get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    failed, rerun = trials
    assert rerun.params == failed.params and rerun.values[0] == 0.75
    assert rerun.user_attrs["trained_as_trial"] == failed.number
    assert rerun.user_attrs["config"] == failed.user_attrs["config"]
    assert set(rerun.user_attrs["artifacts"]) == {"curves", "checkpoint"}
    assert worker.complete == 1  # trained once, not again


def test_a_worker_started_during_an_outage_waits_it_out_while_reading_the_experiment(
        tmp_path, monkeypatch):
    # Opening the storage succeeded; reading the experiment's attributes (each a query) fails
    # twice as the server goes away, then works: the worker starts and finishes its budget.
    url = str(tmp_path / "study.journal")
    assert main(["create", "--name", "late", "--config", str(write_experiment(tmp_path, 1)),
                 "--regularizers", "none", "--storage", url]) == 0
    unreachable = _failure(sqlalchemy.make_url(ADMIN_URL).set(port=_free_port())
                           .render_as_string(hide_password=False))
    from study.search import worker as worker_module

    real, calls = worker_module._studies.stored_experiment, []

    def flaky(study):
        calls.append(1)
        if len(calls) <= 2:
            raise unreachable
        return real(study)

    monkeypatch.setattr(worker_module._studies, "stored_experiment", flaky)
    worker = Worker(url, "late", device="cpu", poll=0.1, train=lambda *a, **k: _record(0.5))
    assert len(calls) == 3
    assert worker.run().exit_code == 0
    assert [t.state for t in load(url, "late")["none"].get_trials()] == [TrialState.COMPLETE]


def test_a_result_the_storage_cannot_take_is_spooled_and_recorded_by_the_next_worker(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = str(tmp_path / "study.journal")
    assert main(["create", "--name", "spool", "--config", str(write_experiment(tmp_path, 1)),
                 "--regularizers", "none", "--storage", url]) == 0
    unreachable = _failure(sqlalchemy.make_url(ADMIN_URL).set(port=_free_port())
                           .render_as_string(hide_password=False))

    def train(config, *, checkpoint, progress):
        checkpoint.write_bytes(b"weights")
        return _record(0.5)

    first = Worker(url, "spool", device="cpu", poll=0.1, outage_window=0, train=train)

    def down(*args, **kwargs):
        raise unreachable

    monkeypatch.setattr(first, "_deliver", down)
    result = first.run()
    assert result.exit_code == 4 and "is kept in" in result.message
    entries = spool.pending(first.backend.runs_dir(), "spool")
    assert len(entries) == 1 and (entries[0].path / "model.pt").read_bytes() == b"weights"
    assert [t.state for t in load(url, "spool")["none"].get_trials()] == [TrialState.RUNNING]

    trained_again = []
    second = Worker(url, "spool", device="cpu", poll=0.1,
                    train=lambda *a, **k: trained_again.append(1) or _record(0.1))
    assert second.run().exit_code == 0
    (trial,) = load(url, "spool")["none"].get_trials()
    assert trial.state == TrialState.COMPLETE and trial.values[0] == 0.5
    assert not trained_again and not spool.pending(first.backend.runs_dir(), "spool")
    store = second.artifacts
    with store.open_reader(trial.user_attrs["artifacts"]["checkpoint"]) as reader:
        assert reader.read() == b"weights"


@pytest.mark.postgres
def test_launch_and_three_workers_survive_a_30_second_database_outage(pg_url, tmp_path):
    """The acceptance run: PostgreSQL refuses connections for 30 s while the three workers of a
    `study launch` train (heartbeat 5 s, so every heartbeat is stale when it is back): launch and
    its workers go on, the budget is exact, no trained result is lost, nothing is left RUNNING."""
    url = sqlalchemy.make_url(pg_url)
    forwarder = Forwarder(url.host, url.port or 5432)
    through = url.set(host="127.0.0.1", port=forwarder.port).render_as_string(
        hide_password=False)
    try:
        launch = study("launch", "--name", "blip", "--workers", "3", "--device", "cpu",
                       "--poll", "0.3", "--heartbeat", "5",
                       "--config", str(write_experiment(tmp_path, 5)), cwd=tmp_path,
                       environment=env(STUDY_STORAGE=through))
        # in the middle of trials: a worker is training (a busy machine may start the other
        # two later; with 10 trials there is work left for all three after the outage)
        pids = _training_workers(lambda: load(pg_url, "blip").values(), 1, launch)
        forwarder.refuse()
        time.sleep(30)  # the outage itself
        forwarder.accept()
        assert launch.poll() is None and all(_alive(pid) for pid in pids)  # all survived it
        output = launch.communicate(timeout=400)[0]
    finally:
        forwarder.close()
    assert launch.returncode == 0, output
    assert "the storage is unreachable" in output and "the storage is back" in output
    logs = [p.read_text() for p in sorted((tmp_path / "runs" / "logs").glob("blip.*.log"))]
    assert len(logs) == 3
    text = "\n".join([output, *logs])
    assert "unreachable" in "\n".join(logs)
    assert PASSWORD not in text and "Traceback" not in text
    started = set(started_trials(*logs))
    for regularizer, s in load(pg_url, "blip").items():
        trials = s.get_trials()
        states = Counter(t.state for t in trials)
        assert states[TrialState.COMPLETE] == 5, (regularizer, states)
        assert not states[TrialState.RUNNING] and not states[TrialState.WAITING]
        complete_params = [t.params for t in trials if t.state == TrialState.COMPLETE]
        for t in trials:  # a failed trial: an interrupted claim, or one run again
            if t.state == TrialState.FAIL:
                reason = t.user_attrs["fail_reason"]
                # a claim the outage cut: its own worker failed it ("claim interrupted"), or the
                # outage broke its connection, freeing the lock, and another worker settled it
                # first ("claim abandoned")
                if reason.startswith(("claim interrupted", "claim abandoned")):
                    assert (s.study_name, t.number) not in started  # it never trained
                else:
                    assert reason.startswith("interrupted by a storage failure"), t
                    assert t.params in complete_params  # its configuration ran again
        recorded = {t.user_attrs.get("trained_as_trial", t.number) for t in trials
                    if t.state == TrialState.COMPLETE}
        interrupted = {t.number for t in trials if t.state == TrialState.FAIL}
        assert {n for name, n in started if name == s.study_name} - interrupted <= recorded


def _training_workers(studies, count: int, launch, timeout: float = 300) -> set[int]:
    """The pids of ``count`` workers of ``launch`` training a trial (RUNNING with its
    configuration)."""
    deadline = time.monotonic() + timeout
    pids: set[int] = set()
    while time.monotonic() < deadline:
        if launch.poll() is not None:
            raise AssertionError(f"launch ended with {launch.returncode}: "
                                 f"{launch.communicate()[0]}")
        try:
            pids = {int(t.user_attrs["worker"].rpartition(":")[2])
                    for s in studies() for t in s.get_trials(
                        deepcopy=False, states=(TrialState.RUNNING,))
                    if "config" in t.user_attrs}
        except Exception:  # not created yet
            pids = set()
        if len(pids) >= count:
            return pids
        time.sleep(0.2)
    raise AssertionError(f"{count} workers did not start training within {timeout} s: {pids}")


def test_killing_launch_stops_its_workers(tmp_path):
    """``kill -9`` of ``study launch``: its workers get SIGTERM (parent-death signal), fail
    their trials as interrupted and queue them again; none goes on alone."""
    launch = study("launch", "--name", "orphans", "--workers", "2", "--poll", "0.3",
                   "--device", "cpu", "--config", str(write_experiment(tmp_path, 4)),
                   cwd=tmp_path)
    url = str(tmp_path / "runs" / "study.journal")
    pids = _training_workers(lambda: load(url, "orphans").values(), 2, launch)
    launch.send_signal(signal.SIGKILL)
    launch.communicate(timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids), "workers outlived their launch"
    for s in load(url, "orphans").values():
        trials = s.get_trials()
        assert not [t for t in trials if t.state == TrialState.RUNNING]
        for t in trials:
            if t.state == TrialState.FAIL:
                assert t.user_attrs["fail_reason"] == "interrupted by SIGTERM"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_sighup_stops_a_worker_like_sigterm(tmp_path):
    url = str(tmp_path / "study.journal")
    assert main(["create", "--name", "hup", "--config", str(write_experiment(tmp_path, 2)),
                 "--regularizers", "none", "--storage", url]) == 0
    worker = study("worker", "--name", "hup", "--device", "cpu", "--storage", url,
                   cwd=tmp_path)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not load(url, "hup")["none"].get_trials(
            states=(TrialState.RUNNING,)):
        time.sleep(0.1)
    worker.send_signal(signal.SIGHUP)
    output = worker.communicate(timeout=60)[0]
    assert worker.returncode == 128 + signal.SIGHUP, output
    states = Counter(t.state for t in load(url, "hup")["none"].get_trials())
    assert states == {TrialState.FAIL: 1, TrialState.WAITING: 1}, output


@pytest.mark.postgres
def test_workers_ride_out_backends_terminated_every_300_ms(pg_url, tmp_path):
    """A server that keeps killing its connections (pg_terminate_backend every 0.3 s for 15 s,
    as in a failover storm): every worker ends well with the exact budget."""
    database = sqlalchemy.make_url(pg_url).database
    assert run("create", "--name", "storm", "--config", str(write_experiment(tmp_path, 2)),
               "--storage", pg_url, cwd=tmp_path).returncode == 0
    environment = env(STUDY_STORAGE=pg_url)
    workers = [study("worker", "--name", "storm", "--device", "cpu", "--poll", "0.3",
                     cwd=tmp_path, environment=environment) for _ in range(2)]
    for worker in workers:
        wait_for_training(pg_url, "storm", worker.pid, timeout=180)
    admin = sqlalchemy.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    terminated = 0
    try:
        with admin.connect() as connection:
            end = time.monotonic() + 15
            while time.monotonic() < end:
                terminated += connection.execute(sqlalchemy.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database}).scalar()
                time.sleep(0.3)
    finally:
        admin.dispose()
    assert terminated > 0
    outputs = [w.communicate(timeout=400)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert "Traceback" not in "\n".join(outputs)
    for s in load(pg_url, "storm").values():
        states = Counter(t.state for t in s.get_trials())
        assert states[TrialState.COMPLETE] == 2 and not states[TrialState.RUNNING], states


def test_a_claim_whose_lock_is_lost_is_abandoned_and_claimed_again(tmp_path):
    """The connection holding the experiment lock dies as the claim ends (its commit fails):
    the claimed trial never trains, is failed as an interrupted claim, and the worker claims
    again; the budget stays exact."""
    import contextlib

    url = str(tmp_path / "study.journal")
    assert main(["create", "--name", "lost", "--config", str(write_experiment(tmp_path, 2)),
                 "--regularizers", "none", "--storage", url]) == 0
    unreachable = _failure(sqlalchemy.make_url(ADMIN_URL).set(port=_free_port())
                           .render_as_string(hide_password=False))
    worker = Worker(url, "lost", device="cpu", poll=0.1,
                    train=lambda *a, **k: _record(0.5))
    real_lock = worker.backend.lock
    failures = iter([True])

    @contextlib.contextmanager
    def lock(storage, name):
        with real_lock(storage, name):
            yield
        if next(failures, False):
            raise unreachable

    worker.backend.lock = lock
    worker.retrier.sleep = lambda seconds: None
    assert worker.run().exit_code == 0
    trials = load(url, "lost")["none"].get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[0].user_attrs["fail_reason"].startswith("claim interrupted")
    assert worker.complete == 2
