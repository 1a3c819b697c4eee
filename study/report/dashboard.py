"""optuna-dashboard over an experiment storage, and the comparison saved where it shows it.

The dashboard draws one study at a time; ``publish`` saves the overlaid Pareto fronts, the
hypervolumes and a summary note into every study of an experiment, so each study's page shows
the whole comparison. The dashboard has no login and its API can delete studies: serve it on
loopback unless a person explicitly chooses otherwise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna
import optuna_dashboard

from study.report.comparison import Comparison
from study.report.figures import hypervolume_figure, pareto_figure
from study.report.tables import Measurements, summary_markdown

PARETO_ID = "study-pareto-fronts"
HYPERVOLUME_ID = "study-hypervolume"
# Complete trials per regularizer when the comparison was last saved into a study.
SNAPSHOT_KEY = "study:comparison_snapshot"
# Ends the part of a study's note that every publish replaces; what a person writes below it
# in the dashboard is kept.
NOTE_END = (
    "*Above: written by `study export` / `study dashboard`, replaced each time they run. "
    "Notes below this line are kept.*"
)


def publish(
    comparison: Comparison, measurements: Measurements | None = None, *, if_stale: bool = False
) -> bool:
    """Save the comparison's figures and summary note into every study of the experiment.

    With ``if_stale``, nothing is written when the saved snapshot already covers the same
    complete trials (so a summary measured on test by ``study export`` is not replaced by one on
    validation). Returns whether anything was written.
    """
    snapshot = {r: len(m.complete) for r, m in comparison.methods.items()}
    if if_stale and all(_snapshot(m.study) == snapshot for m in comparison.methods.values()):
        return False
    # The dashboard lays custom figures out in cards: let them take the card's width.
    pareto = pareto_figure(comparison).update_layout(width=None, autosize=True)
    volumes = hypervolume_figure(comparison).update_layout(width=None, autosize=True)
    summary = summary_markdown(comparison, measurements)
    for method in comparison.methods.values():
        study = method.study
        optuna_dashboard.save_plotly_graph_object(study, pareto, graph_object_id=PARETO_ID)
        optuna_dashboard.save_plotly_graph_object(study, volumes, graph_object_id=HYPERVOLUME_ID)
        kept = optuna_dashboard.get_note(study)
        kept = kept.split(NOTE_END, 1)[1] if NOTE_END in kept else kept
        optuna_dashboard.save_note(study, f"{summary}\n---\n{NOTE_END}\n\n{kept.lstrip()}")
        # System attributes, like the dashboard's own: not shown among the user attributes.
        study._storage.set_study_system_attr(study._study_id, SNAPSHOT_KEY, snapshot)
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
