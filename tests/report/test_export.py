"""`study export` on a small real experiment: every file, its content, and how it renders."""

from __future__ import annotations

import csv
import re
import time
import xml.etree.ElementTree as ET

import numpy as np
import optuna_dashboard
import pytest
from optuna._hypervolume import compute_hypervolume

from study import report
from study.cli import main
from study.report import experiments
from study.report.dashboard import FIGURE_IDS
from tests.report.browser import visit
from tests.report.images import colour_stats, read_png

FIGURES = ("pareto", "test-front", "hypervolume", "nfe-vs-train-time", "learning-curves")


@pytest.fixture(scope="module")
def exported(small_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    written = report.export(small_study.url, small_study.name, out, rounds=2)
    return out, written


def _rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.browser
def test_every_format_is_written(exported, small_study):
    _, written = exported
    name = small_study.name
    expected = {f"{name}-{kind}.csv" for kind in ("trials", "runs", "hypervolume", "history")}
    expected |= {f"{name}-summary.md", f"{name}.html"}
    expected |= {f"{name}-{fig}.{fmt}" for fig in FIGURES for fmt in ("png", "svg")}
    assert {p.name for p in written} == expected
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)


def test_csv_has_every_trial_the_fronts_and_their_replicates(exported, small_study):
    out, _ = exported
    rows = _rows(out / f"{small_study.name}-trials.csv")
    studies = small_study.studies
    assert len(rows) == sum(len(s.trials) for s in studies.values())
    runs = _rows(out / f"{small_study.name}-runs.csv")
    for regularizer, study in studies.items():
        mine = [r for r in rows if r["regularizer"] == regularizer]
        assert {int(r["trial"]) for r in mine} == {t.number for t in study.trials}
        front = {int(r["trial"]) for r in mine if r["on_front"] == "True"}
        assert front == {t.number for t in study.best_trials}
        for row in (r for r in mine if r["on_front"] == "True"):
            # Every front configuration has its 3 seeds, and its statistics are theirs.
            seeds = [r for r in runs
                     if r["regularizer"] == regularizer and r["trial"] == row["trial"]]
            assert int(row["replicates"]) == len(seeds) == 3
            assert sorted(int(r["seed"]) for r in seeds) == [0, 1, 2]
            tests = [float(r["test_accuracy"]) for r in seeds]
            assert float(row["test_accuracy_mean"]) == pytest.approx(np.mean(tests))
            assert float(row["test_accuracy_std"]) == pytest.approx(np.std(tests, ddof=1))
            assert float(row["predict_nfe_warm_mean"]) == pytest.approx(
                np.mean([float(r["predict_nfe_warm"]) for r in seeds]))
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert len(failed) == 1 and "diverged" in failed[0]["fail_reason"]
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    # The project's names for parameters and metrics are the columns.
    assert all(float(r["predict_nfe_warm"]) > 0 and float(r["rtol"]) > 0 for r in complete)
    assert all(
        0 < float(r["val_accuracy"]) <= 1 and float(r["train_seconds"]) > 0 for r in complete
    )


def test_hypervolumes_are_recomputed_from_the_csv_replicate_means(exported, small_study):
    out, _ = exported
    rows = _rows(out / f"{small_study.name}-hypervolume.csv")
    trials = _rows(out / f"{small_study.name}-trials.csv")
    q_ref = float(rows[0]["reference_accuracy"])
    cost_ref = float(rows[0]["reference_predict_nfe_warm"])
    summary = (out / f"{small_study.name}-summary.md").read_text()
    assert f"Reference point: accuracy = {q_ref:.4g}, predict_nfe_warm = {cost_ref:.4g}" in summary
    box = (1 - q_ref) * cost_ref
    for row in rows:
        means = np.array([[-float(t["test_accuracy_mean"]), float(t["predict_nfe_warm_mean"])]
                          for t in trials
                          if t["regularizer"] == row["regularizer"] and t["on_front"] == "True"])
        inside = means[(means[:, 0] < -q_ref) & (means[:, 1] < cost_ref)]
        expected = compute_hypervolume(inside, np.array([-q_ref, cost_ref])) if len(inside) else 0
        assert float(row["test_hypervolume"]) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        normalised = float(row["test_hypervolume_normalised"])
        assert normalised == pytest.approx(expected / box, rel=1e-9, abs=1e-12)
        assert float(row["normalised_low"]) <= normalised <= float(row["normalised_high"])
        assert int(row["seeds"]) == 3
        assert f"| {row['regularizer']} |" in summary


def test_the_summary_has_a_verdict_per_baseline_with_its_interval(exported, small_study):
    out, _ = exported
    summary = (out / f"{small_study.name}-summary.md").read_text()
    table = summary.split("## Local vs each baseline", 1)[1].split("##", 1)[0]
    row = next(line for line in table.splitlines() if line.startswith("| none |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert re.fullmatch(r"-?[\d.e-]+ \[-?[\d.e-]+, -?[\d.e-]+\]", cells[1]), cells[1]
    verdicts = ("local better", "local worse", "not distinguishable at this budget")
    assert cells[2] in verdicts
    assert cells[6] in (*verdicts, "local has no configuration this cheap")
    timing = summary.split("## Prediction timing", 1)[1]
    assert "interleaved rounds" in timing and "µs/NFE" in timing
    assert "## Trials, replicates and compute" in summary and "9/9" in summary
    assert "CPU-h" in summary


def test_an_existing_export_is_refused_unless_forced_and_a_bad_out_fails_first(
        exported, small_study, tmp_path, capsys, monkeypatch):
    out, _ = exported
    args = ["export", "--storage", small_study.url, "--name", small_study.name, "--format",
            "csv", "--no-publish", "--out"]
    assert main([*args, str(out)]) == 2
    assert "already holds an export of 'tiny'" in capsys.readouterr().err
    assert main([*args, str(out), "--force"]) == 0
    blocker = tmp_path / "file"
    blocker.write_text("")
    started = time.monotonic()
    assert main([*args, str(blocker / "sub")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err
    # A folder that exists and takes no files, even from root (the tests may run as root), is
    # refused before the experiment is even read.
    loaded = []
    monkeypatch.setattr(experiments, "_load", lambda *a: loaded.append(a))
    assert main([*args, "/sys"]) == 2
    err = capsys.readouterr().err
    assert "cannot write to the output folder /sys: " in err and err.count("\n") == 1
    assert loaded == []
    assert time.monotonic() - started < 20  # before any re-measurement


def test_the_comparison_is_saved_into_every_study_for_the_dashboard(exported, small_study):
    for study in small_study.studies.values():
        assert "## Hypervolume" in optuna_dashboard.get_note(study)
        keys = study._storage.get_study_system_attrs(study._study_id)
        for graph_id in FIGURE_IDS.values():
            assert any(k.startswith(f"dashboard:plot_data:{graph_id}:") for k in keys)


@pytest.mark.browser
def test_png_and_svg_are_valid_images_of_the_figure_size(exported, small_study):
    out, _ = exported
    png = read_png(out / f"{small_study.name}-pareto.png")
    assert (png.width, png.height) == (900, 560)
    variance, colours = colour_stats(png)
    assert variance > 100 and colours > 50
    svg = ET.parse(out / f"{small_study.name}-pareto.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("width") == "900" and svg.get("height") == "560"


@pytest.mark.browser
def test_html_works_offline_and_renders_in_chromium_without_errors(exported, small_study, tmp_path):
    out, _ = exported
    page = out / f"{small_study.name}.html"
    text = page.read_text()
    assert 'src="https://cdn.plot.ly' not in text and len(text) > 3_000_000  # plotly.js inside
    shot = tmp_path / "page.png"
    seen = visit(page.as_uri(), screenshot=shot, size=(960, 700))
    assert seen.console == []  # no JavaScript error, nor any other message
    for figure in FIGURES:
        # Plotly marks a div it has drawn into and adds its SVG layers.
        drawn = re.search(
            rf'<div id="figure-{figure}"[^>]*js-plotly-plot[^>]*>.*?main-svg', seen.dom, re.S
        )
        assert drawn, f"figure {figure} was not drawn"
    variance, colours = colour_stats(read_png(shot))
    assert variance > 100 and colours > 50
    # The summary tables are on the page, counts included.
    for title in ("Trials, replicates and compute", "Hypervolume", "Local vs each baseline",
                  "Front configurations", "Prediction timing"):
        assert f"<h2>{title}</h2>" in seen.dom
    assert seen.dom.count("<table>") >= 5 and "9/9" in seen.dom


def test_cdn_makes_a_small_page_and_missing_chromium_still_writes_html(
    small_study, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium"))
    code = main(
        [
            "export",
            "--storage",
            small_study.url,
            "--name",
            small_study.name,
            "--out",
            str(tmp_path),
            "--format",
            "html,png",
            "--cdn",
            "--no-publish",
            "--rounds",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    page = tmp_path / f"{small_study.name}.html"
    assert page.is_file() and page.stat().st_size < 200_000
    assert 'src="https://cdn.plot.ly' in page.read_text()
    assert not list(tmp_path.glob("*.png"))
    assert "PNG export needs Chromium" in err and "apt-get install chromium" in err
    # One line of progress, one of error; no traceback.
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("study: error:")
    assert len(err.strip().splitlines()) == 2
