"""Entry points over a storage URL: ``export`` one experiment, ``open_dashboard`` on all of them.

Storage is reached only through ``study.search.storage`` (URL resolution, password redaction,
the artifact store next to the storage); errors from there become ``ReportError`` with the same
one-line, password-free message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from study.report import dashboard
from study.report.comparison import Comparison, compare
from study.report.errors import ReportError
from study.report.reevaluate import reevaluate_fronts
from study.report.writer import FORMATS, parse_formats, write_export
from study.search import storage as search_storage
from study.search.errors import SearchError, StorageError

Log = Callable[[str], None]


def export(
    storage_url: str | None,
    name: str,
    out_dir: str | Path,
    *,
    formats: str | Iterable[str] = FORMATS,
    cdn: bool = False,
    reference: Sequence[float] | None = None,
    device: str = "auto",
    rounds: int = 3,
    publish: bool = True,
    log: Log | None = None,
) -> list[Path]:
    """Export experiment ``name`` to ``out_dir``; the files written.

    ``storage_url`` ``None`` means ``STUDY_STORAGE`` or the embedded default. ``formats`` is a
    subset of ``html, png, svg, csv, md``; ``md`` re-evaluates every front trial on the test set,
    all on ``device``, ``rounds`` times each (see ``reevaluate_fronts``). ``reference`` is the
    hypervolume reference point ``(quality, predict_nfe)``. With ``publish`` the figures and
    summary are also saved into the experiment's studies for the dashboard. Raises
    ``ReportError`` (``ImagesNotWritten`` when PNG/SVG could not be rendered, after every other
    file was written).
    """
    formats = parse_formats(formats)
    with _storage_errors():
        url = search_storage.resolve_url(storage_url)
        with search_storage.storage_errors(url):
            storage = search_storage.open_storage(url)
            studies = search_storage.experiment_studies(storage, name)
            store = search_storage.artifact_store(url)
            comparison = compare(name, studies, reference=reference)
    measurements = None
    if "md" in formats:
        n = sum(len(m.front) for m in comparison.methods.values())
        _say(log, f"re-evaluating the {n} front trials of {name!r} on the test set")
        measurements = reevaluate_fronts(comparison, store, device=device, rounds=rounds)
    try:
        return write_export(comparison, Path(out_dir), formats, cdn=cdn, measurements=measurements)
    finally:
        if publish:
            _publish(comparison, measurements)


def dashboard_app(storage_url: str | None) -> Callable:
    """optuna-dashboard over the storage and its artifact store, as a WSGI application (for
    gunicorn or uWSGI; see ``dashboards/``). Publishes nothing."""
    with _storage_errors():
        url = search_storage.resolve_url(storage_url)
        with search_storage.storage_errors(url):
            return dashboard.app(
                search_storage.open_storage(url), search_storage.artifact_store(url)
            )


@dataclass
class DashboardServer:
    """optuna-dashboard serving a storage; ``url`` is where a browser opens it."""

    server: Any
    url: str
    published: list[str] = field(default_factory=list)

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def open_dashboard(
    storage_url: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    publish: bool = True,
    log: Log | None = None,
) -> DashboardServer:
    """Bind optuna-dashboard over the storage and its artifact store (port 0: a free port).

    With ``publish``, every experiment with complete trials first gets its comparison saved into
    its studies, unless the saved one covers the same trials (``published`` lists those
    refreshed). The caller runs ``serve_forever`` and warns when ``host`` is not loopback.
    """
    with _storage_errors():
        url = search_storage.resolve_url(storage_url)
        with search_storage.storage_errors(url):
            storage = search_storage.open_storage(url)
            store = search_storage.artifact_store(url)
            names = search_storage.list_experiments(storage) if publish else []
    published = []
    for name in names:
        try:
            with _storage_errors(), search_storage.storage_errors(url):
                comparison = compare(name, search_storage.experiment_studies(storage, name))
        except ReportError as exc:
            if exc.storage:
                raise
            _say(log, f"not publishing {name!r}: {exc}")
            continue
        if _publish(comparison, None, if_stale=True):
            published.append(name)
    application = dashboard.app(storage, store)
    try:
        server = dashboard.make_dashboard_server(application, host, port)
    except OSError as exc:
        raise ReportError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_port = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    return DashboardServer(server, f"http://{shown}:{bound_port}/dashboard/", published)


def _publish(comparison: Comparison, measurements: Any, *, if_stale: bool = False) -> bool:
    try:
        return dashboard.publish(comparison, measurements, if_stale=if_stale)
    except Exception as exc:  # storage backends raise their own types; say which and go on
        raise ReportError(
            f"could not save the comparison of {comparison.name!r} into its studies "
            f"({type(exc).__name__}); is the storage read-only? Use --no-publish",
            storage=True,
        ) from None


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    try:
        yield
    except SearchError as exc:
        raise ReportError(str(exc), storage=isinstance(exc, StorageError)) from None


def _say(log: Log | None, message: str) -> None:
    if log is not None:
        log(message)
