"""Storage URLs, passwords kept out of every message, and creating an experiment's studies."""

from __future__ import annotations

import re

import optuna
import pytest
import sqlalchemy

from study.cli import main
from study.search import storage
from study.search.errors import StorageError
from tests.search.helpers import PASSWORD, has_tables, load, run, write_experiment


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
    # a worker would wait out an outage: --outage-window 0 gives up at once
    for args in (["create", "--name", "x", "--config", config], ["status", "--name", "x"],
                 ["worker", "--name", "x", "--outage-window", "0"]):
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


# Passwords as people paste them into URLs, unencoded; each piece between the special characters
# is a token found nowhere else, so any fragment of a password that leaks is caught.
PASSWORDS = ["Zq7@Xk9", "Zq7:Xk9@Wm4", "Zq7/Xk9@Wm4:Pv2", "Zq7%Xk9@Wm4%4Pv2", "Zq7%40Xk9@Wm4"]


def fragments(password: str) -> list[str]:
    return [piece for piece in re.split(r"[@:/%]|40", password) if piece]


@pytest.mark.parametrize("password", PASSWORDS)
def test_no_fragment_of_a_password_is_ever_printed(password, tmp_path, capsys):
    url = f"postgresql://study:{password}@127.0.0.1:1/nowhere"
    config = str(write_experiment(tmp_path, trials=2))
    for args in (["create", "--name", "x", "--config", config], ["status", "--name", "x"],
                 ["status"], ["worker", "--name", "x", "--outage-window", "0"],
                 ["launch", "--name", "x", "--workers", "2"],
                 ["replicate", "--name", "x"], ["export", "--name", "x", "--out", str(tmp_path)]):
        assert main([*args, "--storage", url]) == 4, args
        captured = capsys.readouterr()
        output = captured.out + captured.err
        assert output.startswith("study: error: storage postgresql+psycopg://study:***@127.0.0.1:1"
                                 "/nowhere failed: connection failed"), output
        assert len(output.splitlines()) == 1
        assert not [f for f in fragments(password) if f in output], (args, output)


def test_a_url_reads_its_user_information_up_to_the_last_at():
    url = "postgresql+psycopg://me:Sek@r3t:x/y%z@db.example:5432/studies?sslmode=require"
    normal = storage.resolve_url(url)
    parsed = sqlalchemy.make_url(normal)
    assert (parsed.username, parsed.password) == ("me", "Sek@r3t:x/y%z")
    assert (parsed.host, parsed.port, parsed.database) == ("db.example", 5432, "studies")
    assert storage.resolve_url(normal) == normal  # encoding twice changes nothing
    encoded = "postgresql+psycopg://me:p%40ss@db.example/studies"  # already encoded: kept
    assert sqlalchemy.make_url(storage.resolve_url(encoded)).password == "p@ss"
    assert storage.redact(url) == storage.redact(normal) == \
        "postgresql+psycopg://me:***@db.example:5432/studies?sslmode=require"
    message = f"failed for {normal}: password Sek@r3t:x/y%z, {parsed.password!r} rejected"
    assert "r3t" not in storage.scrub(message, normal)


def test_a_database_url_without_its_scheme_is_refused_without_its_password(capsys):
    assert main(["status", "--storage", "study:Zq7@Xk9@dbhost/db"]) == 4
    err = capsys.readouterr().err
    assert err == ("study: error: study:***@dbhost/db looks like a database URL without its "
                   "scheme: write postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB\n")


@pytest.mark.postgres
def test_a_server_shutting_down_is_named_as_the_cause(pg_url):
    """PostgreSQL ends a connection with SQLSTATE 57P01 when it shuts down (or an administrator
    terminates the connection, as here, in the middle of Optuna's commit): the message says so,
    not Optuna's "An exception is raised during the commit ... invalid data"."""
    store = storage.backend(pg_url)
    rdb = store.open(create=True)
    study_id = rdb.create_new_study([optuna.study.StudyDirection.MINIMIZE], "s")
    admin = sqlalchemy.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    armed = [True]

    @sqlalchemy.event.listens_for(rdb.engine, "before_cursor_execute")
    def terminate(connection, cursor, statement, *args):
        if armed and statement.lstrip().upper().startswith("INSERT"):
            armed.clear()
            pid = connection.connection.dbapi_connection.info.backend_pid
            with admin.connect() as other:  # waits until that backend is gone
                other.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid, 30000)"),
                              {"pid": pid})

    try:
        with pytest.raises(StorageError) as caught, store.errors():
            rdb.set_study_user_attr(study_id, "key", "value")
    finally:
        admin.dispose()
        rdb.engine.dispose()
    message = str(caught.value)
    assert "the database server is shutting down" in message and "SQLSTATE 57P01" in message
    assert "invalid data" not in message and PASSWORD not in message


@pytest.mark.postgres
def test_launch_with_a_password_full_of_special_characters(pg_url, tmp_path):
    """The password reaches the workers (through the environment) intact, and no output or log
    holds a fragment of it (the server's trust authentication ignores it)."""
    password = "Zq7@Xk9:Wm4/Pv2%Jd8"
    url = pg_url.replace(f":{PASSWORD}@", f":{password}@")
    config = str(write_experiment(tmp_path, trials=1))
    result = run("launch", "--name", "pw", "--workers", "2", "--poll", "0.3", "--device", "cpu",
                 "--config", config, "--storage", url, cwd=tmp_path, timeout=240)
    logs = "".join(p.read_text() for p in (tmp_path / "runs" / "logs").glob("*.log"))
    assert result.returncode == 0, result.stdout + logs
    assert "postgresql+psycopg://postgres:***@" in result.stdout
    assert not [f for f in fragments(password) if f in result.stdout + logs]
