"""Why a storage failed, in one line: the database driver's own error under the wrappers.

Optuna wraps a failed commit in ``StorageInternalError`` ("An exception is raised during the
commit. This typically happens due to invalid data in the commit ..."), SQLAlchemy wraps the
driver's error in its own, and the driver's error is what says what happened. ``reason`` follows
the chain down to it and names what its SQLSTATE means where the server's words hide the cause
(a server shutting down ends each connection with "terminating connection due to administrator
command"). ``Backend.error`` uses it, so every command, the workers and ``study launch`` say the
same.
"""

from __future__ import annotations

from collections.abc import Iterator

# SQLSTATE codes (PostgreSQL, Appendix A) whose server message hides the cause.
SQLSTATES = {
    "57P01": "the database server is shutting down, or an administrator ended the connection",
    "57P02": "the database server was restarted (another server process crashed)",
    "57P03": "the database server is starting up or shutting down and accepts no connections",
    "57P04": "the database was dropped",
    "53300": "the database server has too many connections (raise max_connections, or put "
             "PgBouncer in front of it)",
}


def chain(exc: BaseException, *, suppressed: bool = False) -> Iterator[BaseException]:
    """``exc``, then what it wraps: a SQLAlchemy error's driver error (``orig``), an explicit
    cause, else the exception being handled when it was raised (also when ``raise ... from None``
    hid it, with ``suppressed``: a retry decision wants every link)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = getattr(current, "orig", None)
        if isinstance(wrapped, BaseException):
            current = wrapped
        elif current.__cause__ is not None:
            current = current.__cause__
        else:
            hidden = current.__suppress_context__ and not suppressed
            current = None if hidden else current.__context__


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE code of a driver error (psycopg 3: ``sqlstate``; psycopg2: ``pgcode``)."""
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) else None


def driver_error(exc: BaseException) -> BaseException:
    """The error under the wrappers: the driver's error a SQLAlchemy error holds, else the first
    error in the chain that neither Optuna nor SQLAlchemy raised (an ``OSError``), else the
    deepest."""
    errors = list(chain(exc))
    for error in errors:
        if isinstance(getattr(error, "orig", None), BaseException):
            return error.orig
    own = [e for e in errors if not type(e).__module__.startswith(("optuna", "sqlalchemy"))]
    return own[0] if own else errors[-1]


def reason(exc: BaseException) -> str:
    """One line saying why the storage failed (see the module docstring)."""
    for error in chain(exc):
        code = sqlstate(error)
        if code in SQLSTATES:
            return f"{SQLSTATES[code]} (SQLSTATE {code}: {_first_line(error)})"
    return _first_line(driver_error(exc))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
