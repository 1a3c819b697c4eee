"""``Backend``: what differs between storages, as methods of one object per storage URL.

A backend owns, for its kind of storage: opening it (``open``), the per-experiment lock under
which workers count and start trials (``lock``), where per-trial artifacts and worker logs live
(``artifact_store``, ``runs_dir``), how a lost worker is detected (``lost_trials``,
``heartbeat_interval``), how many workers it allows (``max_workers``) and how it is mended after
a write that did not finish (``repair``). Nothing outside
``study.search.storage`` asks which kind of storage a URL is.

URLs may hold a password: ``redact`` is the only form of a URL that is ever printed, and
``scrub`` removes the password from any message (``study.search.storage.urls``).
"""

from __future__ import annotations

import contextlib
import copy
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import optuna
from optuna.storages import BaseStorage, RetryHeartbeatStaleTrialCallback

from study.search.errors import StorageError
from study.search.storage import artifacts, failures
from study.search.storage.urls import redact, scrub

ARTIFACTS_ENV = "STUDY_ARTIFACTS"
# Seconds between heartbeats of a running trial (PostgreSQL, SQLite); a trial whose heartbeat is
# older than GRACE_FACTOR intervals is failed and retried by the next worker that claims a trial.
HEARTBEAT_SECONDS = 30
GRACE_FACTOR = 3
# How often one configuration is retried after its worker died or was stopped.
MAX_RETRY = 3

class RetryLostTrial(RetryHeartbeatStaleTrialCallback):
    """``RetryHeartbeatStaleTrialCallback`` that queues the parameters only: user attributes such
    as ``fail_reason`` and metrics belong to the failed trial, not to its rerun."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        params_only = copy.copy(trial)
        params_only.user_attrs = {}
        super().__call__(study, params_only)


class Backend(ABC):
    """One kind of storage at one URL (see the module docstring)."""

    #: how many worker processes may share it (``None``: any number)
    max_workers: ClassVar[int | None] = None

    def __init__(self, url: str):
        self.url = url

    @classmethod
    @abstractmethod
    def accepts(cls, url: str) -> bool:
        """Whether ``url`` is this kind of storage."""

    @property
    def label(self) -> str:
        """The URL as it may be printed."""
        return redact(self.url)

    @abstractmethod
    def open(self, *, create: bool = False, heartbeat: int = HEARTBEAT_SECONDS) -> BaseStorage:
        """The Optuna storage. Only ``create=True`` (``study create``) makes a new file or the
        database tables: a typo in a URL should not make an empty storage."""

    @abstractmethod
    def lock(self, storage: BaseStorage, name: str) -> contextlib.AbstractContextManager[None]:
        """The lock of experiment ``name`` across all its workers."""

    @abstractmethod
    def runs_dir(self) -> Path:
        """The folder for files next to the storage: artifacts, worker logs."""

    def artifact_dir(self) -> Path:
        return Path(os.environ.get(ARTIFACTS_ENV) or self.runs_dir() / "artifacts")

    def default_artifacts(self) -> str:
        """Where a new experiment's artifacts go unless ``--artifacts`` says otherwise
        (``study.search.storage.artifacts``): ``$STUDY_ARTIFACTS``, else next to the storage."""
        return artifacts.location(self.artifact_dir())

    def artifact_store(self, where: str | None = None) -> Any:
        """The store of per-trial files (curves, checkpoints) at location ``where`` (what the
        experiment recorded; default: ``default_artifacts()``)."""
        return artifacts.open_store(where or self.default_artifacts(), None)

    def heartbeat_interval(self, storage: BaseStorage) -> int | None:
        """Seconds between a running trial's heartbeats, ``None`` without heartbeats."""
        return None

    @abstractmethod
    def lost_trials(self, storage: BaseStorage, study: optuna.Study) -> tuple[list[int], str]:
        """The ids of ``study``'s RUNNING trials whose worker is gone, and why they count as
        lost."""

    def repair(self) -> str:
        """Mend what an unfinished write left behind (``study repair``); what was done, in one
        line."""
        raise StorageError(f"{self.label} is a database: its transactions leave no torn "
                           "records, and study repair mends journal files only")

    def error(self, exc: BaseException) -> StorageError:
        """A one-line ``StorageError`` for a failure of this storage, password removed."""
        return StorageError(scrub(f"storage {self.label} failed: {failures.reason(exc)}",
                                  self.url))

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Turn a database or file failure inside the block into a one-line ``StorageError``."""
        import sqlalchemy

        from study.search.errors import SearchError

        try:
            yield
        except (SearchError, BrokenPipeError):
            raise
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError,
                OSError) as exc:
            raise self.error(exc) from None
