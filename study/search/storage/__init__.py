"""Where studies live: storage URLs, their backends, and finding experiments in a storage.

A storage URL is one of

- a file path, by default ``runs/study.journal``: Optuna's journal file, safe for several worker
  processes on one machine; the embedded default (``JournalFile``);
- ``postgresql+psycopg://user@host:5432/db``: the shared database for many workers on many nodes,
  with heartbeats (``PostgreSQL``);
- ``sqlite:///path.db``: one worker process at a time (``SQLite``);
- ``grpc://host:port``: a PostgreSQL database behind ``study proxy``, for many workers on few
  database connections (``Proxy``; the server is ``proxy_server``).

The URL comes from ``--storage``, else ``$STUDY_STORAGE``, else the default; ``backend(url)`` is
the object that knows how to open it, lock an experiment, find lost workers and keep artifacts
(``study.search.storage.base.Backend``). Passwords never leave this package in clear: print
``redact(url)`` and pass errors through ``scrub``. Per-trial files (curves, checkpoints) go to an
artifact folder next to the storage (``$STUDY_ARTIFACTS`` overrides it; on a cluster it must be a
shared file system).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.storages import BaseStorage

from study.search.errors import SearchError, StorageError
from study.search.storage import urls
from study.search.storage.base import (
    ARTIFACTS_ENV,
    GRACE_FACTOR,
    HEARTBEAT_SECONDS,
    MAX_RETRY,
    Backend,
    RetryLostTrial,
    redact,
    scrub,
)
from study.search.storage.journal import JournalFile
from study.search.storage.proxy import Proxy
from study.search.storage.rdb import PostgreSQL, SQLite

ENV = "STUDY_STORAGE"
DEFAULT_URL = "runs/study.journal"
_BACKENDS: tuple[type[Backend], ...] = (PostgreSQL, Proxy, SQLite, JournalFile)


def resolve_url(url: str | None) -> str:
    """``url``, else ``$STUDY_STORAGE``, else the embedded default; checked and normalised."""
    return backend(url).url


def backend(url: str | None) -> Backend:
    """The backend of the storage at ``url``, else ``$STUDY_STORAGE``, else the default
    (``postgresql://`` is read as ``postgresql+psycopg://``; a password is percent-encoded,
    ``study.search.storage.urls``)."""
    url = urls.normalise(url or os.environ.get(ENV) or DEFAULT_URL)
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres"):
        url = f"postgresql+psycopg://{rest}"
    for cls in _BACKENDS:
        if cls.accepts(url):
            return cls(url)
    raise StorageError(f"unsupported storage {redact(url)}: accepted are "
                       "postgresql+psycopg://USER@HOST:PORT/DB, grpc://HOST:PORT (study proxy), "
                       f"sqlite:///FILE and a journal file path such as {DEFAULT_URL}")


def open_storage(url: str | None, *, create: bool = False,
                 heartbeat: int = HEARTBEAT_SECONDS) -> BaseStorage:
    """The Optuna storage at ``url`` (see ``Backend.open``)."""
    return backend(url).open(create=create, heartbeat=heartbeat)


def artifact_store(url: str | None) -> FileSystemArtifactStore:
    """The store of per-trial files (curves, checkpoints) for the storage at ``url``."""
    return backend(url).artifact_store()


def storage_error(exc: BaseException, url: str) -> StorageError:
    """A one-line ``StorageError`` for a failure of the storage at ``url``, password removed."""
    return backend(url).error(exc)


@contextlib.contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn a database or file failure inside the block into a one-line ``StorageError``."""
    with backend(url).errors():
        yield


def list_experiments(storage: BaseStorage) -> list[str]:
    """Names of the experiments in ``storage``."""
    return sorted({s.user_attrs["experiment_name"] for s in storage.get_all_studies()
                   if "experiment_name" in s.user_attrs})


#: Study user attribute that marks the replicate studies of an experiment (see
#: ``study.search.replicates``); a search study has none.
ROLE = "role"
REPLICATES = "replicates"


def experiment_studies(storage: BaseStorage, name: str, *, role: str | None = None
                       ) -> dict[str, optuna.Study]:
    """The studies of experiment ``name`` by regularizer, in the experiment's order: its search
    studies, or with ``role="replicates"`` its replicate studies (possibly none)."""
    every = [s for s in storage.get_all_studies() if s.user_attrs.get("experiment_name") == name]
    if not every:
        known = list_experiments(storage)
        raise SearchError(f"no experiment {name!r} in this storage"
                          + (f": known are {', '.join(known)}" if known else " (it is empty)"))
    found = [s for s in every if s.user_attrs.get(ROLE) == role]
    order = every[0].user_attrs["experiment"]["regularizers"]
    found.sort(key=lambda s: order.index(s.user_attrs["regularizer"]))
    return {s.user_attrs["regularizer"]: optuna.load_study(study_name=s.study_name,
                                                           storage=storage)
            for s in found}


__all__ = [
    "ARTIFACTS_ENV",
    "DEFAULT_URL",
    "ENV",
    "GRACE_FACTOR",
    "HEARTBEAT_SECONDS",
    "MAX_RETRY",
    "REPLICATES",
    "ROLE",
    "Backend",
    "JournalFile",
    "PostgreSQL",
    "Proxy",
    "RetryLostTrial",
    "SQLite",
    "artifact_store",
    "backend",
    "experiment_studies",
    "list_experiments",
    "open_storage",
    "redact",
    "resolve_url",
    "scrub",
    "storage_error",
    "storage_errors",
]
