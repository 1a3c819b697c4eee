"""PostgreSQL advisory locks of the study service, one key per thing locked.

All are transaction-level (``pg_advisory_xact_lock``): released when the transaction ends or its
connection dies (a killed worker never leaves one behind), and they survive PgBouncer's
transaction pooling, which breaks session-level locks.

The experiment lock is waited for without holding a connection (``held``): a worker asks with
``pg_try_advisory_xact_lock`` and, refused, gives its connection back before it asks again. A
worker blocked inside the database would keep its server connection while it waits; with many
workers behind a bounded pool (PgBouncer's ``default_pool_size``, or ``max_connections``) the
waiters take every connection and the holder, which needs one more for its storage calls under
the lock, never gets it: measured with 64 workers through PgBouncer's 40 (``benchmarks/scale.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import time
from collections.abc import Iterator

import sqlalchemy

#: the first and the longest pause between two requests of a lock that was refused
FIRST_PAUSE_SECONDS = 0.02
MAX_PAUSE_SECONDS = 0.5


def key(name: str) -> int:
    """The signed 64-bit lock key of ``name``."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


def experiment(name: str) -> int:
    """The key under which experiment ``name``'s workers count and start trials."""
    return key(f"study:{name}")


# The key under which tables are created. Experiment keys all begin "study:", so no experiment
# name can collide with it.
SCHEMA = key("study-schema")


def hold(connection: sqlalchemy.Connection, lock: int) -> None:
    """Wait for the advisory lock ``lock`` and hold it until ``connection``'s transaction ends
    (blocking in the database: for rare, short locks such as ``SCHEMA``)."""
    connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})


@contextlib.contextmanager
def held(engine: sqlalchemy.Engine, lock: int) -> Iterator[sqlalchemy.Connection]:
    """Hold the advisory lock ``lock`` in a transaction of ``engine`` for the ``with`` block,
    waiting for it with no connection held (see the module docstring): refused, the worker
    pauses -- doubling from ``FIRST_PAUSE_SECONDS`` to ``MAX_PAUSE_SECONDS``, randomised so that
    waiters do not ask in step -- and asks again on a fresh connection."""
    pause = FIRST_PAUSE_SECONDS
    while True:
        with engine.begin() as connection:
            granted = connection.execute(sqlalchemy.text("SELECT pg_try_advisory_xact_lock(:key)"),
                                         {"key": lock}).scalar()
            if granted:
                yield connection
                return
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(2 * pause, MAX_PAUSE_SECONDS)
