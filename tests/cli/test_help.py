"""Help texts say what the commands do, from the package itself."""

from __future__ import annotations

import pytest

from study.cli import main
from study.report.status import storage_flag
from study.search import experiment


@pytest.mark.parametrize("command", ["create", "launch"])
def test_help_lists_the_experiments_the_package_ships(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"a shipped experiment ({', '.join(experiment.shipped())})" in text
    assert len(experiment.shipped()) >= 7


def test_printed_commands_reach_the_storage_without_its_password(monkeypatch):
    monkeypatch.delenv("STUDY_STORAGE", raising=False)
    assert storage_flag("runs/study.journal") == ""
    assert storage_flag("postgresql+psycopg://u:Sek%40r3t@h/db") == \
        " --storage 'postgresql+psycopg://u:***@h/db'"
    monkeypatch.setenv("STUDY_STORAGE", "postgresql+psycopg://u:Sek%40r3t@h/db")
    assert storage_flag("postgresql+psycopg://u:Sek%40r3t@h/db") == ""  # from the environment
