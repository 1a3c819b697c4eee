"""The PostgreSQL backend's connection pool: explicit, and set by ``$STUDY_DB_POOL``."""

from __future__ import annotations

import pytest
import sqlalchemy

from study.cli import main
from study.search.storage import backend

URL = "postgresql+psycopg://user@127.0.0.1:1/db"


def test_the_pool_is_explicit_and_the_environment_sets_it(monkeypatch):
    monkeypatch.delenv("STUDY_DB_POOL", raising=False)
    kwargs = backend(URL).engine_kwargs()
    assert (kwargs["pool_size"], kwargs["max_overflow"]) == (2, 1)
    assert kwargs["pool_pre_ping"] is True
    monkeypatch.setenv("STUDY_DB_POOL", "1+3")
    kwargs = backend(URL).engine_kwargs()
    assert (kwargs["pool_size"], kwargs["max_overflow"]) == (1, 3)
    monkeypatch.setenv("STUDY_DB_POOL", "0")
    kwargs = backend(URL).engine_kwargs()
    assert kwargs["poolclass"] is sqlalchemy.pool.NullPool and "pool_size" not in kwargs


@pytest.mark.parametrize("value", ["two", "1", "1+0", "0+2", "-1+3"])
def test_a_pool_too_small_for_the_lock_and_a_call_is_one_line(monkeypatch, capsys, value):
    monkeypatch.setenv("STUDY_DB_POOL", value)
    assert main(["status", "--storage", URL]) == 4
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "STUDY_DB_POOL" in error
