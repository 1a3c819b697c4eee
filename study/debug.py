"""Whether a failure shows its traceback: ``--debug`` or ``STUDY_DEBUG=1``.

By default a failure is one line (its exception's type and message); the traceback is for
whoever debugs it. ``study --debug`` sets the variable, so that the workers ``study launch``
starts show their tracebacks too.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TextIO

ENV = "STUDY_DEBUG"


def enabled() -> bool:
    """Whether ``$STUDY_DEBUG`` asks for tracebacks (set, and not ``0``/``false``/``no``)."""
    return os.environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no")


def enable() -> None:
    os.environ[ENV] = "1"


def print_traceback(exc: BaseException, file: TextIO | None = None) -> None:
    """``exc``'s traceback with everything it wraps, the context that ``raise ... from None``
    hides from users included."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__suppress_context__ = False
        current = current.__cause__ or current.__context__
    traceback.print_exception(exc, file=file or sys.stderr)


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``: an exception in one line."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
