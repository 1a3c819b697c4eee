"""The workers' intervals (``--poll``, ``--heartbeat``), checked in one place for the command
line, ``study launch`` and ``Worker``: finite, positive and within bounds. A worker waits with
them, and ``--poll inf`` would only fail once it first waits (``Event.wait`` overflows).
"""

from __future__ import annotations

import math

from study.search.errors import SearchError

#: Seconds between a waiting worker's checks for work: not so often that it loads the storage.
POLL_BOUNDS = (0.01, 3600.0)
#: Seconds between a running trial's heartbeats (whole seconds, as Optuna stores them).
HEARTBEAT_BOUNDS = (1, 3600)


def poll(value: object) -> float:
    """``value`` as the seconds of ``--poll``, else a one-line ``SearchError``."""
    low, high = POLL_BOUNDS
    seconds = _number("--poll", value, f"a number of seconds from {low:g} to {high:g}")
    if not low <= seconds <= high:
        raise SearchError(f"--poll {value}: expected a number of seconds from {low:g} to "
                          f"{high:g}")
    return seconds


def heartbeat(value: object) -> int:
    """``value`` as the whole seconds of ``--heartbeat``, else a one-line ``SearchError``."""
    low, high = HEARTBEAT_BOUNDS
    expected = f"a whole number of seconds from {low} to {high}"
    seconds = _number("--heartbeat", value, expected)
    if seconds != int(seconds) or not low <= seconds <= high:
        raise SearchError(f"--heartbeat {value}: expected {expected}")
    return int(seconds)


def _number(flag: str, value: object, expected: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SearchError(f"{flag} {value}: expected {expected}") from None
    if not math.isfinite(number):
        raise SearchError(f"{flag} {value}: expected {expected}")
    return number
