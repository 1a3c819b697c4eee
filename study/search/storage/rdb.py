"""Relational databases through Optuna's ``RDBStorage``, with heartbeats: a RUNNING trial whose
heartbeat is older than the grace period has lost its worker.

- ``postgresql+psycopg://user@host:5432/db``: the shared database for many workers on many nodes
  (``postgresql://`` is read as ``postgresql+psycopg://``); connections are tested before use,
  since long trials outlive idle connections; the experiment lock is a transaction-level advisory
  lock (released if the worker dies; works behind PgBouncer's transaction pooling), and so is
  the lock under which ``study create`` makes the tables: concurrent creates on an empty
  database would otherwise race in PostgreSQL's catalog (``duplicate key value violates unique
  constraint "pg_type_typname_nsp_index"``).
- ``sqlite:///path.db``: one worker process at a time.

A PostgreSQL worker's connection pool is explicit (``POOL``): the experiment lock holds one
connection while storage calls use a second and the heartbeat thread may need a third; two stay
open between calls. ``$STUDY_DB_POOL`` changes it for the processes that see it: ``SIZE+OVERFLOW``
(connections kept open + extra ones opened when needed), or ``0`` for none kept (a new connection
per call: fewest connections, a connect per call). N workers need N times the peak under the
server's ``max_connections`` (``benchmarks/scale.py`` measures it).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.storages import BaseStorage, RDBStorage

from study.search.errors import SearchError, StorageError
from study.search.storage import _locks, artifacts
from study.search.storage.base import (
    ARTIFACTS_ENV,
    GRACE_FACTOR,
    HEARTBEAT_SECONDS,
    MAX_RETRY,
    Backend,
    RetryLostTrial,
)
from study.search.storage.journal import file_lock

CONNECT_TIMEOUT_SECONDS = 10
POOL_ENV = "STUDY_DB_POOL"
#: (connections kept open, extra connections opened when needed) of one process's engine
POOL = (2, 1)


def pool_setting(text: str | None) -> tuple[int, int]:
    """``$STUDY_DB_POOL``: ``SIZE+OVERFLOW``, ``SIZE`` or ``0``; unset: ``POOL``."""
    if not text:
        return POOL
    size, _, overflow = text.partition("+")
    try:
        pool = (int(size), int(overflow or 0))
    except ValueError:
        pool = (-1, -1)
    if min(pool) < 0 or (pool[0] == 0 and pool[1] != 0) or (pool[0] and sum(pool) < 2):
        raise StorageError(f"${POOL_ENV}={text!r}: expected SIZE+OVERFLOW with at least 2 "
                           "connections in all (the lock's and one for calls), or 0 (a new "
                           "connection per call)")
    return pool


class _Database(Backend):
    def engine_kwargs(self) -> dict:
        return {}

    def open(self, *, create: bool = False, heartbeat: int = HEARTBEAT_SECONDS) -> BaseStorage:
        try:
            if not create:
                self._check_tables()
            with self._schema_lock() if create else contextlib.nullcontext(), \
                    warnings.catch_warnings():
                # Heartbeats and their retry callback are experimental in Optuna, and chosen here.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    self.url,
                    engine_kwargs=self.engine_kwargs(),
                    heartbeat_interval=heartbeat,
                    grace_period=GRACE_FACTOR * heartbeat,
                    heartbeat_stale_trial_callback=RetryLostTrial(max_retry=MAX_RETRY),
                    skip_table_creation=not create,
                )
        except SearchError:
            raise
        except Exception as exc:
            raise self.error(exc) from None

    def _schema_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held while Optuna creates its tables (``open(create=True)``)."""
        return contextlib.nullcontext()

    def _check_tables(self) -> None:
        """Optuna's tables are there and complete. Optuna makes ``studies`` first and stamps
        ``alembic_version`` last (table and row in one transaction), and every ``RDBStorage``
        stamps it if it finds no revision: an open between the two would race the creator in
        PostgreSQL's catalog (``duplicate key value violates unique constraint
        "pg_type_typname_nsp_index"``, seen when a worker or ``study status`` opens while
        ``study launch`` creates). So an open that finds the tables half made waits for the
        creator's schema lock, and reads again."""
        if self._tables() == "partial":
            with self._schema_lock():
                pass
        if self._tables() != "complete":
            raise StorageError(f"no studies in {self.label} yet: create an experiment first "
                               "(study create)")

    def _tables(self) -> str:
        """``"none"``, ``"partial"`` (being created) or ``"complete"``."""
        engine = sqlalchemy.create_engine(self.url, **self.engine_kwargs())
        try:
            with engine.connect() as connection:
                inspector = sqlalchemy.inspect(connection)
                if not inspector.has_table("studies"):
                    return "none"
                if not inspector.has_table("alembic_version"):
                    return "partial"
                revision = connection.execute(
                    sqlalchemy.text("SELECT version_num FROM alembic_version")).first()
                return "complete" if revision else "partial"
        finally:
            engine.dispose()

    def heartbeat_interval(self, storage: BaseStorage) -> int | None:
        return storage.get_heartbeat_interval()

    def lost_trials(self, storage: BaseStorage, study: optuna.Study) -> tuple[list[int], str]:
        interval = storage.get_heartbeat_interval()
        # Optuna's own fail_stale_trials cannot say why: attributes of a FAIL trial are
        # read-only, so the reason is written while the trial is still RUNNING.
        return (storage._get_stale_trial_ids(study._study_id),
                f"worker lost: no heartbeat for over {GRACE_FACTOR * interval} s")


class PostgreSQL(_Database):
    def __init__(self, url: str):
        super().__init__(url)
        #: ``(pool_size, max_overflow)`` of its engines (``POOL``, ``$STUDY_DB_POOL``)
        self.pool = pool_setting(os.environ.get(POOL_ENV))

    def engine_kwargs(self) -> dict:
        # Long trials outlive idle connections: test each one before use.
        kwargs: dict[str, Any] = {"pool_pre_ping": True,
                                  "connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS}}
        size, overflow = self.pool
        if size == 0:
            kwargs["poolclass"] = sqlalchemy.pool.NullPool
        else:
            kwargs.update(pool_size=size, max_overflow=overflow)
        return kwargs

    @classmethod
    def accepts(cls, url: str) -> bool:
        return url.partition("://")[0].lower() == "postgresql+psycopg"

    @contextlib.contextmanager
    def lock(self, storage: BaseStorage, name: str) -> Iterator[None]:
        with _locks.held(storage.engine, _locks.experiment(name)):
            yield

    @contextlib.contextmanager
    def _schema_lock(self) -> Iterator[None]:
        engine = sqlalchemy.create_engine(self.url, **self.engine_kwargs())
        try:
            with engine.begin() as connection:
                _locks.hold(connection, _locks.SCHEMA)
                yield
        finally:
            engine.dispose()

    def runs_dir(self) -> Path:
        return Path("runs")

    def default_artifacts(self) -> str:
        """In the database itself, which every worker reaches, unless ``$STUDY_ARTIFACTS``
        names a (shared) folder."""
        return super().default_artifacts() if os.environ.get(ARTIFACTS_ENV) else \
            artifacts.DATABASE

    def artifact_store(self, where: str | None = None) -> Any:
        where = where or self.default_artifacts()
        return artifacts.open_store(where, self.url, self.engine_kwargs())


class SQLite(_Database):
    max_workers = 1

    @classmethod
    def accepts(cls, url: str) -> bool:
        scheme, _, rest = url.partition("://")
        return scheme.lower() == "sqlite" and rest.startswith("/")

    @property
    def path(self) -> Path:
        return Path(self.url.partition("://")[2][1:])

    def open(self, *, create: bool = False, heartbeat: int = HEARTBEAT_SECONDS) -> BaseStorage:
        if not create and not self.path.exists():
            raise StorageError(f"no storage at {self.path} yet: create an experiment first "
                               "(study create)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return super().open(create=create, heartbeat=heartbeat)

    def lock(self, storage: BaseStorage, name: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.path)

    def runs_dir(self) -> Path:
        return self.path.parent
