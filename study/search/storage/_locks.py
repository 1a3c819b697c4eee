"""PostgreSQL advisory locks of the study service, one key per thing locked.

All are transaction-level (``pg_advisory_xact_lock``): released when the transaction ends or its
connection dies (a killed worker never leaves one behind), and they survive PgBouncer's
transaction pooling, which breaks session-level locks.
"""

from __future__ import annotations

import hashlib

import sqlalchemy


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
    """Wait for the advisory lock ``lock`` and hold it until ``connection``'s transaction ends."""
    connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
