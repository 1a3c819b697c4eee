"""Failures end in one line, never a traceback, unless ``--debug`` or ``STUDY_DEBUG=1`` asks."""

from __future__ import annotations

import uuid

import pytest

from study.cli import main
from study.cli._command import join_negative_values
from study.search.errors import SearchError
from study.search.worker import Worker

RAISING_TASK = """\
def make(seed):
    raise RuntimeError("no data in /nowhere\\nsecond line")
"""


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    """No tracebacks asked for; ``STUDY_DEBUG`` restored after the test (``--debug`` sets it)."""
    monkeypatch.setenv("STUDY_DEBUG", "0")


@pytest.fixture
def raising_task(tmp_path, monkeypatch) -> str:
    """``module:make``, a task function that raises."""
    module = f"raising_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(RAISING_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{module}:make"


def test_a_task_function_that_raises_is_one_line(raising_task, capsys):
    assert main(["train", "--task", raising_task, "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err == (f"study: error: task {raising_task!r} raised RuntimeError: no data in "
                   "/nowhere\n")


@pytest.mark.parametrize("how", ["flag", "flag first", "environment"])
def test_debug_shows_the_traceback(how, raising_task, monkeypatch, capsys):
    argv = ["train", "--task", raising_task, "--epochs", "1"]
    if how == "flag":
        argv.append("--debug")
    elif how == "flag first":
        argv.insert(0, "--debug")
    else:
        monkeypatch.setenv("STUDY_DEBUG", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert 'raise RuntimeError("no data in /nowhere' in err  # the user's own line
    assert err.splitlines()[-1] == (f"study: error: task {raising_task!r} raised RuntimeError: "
                                    "no data in /nowhere")


def test_a_module_that_raises_on_import_is_one_line(tmp_path, monkeypatch, capsys):
    module = f"broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text("raise KeyError('half written')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["train", "--task", f"{module}:make"]) == 2
    assert capsys.readouterr().err == (f"study: error: task '{module}:make': importing module "
                                       f"{module!r} raised KeyError: 'half written'\n")


def test_an_unexpected_failure_is_one_line_that_says_how_to_see_more(monkeypatch, capsys):
    import study.cli.status

    def broken(args):
        raise OSError("disk on fire")

    monkeypatch.setattr(study.cli.status, "run", broken)
    assert main(["status"]) == 1
    assert capsys.readouterr().err == ("study: error: OSError: disk on fire (--debug or "
                                       "STUDY_DEBUG=1 shows the traceback)\n")


@pytest.mark.parametrize(("flags", "message"), [
    (["--poll", "inf"], "--poll inf: expected a number of seconds from 0.01 to 3600"),
    (["--poll", "nan"], "--poll nan: expected a number of seconds from 0.01 to 3600"),
    (["--poll", "-1e-3"], "--poll -1e-3: expected a number of seconds from 0.01 to 3600"),
    (["--poll", "1e6"], "--poll 1e6: expected a number of seconds from 0.01 to 3600"),
    (["--heartbeat", "0"], "--heartbeat 0: expected a whole number of seconds from 1 to 3600"),
    (["--heartbeat", "inf"], "--heartbeat inf: expected a whole number of seconds from 1 to "
                             "3600"),
    (["--heartbeat", "2.5"], "--heartbeat 2.5: expected a whole number of seconds from 1 to "
                             "3600"),
    (["--outage-window", "inf"], "--outage-window inf: expected seconds between 0 and a week"),
    (["--outage-window", "nan"], "--outage-window nan: expected seconds between 0 and a week"),
])
@pytest.mark.parametrize("command", [["worker"], ["launch", "--workers", "1"]])
def test_interval_flags_are_finite_positive_and_bounded(command, flags, message, tmp_path,
                                                        capsys):
    argv = [*command, "--name", "x", "--storage", str(tmp_path / "none.journal"), *flags]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"study: error: {message}\n"


def test_the_worker_refuses_an_infinite_poll_before_it_waits(tmp_path):
    with pytest.raises(SearchError, match="--poll inf: expected"):
        Worker(str(tmp_path / "none.journal"), "x", poll=float("inf"))


@pytest.mark.parametrize(("flags", "message"), [
    (["--rtol", "-1e-3"], "rtol must be a positive number, got '-1e-3'"),
    (["--lr", "-.5"], "lr must be a positive number, got '-.5'"),
    (["--weight", "-inf"], "weight"),
])
def test_negative_values_reach_the_validation(flags, message, capsys):
    assert main(["train", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("study: error: ") and message in err and len(err.splitlines()) == 1


def test_only_values_of_long_flags_are_joined():
    assert join_negative_values(["train", "--rtol", "-1e-3", "--atol=-1", "-h"]) == \
        ["train", "--rtol=-1e-3", "--atol=-1", "-h"]
    assert join_negative_values(["--json", "--seed", "-2"]) == ["--json", "--seed=-2"]
