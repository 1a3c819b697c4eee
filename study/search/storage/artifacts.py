"""Where per-trial artifacts (learning curves, checkpoints) live, so that every node finds them.

An experiment records its artifact location when it is created, as the study user attribute
``artifacts``, and workers, ``study export`` and ``study dashboard`` open that location wherever
they run:

- ``database``: in the experiment's own PostgreSQL database (table ``study_artifacts``), the
  default for PostgreSQL: curves and checkpoints are small, and a database every worker reaches
  needs no shared file system;
- ``file:///absolute/folder``: a folder, the default next to a journal or SQLite file; on a
  cluster it must be a file system every node shares (``--artifacts DIR``);
- ``s3://bucket/prefix``: an S3 bucket through Optuna's ``Boto3ArtifactStore`` (needs ``boto3``
  and credentials in the environment).

``DatabaseArtifactStore`` implements Optuna's artifact-store protocol (``open_reader``,
``write``, ``remove``) over SQLAlchemy, so Optuna's ``upload_artifact``/``download_artifact``
and optuna-dashboard use it like any other store.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy
from optuna.artifacts import FileSystemArtifactStore
from optuna.artifacts.exceptions import ArtifactNotFound

from study.search.errors import StorageError
from study.search.storage import _locks

DATABASE = "database"
TABLE = "study_artifacts"


class DatabaseArtifactStore:
    """Artifacts as rows of one table of a SQLAlchemy database (see the module docstring)."""

    def __init__(self, url: str, engine_kwargs: dict | None = None):
        self._engine = sqlalchemy.create_engine(url, **(engine_kwargs or {}))
        metadata = sqlalchemy.MetaData()
        self._table = sqlalchemy.Table(
            TABLE, metadata,
            sqlalchemy.Column("artifact_id", sqlalchemy.String(255), primary_key=True),
            sqlalchemy.Column("data", sqlalchemy.LargeBinary, nullable=False),
        )
        self._metadata = metadata

    def create_table(self) -> None:
        """Create the table unless it exists (``study create`` does), in one transaction with
        the schema lock on PostgreSQL: creates of two experiments at once would race."""
        with self._engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                _locks.hold(connection, _locks.SCHEMA)
            self._metadata.create_all(connection, checkfirst=True)

    def open_reader(self, artifact_id: str) -> BinaryIO:
        query = sqlalchemy.select(self._table.c.data).where(
            self._table.c.artifact_id == artifact_id)
        with self._engine.connect() as connection:
            data = connection.execute(query).scalar_one_or_none()
        if data is None:
            raise ArtifactNotFound(f"no artifact {artifact_id} in the database")
        return io.BytesIO(data)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        data = content_body.read()
        with self._engine.begin() as connection:
            connection.execute(self._table.delete().where(
                self._table.c.artifact_id == artifact_id))
            connection.execute(self._table.insert().values(artifact_id=artifact_id, data=data))

    def remove(self, artifact_id: str) -> None:
        with self._engine.begin() as connection:
            deleted = connection.execute(self._table.delete().where(
                self._table.c.artifact_id == artifact_id)).rowcount
        if not deleted:
            raise ArtifactNotFound(f"no artifact {artifact_id} in the database")


def location(value: str | Path) -> str:
    """A location as the experiment records it: ``database``, ``s3://...`` or an absolute
    ``file://`` URL for a folder."""
    text = str(value)
    if text == DATABASE or text.startswith("s3://"):
        return text
    if text.startswith("file://"):
        text = text.removeprefix("file://")
    return Path(text).expanduser().resolve().as_uri()


def open_store(where: str, database_url: str | None, engine_kwargs: dict | None = None) -> Any:
    """The artifact store at location ``where`` (see the module docstring); ``database_url`` is
    the experiment's storage URL for ``database``."""
    if where == DATABASE:
        if database_url is None:
            raise StorageError("artifacts in the database need a database storage (PostgreSQL)")
        return DatabaseArtifactStore(database_url, engine_kwargs)
    if where.startswith("s3://"):
        bucket, _, prefix = where.removeprefix("s3://").partition("/")
        try:
            import boto3
            from optuna.artifacts import Boto3ArtifactStore
        except ImportError:
            raise StorageError("artifacts in S3 need boto3: pip install boto3") from None
        store = Boto3ArtifactStore(bucket, client=boto3.client("s3"))
        return _Prefixed(store, prefix) if prefix else store
    folder = Path(where.removeprefix("file://"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the artifact folder {folder}: {exc.strerror}") from None
    return FileSystemArtifactStore(str(folder))


class _Prefixed:
    """An artifact store whose ids live under a key prefix."""

    def __init__(self, store: Any, prefix: str):
        self._store = store
        self._prefix = prefix.strip("/") + "/"

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self._store.open_reader(self._prefix + artifact_id)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self._store.write(self._prefix + artifact_id, content_body)

    def remove(self, artifact_id: str) -> None:
        self._store.remove(self._prefix + artifact_id)
