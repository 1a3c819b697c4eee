"""`study export` and `study dashboard` mistakes: one line, a non-zero exit, no password."""

from __future__ import annotations

import io
import re
import sys

import pytest

from study.cli import main

SECRET = "s3cret-Pa55"
UNREACHABLE = f"postgresql+psycopg://study:{SECRET}@127.0.0.1:1/study"


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_an_unknown_experiment_names_the_known_ones(small_study, tmp_path, capsys):
    code, err = _run(
        capsys, "export", "--storage", small_study.url, "--name", "nope", "--out", str(tmp_path)
    )
    assert code == 2
    assert err == "study: error: no experiment 'nope' in this storage: known are tiny\n"
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--name", "tiny", "--out", "unused"],
        ["dashboard", "--port", "0"],
    ],
)
def test_an_unreachable_database_is_one_line_without_its_password(command, capsys):
    code, err = _run(capsys, *command, "--storage", UNREACHABLE)
    assert code == 4
    assert len(err.splitlines()) == 1 and err.startswith("study: error: storage ")
    assert SECRET not in err and "study:***@127.0.0.1:1" in err


def test_a_bad_format_names_the_accepted_ones(small_study, tmp_path, capsys):
    code, err = _run(
        capsys,
        "export",
        "--storage",
        small_study.url,
        "--name",
        "tiny",
        "--out",
        str(tmp_path),
        "--format",
        "html,pdf",
    )
    assert code == 2
    assert err == ("study: error: unknown format 'pdf': accepted are html, png, svg, csv, md\n")


def test_a_stated_reference_point_is_used(small_study, tmp_path, capsys):
    code, _ = _run(
        capsys,
        "export",
        "--storage",
        small_study.url,
        "--name",
        "tiny",
        "--out",
        str(tmp_path),
        "--format",
        "csv",
        "--reference",
        "0.5,100",
        "--no-publish",
    )
    assert code == 0
    header, first = (tmp_path / "tiny-hypervolume.csv").read_text().splitlines()[:2]
    assert header.endswith("reference_accuracy,reference_predict_nfe_warm")
    assert first.endswith(",0.5,100.0")
    code, err = _run(
        capsys,
        "export",
        "--storage",
        small_study.url,
        "--name",
        "tiny",
        "--out",
        str(tmp_path),
        "--reference",
        "0.5",
    )
    assert code == 2 and "--reference '0.5': expected two numbers QUALITY,NFE" in err


def test_a_dashboard_off_loopback_is_warned_about(small_study, capsys):
    # 192.0.2.1 (TEST-NET-1) is never this machine's: the warning comes, then binding fails.
    code, err = _run(
        capsys,
        "dashboard",
        "--storage",
        small_study.url,
        "--host",
        "192.0.2.1",
        "--port",
        "0",
        "--no-publish",
    )
    assert code == 2
    warning, error = err.splitlines()
    assert warning.startswith("warning: the dashboard has no login")
    assert "192.0.2.1:0" in warning
    assert error.startswith("study: error: cannot listen on 192.0.2.1:0")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_re_evaluating_front_trials_shows_their_count_and_a_bar_on_a_terminal(
        small_study, tmp_path, monkeypatch):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["export", "--storage", small_study.url, "--name", "tiny", "--out", str(tmp_path),
                 "--format", "md", "--rounds", "1", "--device", "cpu", "--no-publish"]) == 0
    text = err.getvalue()
    count, evaluations = map(int, re.search(
        r"re-evaluating (\d+) front trials of 'tiny' on the test split to time their "
        r"predictions: a warm-up and 1 timed round\(s\), (\d+) evaluations", text).groups())
    assert count > 0 and evaluations == 2 * count
    # The bar is up before the first evaluation (which also loads torch and the data).
    assert "re-evaluating front trials:   0%|" in text and f"0/{evaluations}" in text
    assert "Traceback" not in text
