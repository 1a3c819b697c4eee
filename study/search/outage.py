"""Storage outages: which failures are transient, and retrying through them for a window.

A database that restarts, fails over or refuses connections for a while must not kill workers or
throw away what they trained. ``transient(exc)`` says whether a failure is the storage being
unreachable (connection refused or lost, server shutting down, pool timeout) rather than a
mistake (a missing table, bad data); ``Retrier.call`` runs a storage step again with exponential
backoff until it succeeds or the outage window (``--outage-window``, default 300 s) has passed,
then raises ``OutageError`` naming the real cause.

A step is retried whole: a claim under the experiment lock starts again from taking the lock
(the transaction-level lock of a lost connection is gone with it), never half-way inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from study.search.errors import StorageError
from study.search.storage.failures import chain

OUTAGE_WINDOW_SECONDS = 300.0
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 15.0

T = TypeVar("T")

# SQLSTATE classes and codes of a server that is unreachable or going away, not of bad requests:
# 08 connection exceptions, 57P01-57P03 admin shutdown / crash shutdown / cannot connect now,
# 53300 too many connections.
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is the storage being unreachable for now (worth retrying).

    The database driver's error decides where there is one: an SQLSTATE of a connection
    failure or shutdown is transient, any other SQLSTATE (a wrong password, a database that does
    not exist, bad data) is not; no SQLSTATE means the connection itself failed (refused, reset,
    timed out), or the driver refused a connection left mid-command by such a failure (an
    error it raised itself otherwise: the error it was handling, if any, decides)."""
    import sqlalchemy

    links = list(chain(exc, suppressed=True))
    for link in links:
        if type(link).__module__.startswith("psycopg"):
            sqlstate = getattr(link, "sqlstate", None)
            if sqlstate is not None:
                return sqlstate.startswith(_TRANSIENT_SQLSTATES)
            if type(link).__name__ in ("OperationalError", "InterfaceError"):
                return _connection_failure(str(link))
            if any(words in str(link) for words in _LEFT_MID_COMMAND):
                return True
            # any other error the driver raised itself: what it was handling decides
    for link in links:
        if isinstance(link, sqlalchemy.exc.DBAPIError) and link.connection_invalidated:
            return True
        if isinstance(link, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                             sqlalchemy.exc.TimeoutError, ConnectionError, TimeoutError)):
            return True
        if type(link).__module__.startswith("grpc") and "UNAVAILABLE" in str(link):
            return True
    return False


# The driver refusing a connection that a failure left in the middle of a command: a pooled
# connection whose query an outage cut off fails SQLAlchemy's pre-ping with "can't change
# 'autocommit' now: connection in transaction status ACTIVE" (seen in CI during a database
# outage: it killed a worker). The pool drops that connection, so the next attempt reconnects.
_LEFT_MID_COMMAND = ("connection in transaction status ACTIVE",
                     "another command is already in progress")


def _connection_failure(message: str) -> bool:
    """A failed connection without an SQLSTATE: transient unless the server answered with a
    refusal that waiting does not cure (a wrong password, an unknown database or role)."""
    if "FATAL:" not in message:
        return True  # refused, reset, timed out, no route: the server did not answer
    return any(words in message for words in (
        "starting up", "shutting down", "too many", "recovery", "not accepting connections",
        "terminating connection"))


def cause(exc: BaseException) -> str:
    """Why the storage failed, in one line (``storage.failures.reason``: the driver's own words,
    what a shutdown's SQLSTATE means)."""
    from study.search.storage.failures import reason

    return reason(exc)


class OutageError(StorageError):
    """The storage stayed unreachable for the whole outage window."""


class Retrier:
    """Runs storage steps through outages of up to ``window`` seconds (see the module).

    ``log`` reports an outage once when it starts and once when it ends; ``sleep`` waits between
    attempts (the worker's waits end early on SIGTERM). ``last_failure`` is the monotonic time of
    the latest failure, or of the recovery after it, seen by any step or through
    ``note_failure`` (the heartbeat thread): a worker that saw the storage fail recently does not
    take other workers' late heartbeats for lost workers (they could not beat either, and get a
    grace period from the recovery to beat again).
    """

    def __init__(self, window: float = OUTAGE_WINDOW_SECONDS, *,
                 log: Callable[[str], None] = print,
                 sleep: Callable[[float], None] = time.sleep,
                 scrub: Callable[[str], str] = str):
        self.window = window
        self.log = log
        self.sleep = sleep
        self.scrub = scrub
        self.last_failure: float | None = None

    def note_failure(self) -> None:
        self.last_failure = time.monotonic()

    def failed_within(self, seconds: float) -> bool:
        return self.last_failure is not None and time.monotonic() - self.last_failure < seconds

    def call(self, what: str, step: Callable[[], T]) -> T:
        """``step()``, retried with backoff while it fails transiently, up to the window."""
        started: float | None = None
        delay = FIRST_DELAY_SECONDS
        while True:
            if started is not None:
                self.note_failure()  # still in the outage while this attempt runs
            try:
                result = step()
            except Exception as exc:
                if not transient(exc) or self.window <= 0:
                    raise  # a mistake, or no waiting asked for: the failure as it is
                now = time.monotonic()
                self.note_failure()
                reason = self.scrub(cause(exc))
                if started is None:
                    started = now
                    self.log(f"{what}: the storage is unreachable ({reason}); retrying "
                                 f"for up to {self.window:g} s")
                elapsed = now - started
                if elapsed >= self.window:
                    raise OutageError(f"{reason} (still unreachable after {elapsed:.0f} s of "
                                      f"retrying, --outage-window {self.window:g}, while "
                                      f"{what})") from exc
                self.sleep(min(delay, self.window - elapsed))
                delay = min(2 * delay, MAX_DELAY_SECONDS)
                continue
            if started is not None:
                # the grace period of other workers' heartbeats counts from the recovery
                self.note_failure()
                self.log(f"{what}: the storage is back after {time.monotonic() - started:.1f} s")
            return result
