"""Storage URLs, passwords kept out of every message, and creating an experiment's studies."""

from __future__ import annotations

import optuna
import pytest

from study.cli import main
from study.search import storage
from study.search.errors import StorageError
from tests.search.helpers import PASSWORD, has_tables, load, write_experiment


def test_url_from_flag_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("STUDY_STORAGE", raising=False)
    assert storage.resolve_url(None) == "runs/study.journal"
    monkeypatch.setenv("STUDY_STORAGE", "elsewhere.journal")
    assert storage.resolve_url(None) == "elsewhere.journal"
    assert storage.resolve_url("sqlite:///x.db") == "sqlite:///x.db"
    assert storage.resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(StorageError, match=r"unsupported storage mysql://u:\*\*\*@h/db"):
        storage.resolve_url("mysql://u:pw@h/db")
    with pytest.raises(StorageError, match=r"sqlite:///runs/x\.db"):
        storage.resolve_url("runs/x.db")


def test_passwords_are_redacted_and_scrubbed():
    url = "postgresql+psycopg://me:p%40ss:w@rd@db.example:5432/studies?sslmode=require"
    assert storage.redact(url) == "postgresql+psycopg://me:***@db.example:5432/studies?sslmode=require"
    assert storage.redact("postgresql+psycopg://h/db?user=u&password=pw") == \
        "postgresql+psycopg://h/db?user=u&password=***"
    message = storage.scrub(f"failed for {url}: password p@ss:w@rd rejected", url)
    assert "p%40ss" not in message and "p@ss" not in message
    assert storage.redact("runs/study.journal") == "runs/study.journal"


def test_unreachable_database_is_one_line_without_the_password(tmp_path, capsys):
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/nowhere"
    config = str(write_experiment(tmp_path, trials=2))
    for args in (["create", "--name", "x", "--config", config], ["status", "--name", "x"],
                 ["worker", "--name", "x"]):
        assert main([*args, "--storage", url]) == 4
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert err.startswith("study: error: storage postgresql+psycopg://postgres:***@")
        assert "\n" not in err and PASSWORD not in captured.out + captured.err


@pytest.mark.postgres
def test_create_on_postgres_is_idempotent_and_refuses_changes(pg_url, tmp_path, capsys):
    config = str(write_experiment(tmp_path, trials=4))
    create = ["create", "--name", "exp", "--config", config, "--storage", pg_url]
    assert main(create) == 0
    assert main(create) == 0
    out = capsys.readouterr().out
    assert "already exists" in out and PASSWORD not in out
    studies = load(pg_url, "exp")
    assert list(studies) == ["none", "local"]
    local = studies["local"]
    assert local.study_name == "exp.local" and local.metric_names == ["val_accuracy",
                                                                       "predict_nfe_warm"]
    assert [d.name for d in local.directions] == ["MAXIMIZE", "MINIMIZE"]
    attrs = local.user_attrs
    assert attrs["experiment_name"] == "exp" and attrs["regularizer"] == "local"
    assert attrs["budget"] == 4 and attrs["quality_metric"] == "val_accuracy"
    assert attrs["experiment"]["train"] == {"task": "digits", "epochs": 1, "atol": 1e-4}
    assert main([*create, "--trials", "5"]) == 2
    assert "differs in max_failed, trials" in capsys.readouterr().err
    assert [s.study_name for s in optuna.get_all_study_summaries(pg_url)] == ["exp.none",
                                                                               "exp.local"]
    assert storage.list_experiments(storage.open_storage(pg_url)) == ["exp"]


@pytest.mark.postgres
def test_bad_input_on_postgres_writes_nothing(pg_url, tmp_path, capsys):
    config = str(write_experiment(tmp_path, trials=2))
    assert main(["create", "--name", "x", "--config", config, "--regularizers", "none,lokal",
                 "--storage", pg_url]) == 2
    assert main(["status", "--name", "x", "--storage", pg_url]) == 4
    assert "no studies in" in capsys.readouterr().err
    assert not has_tables(pg_url)
