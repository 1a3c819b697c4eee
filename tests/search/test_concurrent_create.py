"""Several ``study create`` of one experiment at once on a fresh PostgreSQL database: every one
succeeds and one experiment exists (the tables and the studies are created under locks)."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import threading
import time

import optuna
import pytest
import sqlalchemy

from study.search.errors import StorageError
from study.search.storage import _locks, list_experiments, open_storage
from tests.search.helpers import load, write_experiment

pytestmark = pytest.mark.postgres

CREATES = 4


def _create(barrier, results, args: list[str]) -> None:
    from study.cli import main  # imported before the barrier: the creates start together

    out, err = io.StringIO(), io.StringIO()
    barrier.wait(timeout=120)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    results.put((code, out.getvalue() + err.getvalue()))


def test_concurrent_creates_on_a_fresh_database_all_succeed_with_one_experiment(pg_url,
                                                                                 tmp_path):
    args = ["create", "--name", "race", "--config", str(write_experiment(tmp_path, 2)),
            "--storage", pg_url]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(CREATES), context.Queue()
    processes = [context.Process(target=_create, args=(barrier, results, args))
                 for _ in range(CREATES)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [code for code, _ in outcomes] == [0] * CREATES, outcomes
    created = [text for _, text in outcomes if text.startswith("created experiment race")]
    assert len(created) == 1, outcomes
    assert list_experiments(open_storage(pg_url)) == ["race"]
    assert sorted(load(pg_url, "race")) == ["local", "none"]


def _alembic_rows(url: str) -> list[str] | None:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            if not sqlalchemy.inspect(connection).has_table("alembic_version"):
                return None
            return list(connection.execute(
                sqlalchemy.text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def test_an_open_of_half_made_tables_refuses_and_writes_nothing(pg_url):
    """``studies`` made but no revision stamped (a creator stopped between the two): an open
    that does not create names the missing experiment and stamps nothing itself."""
    engine = sqlalchemy.create_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE studies (study_id integer)"))
    engine.dispose()
    with pytest.raises(StorageError, match=r"no studies in .* yet: create an experiment first"):
        open_storage(pg_url)
    assert _alembic_rows(pg_url) is None


def test_an_open_during_table_creation_waits_for_the_creator(pg_url):
    """A worker or ``study status`` opening while ``study launch`` creates the tables (they are
    made, the revision not yet stamped) waits on the creator's schema lock instead of stamping
    the revision beside it (which raced in PostgreSQL's catalog), then opens the finished
    tables."""
    open_storage(pg_url, create=True)
    revisions = _alembic_rows(pg_url)
    assert revisions
    engine = sqlalchemy.create_engine(pg_url)
    opened: list[object] = []
    try:
        with engine.begin() as creator:
            _locks.hold(creator, _locks.SCHEMA)
            with engine.begin() as other:  # the tables as a creator leaves them before stamping
                other.execute(sqlalchemy.text("DELETE FROM alembic_version"))
            opener = threading.Thread(
                target=lambda: opened.append(_open_or_error(pg_url)), daemon=True)
            opener.start()
            _wait_for_a_lock_waiter(engine)
            assert opener.is_alive() and not opened
            with engine.begin() as other:  # the creator stamps, then releases the lock
                other.execute(sqlalchemy.text("INSERT INTO alembic_version VALUES (:revision)"),
                              {"revision": revisions[0]})
        opener.join(timeout=120)
    finally:
        engine.dispose()
    assert len(opened) == 1 and isinstance(opened[0], optuna.storages.RDBStorage), opened
    assert _alembic_rows(pg_url) == revisions


def _open_or_error(url: str) -> object:
    try:
        return open_storage(url)
    except Exception as exc:  # reported by the test's assertion
        return exc


def _wait_for_a_lock_waiter(engine: sqlalchemy.Engine, timeout: float = 120.0) -> None:
    """Until a session waits for an advisory lock (a condition, not a tuned sleep)."""
    deadline = time.monotonic() + timeout
    query = sqlalchemy.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                            "AND NOT granted")
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(query).scalar():
                return
        time.sleep(0.05)
    raise AssertionError(f"no open waited for the schema lock within {timeout} s")
