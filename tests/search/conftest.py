"""A fresh PostgreSQL database per test (``pg_url``); see ``helpers`` for the server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy

from study.search.storage import redact
from tests.search.helpers import ADMIN_URL, PASSWORD


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty database for one test (URL with a password the server ignores)."""
    admin = sqlalchemy.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT",
                                     connect_args={"connect_timeout": 5})
    database = f"study_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{database}"'))
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {redact(ADMIN_URL)} is needed by the study-service tests "
                    f"and is unreachable: {str(exc.orig).splitlines()[0]}")
    url = sqlalchemy.make_url(ADMIN_URL).set(database=database, password=PASSWORD)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()
