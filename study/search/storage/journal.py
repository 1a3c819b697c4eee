"""The embedded default: Optuna's journal file, for any number of worker processes on one
machine (appends under a file lock; no ``SELECT ... FOR UPDATE`` needed). It has no heartbeats:
a trial whose worker process is no longer running on this machine is lost."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from study.search.errors import StorageError
from study.search.storage.base import HEARTBEAT_SECONDS, Backend
from study.search.storage.urls import looks_schemeless, redact

_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def process_gone(identity: Any) -> bool:
    """Whether ``identity`` (``host:pid``) names a process of this machine that no longer runs."""
    host, _, pid = str(identity).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: gone as well
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` for the length of the block (processes of one machine)."""
    with open(path, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class JournalFile(Backend):
    """A journal file path, by default ``runs/study.journal``."""

    @classmethod
    def accepts(cls, url: str) -> bool:
        if "://" in url:
            return False
        if looks_schemeless(url):
            raise StorageError(f"{redact(url)} looks like a database URL without its scheme: "
                               "write postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB")
        if url.endswith(_SQLITE_SUFFIXES):
            raise StorageError(f"{url} looks like an SQLite file: write sqlite:///{url} (one "
                               "worker at a time), or use a journal file such as "
                               "runs/study.journal")
        return True

    @property
    def path(self) -> Path:
        return Path(self.url)

    def open(self, *, create: bool = False, heartbeat: int = HEARTBEAT_SECONDS) -> BaseStorage:
        if not create and not self.path.exists():
            raise StorageError(f"no storage at {self.path} yet: create an experiment first "
                               "(study create)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(self.path)))

    def lock(self, storage: BaseStorage, name: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.path)

    def runs_dir(self) -> Path:
        return self.path.parent

    def lost_trials(self, storage: BaseStorage, study: optuna.Study) -> tuple[list[int], str]:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        lost = [t._trial_id for t in running if process_gone(t.user_attrs.get("worker"))]
        return lost, "worker lost: its process is gone"
