"""Artifacts every node can reach: in the experiment's own database by default on PostgreSQL,
found by `study export` from any directory."""

from __future__ import annotations

import io

import pytest
from optuna.artifacts.exceptions import ArtifactNotFound

from study.search.storage import backend
from study.search.storage.artifacts import DatabaseArtifactStore, location
from tests.search.helpers import env, load, run, write_experiment

pytestmark = pytest.mark.postgres


def test_the_database_store_keeps_reads_replaces_and_removes_artifacts(pg_url):
    store = DatabaseArtifactStore(pg_url)
    store.create_table()
    store.create_table()  # idempotent
    store.write("a", io.BytesIO(b"first"))
    store.write("a", io.BytesIO(b"second"))
    assert store.open_reader("a").read() == b"second"
    store.remove("a")
    with pytest.raises(ArtifactNotFound):
        store.open_reader("a")
    with pytest.raises(ArtifactNotFound):
        store.remove("a")


def test_a_postgresql_experiment_keeps_its_artifacts_in_the_database_for_any_directory(
        pg_url, tmp_path):
    assert backend(pg_url).default_artifacts() == "database"
    assert location("runs/x").startswith("file:///")
    here, elsewhere = tmp_path / "node-a", tmp_path / "node-b"
    here.mkdir()
    elsewhere.mkdir()
    environment = env(STUDY_STORAGE=pg_url)
    config = str(write_experiment(here, trials=1))
    assert run("create", "--name", "art", "--config", config, cwd=here,
               environment=environment).returncode == 0
    worker = run("worker", "--name", "art", "--device", "cpu", "--poll", "0.3", cwd=here,
                 environment=environment, timeout=300)
    assert worker.returncode == 0, worker.stdout
    assert not (here / "runs").exists()  # nothing written next to the worker
    for study in load(pg_url, "art").values():
        assert study.user_attrs["artifacts"] == "database"
    exported = run("export", "--name", "art", "--out", str(elsewhere / "out"), "--format",
                   "md", "--rounds", "1", "--no-publish", cwd=elsewhere,
                   environment=environment, timeout=300)
    assert exported.returncode == 0, exported.stdout
    summary = (elsewhere / "out" / "art-summary.md").read_text()
    assert "not measured" not in summary and "checkpoint" not in summary
    assert "µs/NFE" in summary  # every compared checkpoint was downloaded and timed
