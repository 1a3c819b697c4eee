"""The embedded default: Optuna's journal file, for any number of worker processes on one
machine (appends under a file lock; no ``SELECT ... FOR UPDATE`` needed). It has no heartbeats:
a trial whose worker process is no longer running on this machine is lost.

The journal is one JSON record per line, appended whole under Optuna's lock file. A write that
did not finish (disk full, power loss, a killed process) leaves a *torn* last record: bytes
without an end of line. Optuna skips such a tail when reading (it might be a write in progress)
and appends the next record right after it, gluing the two into a line that no longer parses:
the journal then reads as an older state, and after the next write not at all. So a journal is
checked when it is opened: a torn tail is refused with the command that repairs it (``study
repair``: a backup first, then the torn record is cut off), a file that is not a journal is an
error, and no record is ever appended after a torn one (``_GuardedFile``).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import TrialState

from study.search.errors import StorageError
from study.search.storage.base import HEARTBEAT_SECONDS, Backend
from study.search.storage.urls import looks_schemeless, redact

# How every record Optuna writes begins (``json.dumps`` of {"op_code": ..., ...}).
_RECORD_START = b'{"op_code":'


@dataclass(frozen=True)
class Torn:
    """A journal's torn last record: the bytes after its last end of line."""

    record: int  # 1-based number of the torn record
    offset: int  # where it starts: the length of the journal's complete records
    size: int  # its bytes present

    def describe(self, path: Path) -> str:
        return (f"journal {path} ends in a torn record: record {self.record} is cut short "
                f"({self.size} bytes at byte {self.offset}, no end of line), left by a write "
                "that did not finish")


def inspect_journal(path: Path) -> Torn | None:
    """The torn last record of the journal at ``path``, ``None`` if it has none (an empty file
    has none). Raises ``StorageError`` if the file is not a study journal."""
    data = path.read_bytes()
    complete, newline, tail = data.rpartition(b"\n")
    lines = complete.split(b"\n") if newline else []
    offset = 0
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "op_code" not in record:
            what = "is not a study journal" if number == 1 else "is a damaged study journal"
            raise StorageError(f"{path} {what}: its line {number} (at byte {offset}) is not a "
                               "journal record; give the storage URL of an intact journal, or of "
                               "a database")
        offset += len(line) + 1
    if not tail:
        return None
    if not _RECORD_START.startswith(tail[:len(_RECORD_START)]):
        raise StorageError(f"{path} is not a study journal: it ends in {len(tail)} bytes that "
                           "do not begin a journal record; give the storage URL of a journal, "
                           "or of a database")
    return Torn(record=len(lines) + 1, offset=len(complete) + len(newline), size=len(tail))


class _GuardedFile(JournalFileBackend):
    """Optuna's journal file backend that appends only after a complete record: the check and
    the write happen under the same lock, so no other writer can slip in between."""

    def __init__(self, path: Path):
        super().__init__(str(path))
        self._path = path

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        with _journal_lock(self._path), open(self._path, "ab+") as handle:
            end = handle.seek(0, os.SEEK_END)
            if end:
                handle.seek(end - 1)
                if handle.read(1) != b"\n":
                    raise StorageError(_refusal(self._path, inspect_journal(self._path)))
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


def _refusal(path: Path, torn: Torn | None) -> str:
    what = torn.describe(path) if torn else f"journal {path} ends in a torn record"
    return (f"{what}; nothing is written after it: run `study repair --storage {path}` (it keeps "
            "a backup of the journal, then cuts off the torn record)")


@contextlib.contextmanager
def _journal_lock(path: Path) -> Iterator[None]:
    """Optuna's own lock on the journal at ``path``: no record is being appended meanwhile."""
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        yield
    finally:
        lock.release()

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
        empty = not self.path.exists() or self.path.stat().st_size == 0
        if not create and empty:
            raise StorageError(f"no storage at {self.path} yet"
                               + (" (the file is empty)" if self.path.exists() else "")
                               + ": create an experiment first (study create)")
        if not empty:
            self._check()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(_GuardedFile(self.path))

    def _check(self) -> None:
        """Refuse a journal with a torn last record (see the module docstring)."""
        if inspect_journal(self.path) is None:
            return
        # A record being appended right now looks torn too: look again while no one writes.
        try:
            with _journal_lock(self.path):
                torn = inspect_journal(self.path)
        except OSError:  # a folder this user cannot write (no lock file): the first look stands
            torn = inspect_journal(self.path)
        if torn is not None:
            raise StorageError(_refusal(self.path, torn))

    def repair(self) -> str:
        if not self.path.exists():
            raise StorageError(f"no storage at {self.path}: nothing to repair")
        with _journal_lock(self.path):
            try:
                torn = inspect_journal(self.path)
            except StorageError as exc:
                raise StorageError(f"{exc}. study repair only cuts off a torn last record: "
                                   "nothing was changed") from None
            if torn is None:
                return f"journal {self.path} has no torn record: nothing to repair"
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            backup = self.path.with_name(f"{self.path.name}.{stamp}.backup")
            shutil.copyfile(self.path, backup)
            with open(backup, "rb") as handle:
                os.fsync(handle.fileno())
            with open(self.path, "rb+") as handle:
                handle.truncate(torn.offset)
                os.fsync(handle.fileno())
        return (f"repaired journal {self.path}: cut off its torn record {torn.record} "
                f"({torn.size} bytes at byte {torn.offset}); it now ends after record "
                f"{torn.record - 1}; the original is kept in {backup}")

    def lock(self, storage: BaseStorage, name: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.path)

    def runs_dir(self) -> Path:
        return self.path.parent

    def lost_trials(self, storage: BaseStorage, study: optuna.Study) -> tuple[list[int], str]:
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        lost = [t._trial_id for t in running if process_gone(t.user_attrs.get("worker"))]
        return lost, "worker lost: its process is gone"
