"""`study export` on a small real experiment: every file, its content, and how it renders."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET

import numpy as np
import optuna_dashboard
import pytest
from optuna._hypervolume import compute_hypervolume

from study import report
from study.cli import main
from study.report.dashboard import PARETO_ID
from tests.report.browser import visit
from tests.report.images import colour_stats, read_png

FIGURES = ("pareto", "hypervolume", "nfe-vs-train-time")


@pytest.fixture(scope="module")
def exported(small_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    written = report.export(small_study.url, small_study.name, out)
    return out, written


def _rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.browser
def test_every_format_is_written(exported, small_study):
    _, written = exported
    name = small_study.name
    expected = {
        f"{name}-trials.csv",
        f"{name}-hypervolume.csv",
        f"{name}-summary.md",
        f"{name}.html",
    }
    expected |= {f"{name}-{fig}.{fmt}" for fig in FIGURES for fmt in ("png", "svg")}
    assert {p.name for p in written} == expected
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)


def test_csv_has_every_trial_and_the_fronts_of_best_trials(exported, small_study):
    out, _ = exported
    rows = _rows(out / f"{small_study.name}-trials.csv")
    studies = small_study.studies
    assert len(rows) == sum(len(s.trials) for s in studies.values())
    for regularizer, study in studies.items():
        mine = [r for r in rows if r["regularizer"] == regularizer]
        assert {int(r["trial"]) for r in mine} == {t.number for t in study.trials}
        on_front = {int(r["trial"]) for r in mine if r["on_front"] == "True"}
        assert on_front == {t.number for t in study.best_trials}
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert len(failed) == 1 and "diverged" in failed[0]["fail_reason"]
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    # The project's names for parameters and metrics are the columns.
    assert all(float(r["predict_nfe"]) > 0 and float(r["rtol"]) > 0 for r in complete)
    assert all(
        0 < float(r["val_accuracy"]) <= 1 and float(r["train_seconds"]) > 0 for r in complete
    )


def test_hypervolumes_use_the_stated_reference_point(exported, small_study):
    out, _ = exported
    rows = _rows(out / f"{small_study.name}-hypervolume.csv")
    q_ref = float(rows[0]["reference_val_accuracy"])
    nfe_ref = float(rows[0]["reference_predict_nfe"])
    assert {(r["reference_val_accuracy"], r["reference_predict_nfe"]) for r in rows} == {
        (rows[0]["reference_val_accuracy"], rows[0]["reference_predict_nfe"])
    }
    summary = (out / f"{small_study.name}-summary.md").read_text()
    assert f"reference point: val_accuracy = {q_ref:.4g}, predict_nfe = {nfe_ref:.4g}" in summary
    for regularizer, study in small_study.studies.items():
        # Independently: Optuna's own hypervolume of the complete trials, accuracy negated.
        losses = np.array([[-t.values[0], t.values[1]] for t in study.trials if t.values])
        expected = compute_hypervolume(losses, np.array([-q_ref, nfe_ref]))
        last = [float(r["hypervolume"]) for r in rows if r["regularizer"] == regularizer][-1]
        assert last == pytest.approx(expected, rel=1e-9)
        assert expected > 0
        assert re.search(rf"\| {regularizer} \| \d+ \| \d+ \| {expected:.4g} \|", summary)


def test_summary_compares_local_with_each_baseline_on_the_test_set(exported, small_study):
    out, _ = exported
    summary = (out / f"{small_study.name}-summary.md").read_text()
    assert "measured on the held-out test set" in summary
    table = summary.split("measured on the held-out test set", 1)[1]
    row = next(line for line in table.splitlines() if line.startswith("| none |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    baseline_trial, local_trial = int(cells[1]), int(cells[2].rstrip("*"))
    # Re-evaluating a checkpoint on the test set reproduces the accuracy the worker recorded.
    stored = [
        small_study.studies["none"].trials[baseline_trial].user_attrs["test_accuracy"],
        small_study.studies["local"].trials[local_trial].user_attrs["test_accuracy"],
    ]
    assert cells[3] == f"{stored[0]:.4g} → {stored[1]:.4g}"
    nfe_ratio, speed_up, train_ratio = float(cells[5]), float(cells[6].rstrip("x")), float(cells[7])
    assert nfe_ratio > 0 and speed_up > 0 and train_ratio > 0


def test_the_comparison_is_saved_into_every_study_for_the_dashboard(exported, small_study):
    for study in small_study.studies.values():
        assert "## Hypervolume (reference point:" in optuna_dashboard.get_note(study)
        keys = study._storage.get_study_system_attrs(study._study_id)
        assert any(k.startswith(f"dashboard:plot_data:{PARETO_ID}:") for k in keys)


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
        ]
    )
    err = capsys.readouterr().err
    assert code != 0
    page = tmp_path / f"{small_study.name}.html"
    assert page.is_file() and page.stat().st_size < 200_000
    assert 'src="https://cdn.plot.ly' in page.read_text()
    assert not list(tmp_path.glob("*.png"))
    assert "PNG export needs Chromium" in err and "apt-get install chromium" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
