"""optuna-dashboard over an experiment storage, and the comparison saved where it shows it.

The dashboard draws one study at a time; ``publish`` saves the overlaid Pareto fronts, the
hypervolumes and a summary note into every study of an experiment, so each study's page shows
the whole comparison. The dashboard has no login and its API can delete studies: serve it on
loopback unless a person explicitly chooses otherwise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna
import optuna_dashboard
import plotly.graph_objects as go

from study.report.comparison import Comparison

# The figures saved into every study, by the id the dashboard keeps them under.
FIGURE_IDS = {"pareto": "study-pareto-fronts", "test-front": "study-test-fronts",
              "hypervolume": "study-hypervolume", "learning-curves": "study-learning-curves"}
PARETO_ID = FIGURE_IDS["pareto"]
# Complete trials per regularizer (search, replicates) when the comparison was last saved.
SNAPSHOT_KEY = "study:comparison_snapshot"
# Ends the part of a study's note that every publish replaces; what a person writes below it
# in the dashboard is kept.
NOTE_END = (
    "*Above: written by `study export` / `study dashboard`, replaced each time they run. "
    "Notes below this line are kept.*"
)


def snapshot(comparison: Comparison) -> dict[str, list[int]]:
    """What a saved comparison covers: complete search trials and runs per regularizer."""
    return {r: [len(m.complete), sum(len(c.complete) for c in m.configs)]
            for r, m in comparison.methods.items()}


# optuna-dashboard draws a saved figure in a card of this height (and half the page's width),
# hiding what overflows it.
CARD_HEIGHT = 450


def for_dashboard(fig: go.Figure) -> go.Figure:
    """``fig`` sized for a dashboard card: its width follows the card, its height is the card's,
    and the legend sits in a row under the title, so that the title, the axis titles and the
    tick labels are all inside (``tests/report/test_dashboard.py`` checks it in Chromium)."""
    return go.Figure(fig).update_layout(
        width=None, autosize=True, height=CARD_HEIGHT,
        margin={"l": 70, "r": 20, "t": 110, "b": 60},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": None,
                "font": {"size": 10}},
        title_font_size=13)


def publish(comparison: Comparison, note: str, figures: Mapping[str, go.Figure], *,
            if_stale: bool = False) -> bool:
    """Save the comparison's figures and summary ``note`` (markdown) into every study of the
    experiment.

    With ``if_stale``, nothing is written when the saved snapshot already covers the same
    complete trials (so a summary measured by ``study export`` is not replaced by a quicker one).
    Returns whether anything was written.
    """
    covered = snapshot(comparison)
    if if_stale and all(_snapshot(m.study) == covered for m in comparison.methods.values()):
        return False
    sized = {FIGURE_IDS[k]: for_dashboard(f) for k, f in figures.items() if k in FIGURE_IDS}
    for method in comparison.methods.values():
        study = method.study
        for graph_id, fig in sized.items():
            optuna_dashboard.save_plotly_graph_object(study, fig, graph_object_id=graph_id)
        kept = optuna_dashboard.get_note(study)
        kept = kept.split(NOTE_END, 1)[1] if NOTE_END in kept else kept
        optuna_dashboard.save_note(study, f"{note}\n---\n{NOTE_END}\n\n{kept.lstrip()}")
        # System attributes, like the dashboard's own: not shown among the user attributes.
        study._storage.set_study_system_attr(study._study_id, SNAPSHOT_KEY, covered)
    return True


def _snapshot(study: optuna.Study) -> dict | None:
    return study._storage.get_study_system_attrs(study._study_id).get(SNAPSHOT_KEY)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app(storage: Any, artifact_store: Any = None) -> Callable:
    """The dashboard as a WSGI application (for gunicorn, uWSGI or ``serve``)."""
    return optuna_dashboard.wsgi(storage, artifact_store=artifact_store)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser's kept-alive request must not block shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """One line per request is noise in a terminal watching a study."""


def make_dashboard_server(application: Callable, host: str, port: int) -> WSGIServer:
    """A threaded server for ``application`` on ``host:port`` (port 0: a free one)."""
    return make_server(host, port, application, server_class=_Server, handler_class=_QuietHandler)
