"""Where studies live: storage URLs, opening them, artifacts, and finding experiments.

A storage URL is one of

- ``postgresql+psycopg://user@host:5432/db``: the shared database for many workers on many
  nodes, with heartbeats so that a trial whose worker died is failed and retried
  (``postgresql://`` is read as ``postgresql+psycopg://``);
- a file path, by default ``runs/study.journal``: Optuna's journal file, safe for several worker
  processes on one machine (appends under a file lock; ``SELECT ... FOR UPDATE`` is not needed);
  the embedded default;
- ``sqlite:///path.db``: one worker process at a time.

The URL comes from ``--storage``, else ``$STUDY_STORAGE``, else the default. Passwords never leave
this module in clear: print ``redact(url)`` and pass errors through ``scrub``. Per-trial files
(curves, checkpoints) go to an artifact folder next to the storage (``$STUDY_ARTIFACTS``
overrides it; on a cluster it must be a shared file system).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import os
import re
import urllib.parse
import warnings
from collections.abc import Iterator
from pathlib import Path

import optuna
import sqlalchemy
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend

from study.search.errors import SearchError, StorageError

ENV = "STUDY_STORAGE"
ARTIFACTS_ENV = "STUDY_ARTIFACTS"
DEFAULT_URL = "runs/study.journal"
# Seconds between heartbeats of a running trial (PostgreSQL, SQLite); a trial whose heartbeat is
# older than GRACE_FACTOR intervals is failed and retried by the next worker that claims a trial.
HEARTBEAT_SECONDS = 30
GRACE_FACTOR = 3
# How often one configuration is retried after its worker died or was stopped.
MAX_RETRY = 3
CONNECT_TIMEOUT_SECONDS = 10

_USERINFO = re.compile(r"^(?P<head>[A-Za-z][\w+.-]*://[^:@/]*):(?P<password>.*)@(?P<tail>[^@]*)$")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&#]*)", re.IGNORECASE)
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def resolve_url(url: str | None) -> str:
    """``url``, else ``$STUDY_STORAGE``, else the embedded default; checked and normalised."""
    url = url or os.environ.get(ENV) or DEFAULT_URL
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres"):
        url = f"postgresql+psycopg://{rest}"
    kind(url)
    return url


def kind(url: str) -> str:
    """``"postgresql"``, ``"sqlite"`` or ``"journal"``; a ``StorageError`` for anything else."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        if url.endswith(_SQLITE_SUFFIXES):
            raise StorageError(f"{url} looks like an SQLite file: write sqlite:///{url} (one "
                               "worker at a time), or use a journal file such as "
                               f"{DEFAULT_URL}")
        return "journal"
    scheme = scheme.lower()
    if scheme == "postgresql+psycopg":
        return "postgresql"
    if scheme == "sqlite" and rest.startswith("/"):
        return "sqlite"
    raise StorageError(f"unsupported storage {redact(url)}: accepted are "
                       "postgresql+psycopg://USER@HOST:PORT/DB, sqlite:///FILE and a journal "
                       f"file path such as {DEFAULT_URL}")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``: the only form of a URL that is printed."""
    match = _USERINFO.match(url)
    if match:
        url = f"{match['head']}:***@{match['tail']}"
    return _QUERY_PASSWORD.sub(r"\g<head>***", url)


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, a log line) with ``url``'s password removed."""
    secrets = []
    match = _USERINFO.match(url)
    if match and match["password"]:
        secrets.append(match["password"])
    secrets += [m["password"] for m in _QUERY_PASSWORD.finditer(url) if m["password"]]
    for secret in list(secrets):
        secrets.append(urllib.parse.unquote(secret))
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text.replace(url, redact(url))


def local_path(url: str) -> Path | None:
    """The file of a journal or SQLite storage; ``None`` for a database server."""
    k = kind(url)
    if k == "journal":
        return Path(url)
    if k == "sqlite":
        return Path(url.partition("://")[2][1:])
    return None


def runs_dir(url: str) -> Path:
    """The folder for files next to the storage: artifacts, worker logs."""
    path = local_path(url)
    return path.parent if path is not None else Path("runs")


def artifact_dir(url: str) -> Path:
    return Path(os.environ.get(ARTIFACTS_ENV) or runs_dir(url) / "artifacts")


def artifact_store(url: str) -> FileSystemArtifactStore:
    """The store of per-trial files (curves, checkpoints) for the storage at ``url``."""
    path = artifact_dir(url)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the artifact folder {path}: {exc.strerror}") from None
    return FileSystemArtifactStore(str(path))


def open_storage(url: str | None, *, create: bool = False,
                 heartbeat: int = HEARTBEAT_SECONDS) -> BaseStorage:
    """The Optuna storage at ``url`` (see ``resolve_url``).

    Only ``create=True`` (``study create``) makes a new file or the database tables: creating
    tables from many workers at once can race, and a typo in a URL should not make an empty
    storage. ``heartbeat`` is the interval in seconds for PostgreSQL and SQLite.
    """
    url = resolve_url(url)
    path = local_path(url)
    if path is not None and not create and not path.exists():
        raise StorageError(f"no storage at {path} yet: create an experiment first "
                           "(study create)")
    try:
        if kind(url) == "journal":
            path.parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(str(path)))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine_kwargs: dict = {}
        if kind(url) == "postgresql":
            # Long trials outlive idle connections: test each one before use.
            engine_kwargs = {"pool_pre_ping": True,
                             "connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS}}
        if not create:
            _check_tables(url, engine_kwargs)
        with warnings.catch_warnings():
            # Heartbeats and their retry callback are experimental in Optuna, and chosen here.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat,
                grace_period=GRACE_FACTOR * heartbeat,
                heartbeat_stale_trial_callback=RetryLostTrial(max_retry=MAX_RETRY),
                skip_table_creation=not create,
            )
    except SearchError:
        raise
    except Exception as exc:
        raise storage_error(exc, url) from None


def storage_error(exc: BaseException, url: str) -> StorageError:
    """A one-line ``StorageError`` for a failure of the storage at ``url``, password removed."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    return StorageError(scrub(f"storage {redact(url)} failed: {reason}", url))


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn a database or file failure inside the block into a one-line ``StorageError``."""
    try:
        yield
    except (SearchError, BrokenPipeError):
        raise
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError,
            OSError) as exc:
        raise storage_error(exc, url) from None


def _check_tables(url: str, engine_kwargs: dict) -> None:
    engine = sqlalchemy.create_engine(url, **engine_kwargs)
    try:
        with engine.connect() as connection:
            present = sqlalchemy.inspect(connection).has_table("studies")
    finally:
        engine.dispose()
    if not present:
        raise StorageError(f"no studies in {redact(url)} yet: create an experiment first "
                           "(study create)")


class RetryLostTrial(RetryHeartbeatStaleTrialCallback):
    """``RetryHeartbeatStaleTrialCallback`` that queues the parameters only: user attributes such
    as ``fail_reason`` and metrics belong to the failed trial, not to its rerun."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        params_only = copy.copy(trial)
        params_only.user_attrs = {}
        super().__call__(study, params_only)


def list_experiments(storage: BaseStorage) -> list[str]:
    """Names of the experiments in ``storage``."""
    return sorted({s.user_attrs["experiment_name"] for s in storage.get_all_studies()
                   if "experiment_name" in s.user_attrs})


def experiment_studies(storage: BaseStorage, name: str) -> dict[str, optuna.Study]:
    """The studies of experiment ``name`` by regularizer, in the experiment's order."""
    found = [s for s in storage.get_all_studies() if s.user_attrs.get("experiment_name") == name]
    if not found:
        known = list_experiments(storage)
        raise SearchError(f"no experiment {name!r} in this storage"
                          + (f": known are {', '.join(known)}" if known else " (it is empty)"))
    order = found[0].user_attrs["experiment"]["regularizers"]
    found.sort(key=lambda s: order.index(s.user_attrs["regularizer"]))
    return {s.user_attrs["regularizer"]: optuna.load_study(study_name=s.study_name,
                                                           storage=storage)
            for s in found}


@contextlib.contextmanager
def experiment_lock(url: str, storage: BaseStorage, name: str) -> Iterator[None]:
    """Hold the lock of experiment ``name`` across all its workers.

    Workers count live trials and start one under this lock, so that budgets are exact: a
    transaction-level advisory lock on PostgreSQL (released if the worker dies; works behind
    PgBouncer's transaction pooling), a file lock on the journal or SQLite file.
    """
    path = local_path(url)
    if path is None:
        key = int.from_bytes(hashlib.blake2b(f"study:{name}".encode(), digest_size=8).digest(),
                             "big", signed=True)
        with storage.engine.begin() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": key})
            yield
        return
    with open(path, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
