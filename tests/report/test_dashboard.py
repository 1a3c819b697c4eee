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
from tests.report.browser import evaluate, visit
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
    assert set(listed) == {f"{small_study.name}.{r}{kind}" for r in ("none", "local")
                           for kind in ("", ".replicates")}
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
    assert f"{small_study.name}: validation fronts by regularizer" in page.dom
    assert not [m for m in page.console if "Uncaught" in m]


# Every title of every figure the export saved into the study, with whether it is drawn whole:
# inside its figure's SVG and inside every ancestor that hides overflow.
TITLES = """(() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')].filter(
      p => p.querySelector('.gtitle') && /^tiny: /.test(p.querySelector('.gtitle').textContent));
  if (plots.length < %d) return null;
  const inside = (r, b) => r.width > 0 && r.left >= b.left - 1 && r.right <= b.right + 1
      && r.top >= b.top - 1 && r.bottom <= b.bottom + 1;
  return plots.map(p => {
    const svg = p.querySelector('.main-svg').getBoundingClientRect();
    const clips = [];
    for (let a = p.parentElement; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (['hidden', 'clip'].includes(s.overflowX) || ['hidden', 'clip'].includes(s.overflowY))
        clips.push(a.getBoundingClientRect());
    }
    const titles = [...p.querySelectorAll('text[class$="title"], .annotation-text, .legendtext')]
        .filter(t => t.textContent.trim());
    return {figure: p.querySelector('.gtitle').textContent, titles: titles.map(t => {
      const r = t.getBoundingClientRect();
      return [t.textContent, inside(r, svg) && clips.every(c => inside(r, c))];
    })};
  });
})()"""


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore:Target and region quantiles:UserWarning")
def test_the_saved_figures_are_drawn_whole_in_the_dashboard(served, small_study):
    from study.report.dashboard import FIGURE_IDS

    study_id = small_study.studies["local"]._study_id
    figures = evaluate(f"{served.url}studies/{study_id}", TITLES % len(FIGURE_IDS),
                       size=(1280, 900))
    assert len(figures) == len(FIGURE_IDS)
    for figure in figures:
        texts = [text for text, _ in figure["titles"]]
        assert len(texts) >= 3, figure  # the title and both axis titles at least
        clipped = [text for text, whole in figure["titles"] if not whole]
        assert not clipped, f"{figure['figure']}: clipped {clipped}"


def test_the_deployment_wsgi_file_serves_the_storage_of_study_storage(small_study, monkeypatch):
    monkeypatch.setenv("STUDY_STORAGE", small_study.url)
    application = runpy.run_path(str(DASHBOARDS / "wsgi.py"))["application"]
    environ: dict = {"PATH_INFO": "/api/studies"}
    setup_testing_defaults(environ)
    status = []
    body = b"".join(application(environ, lambda s, headers, *_: status.append(s)))
    assert status == ["200 OK"]
    names = {s["study_name"] for s in json.loads(body)["study_summaries"]}
    assert names == {f"{small_study.name}.{r}{kind}" for r in ("none", "local")
                     for kind in ("", ".replicates")}
