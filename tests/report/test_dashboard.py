"""`study dashboard`: optuna-dashboard over an experiment storage, over HTTP and in Chromium."""

from __future__ import annotations

import json
import runpy
import threading
import urllib.request
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import pytest

from study import report
from tests.report.browser import visit
from tests.report.images import colour_stats, read_png

DASHBOARDS = Path(__file__).parents[2] / "dashboards"


@pytest.fixture
def served(small_study):
    server = report.open_dashboard(small_study.url, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(timeout=10)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def test_the_api_lists_the_experiments_studies_and_serves_their_artifacts(served, small_study):
    assert served.url.startswith("http://127.0.0.1:")
    base = served.url.removesuffix("/dashboard/")
    assert json.loads(_get(f"{base}/api/meta"))["artifact_is_available"] is True
    listed = {
        s["study_name"]: s["study_id"]
        for s in json.loads(_get(f"{base}/api/studies"))["study_summaries"]
    }
    assert set(listed) == {f"{small_study.name}.none", f"{small_study.name}.local"}
    trial = small_study.studies["local"].trials[0]
    curves_id = trial.user_attrs["artifacts"]["curves"]
    curves = json.loads(
        _get(f"{base}/artifacts/{listed['tiny.local']}/{trial._trial_id}/{curves_id}")
    )
    assert len(curves["val_accuracy"]) == trial.user_attrs["epochs"]


@pytest.mark.browser
# The dashboard computes parameter importances of the tiny study, whose trials tie.
@pytest.mark.filterwarnings("ignore:Target and region quantiles:UserWarning")
def test_chromium_shows_the_studies_and_the_saved_comparison(served, small_study, tmp_path):
    shot = tmp_path / "dashboard.png"
    home = visit(served.url, screenshot=shot, size=(1000, 600), wait_ms=5000)
    assert f"{small_study.name}.none" in home.dom and f"{small_study.name}.local" in home.dom
    assert not [m for m in home.console if "Uncaught" in m]
    variance, colours = colour_stats(read_png(shot))
    assert variance > 100 and colours > 20
    # A study's page draws the overlaid fronts saved into it.
    study_id = small_study.studies["local"]._study_id
    page = visit(f"{served.url}studies/{study_id}", wait_ms=8000)
    assert f"{small_study.name}: Pareto fronts by regularizer" in page.dom
    assert not [m for m in page.console if "Uncaught" in m]


def test_the_deployment_wsgi_file_serves_the_storage_of_study_storage(small_study, monkeypatch):
    monkeypatch.setenv("STUDY_STORAGE", small_study.url)
    application = runpy.run_path(str(DASHBOARDS / "wsgi.py"))["application"]
    environ: dict = {"PATH_INFO": "/api/studies"}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(application(environ, lambda s, headers, *_: status.append(s)))
    assert status == ["200 OK"]
    names = {s["study_name"] for s in json.loads(body)["study_summaries"]}
    assert names == {f"{small_study.name}.none", f"{small_study.name}.local"}
