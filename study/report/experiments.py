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

from study.outputs import OutputError, check_folder
from study.report import dashboard
from study.report.comparison import Comparison, compare
from study.report.curves import Curves, read_curves
from study.report.errors import ReportError
from study.report.figures import FIGURE_KEYS, figures
from study.report.stats import Analysis, analyse, best_on_validation
from study.report.tables import markdown, summary_tables
from study.report.timing import time_predictions
from study.report.writer import FORMATS, outputs, parse_formats, write_export
from study.search import storage as search_storage
from study.search.errors import SearchError, StorageError
from study.search.studies import artifact_location

Log = Callable[[str], None]


def _load(url: str, name: str, reference: Sequence[float] | None):
    """The comparison of experiment ``name`` at ``url`` and its artifact store."""
    store = search_storage.backend(url)
    with store.errors():
        storage = store.open()
        studies = search_storage.experiment_studies(storage, name)
        replicates = search_storage.experiment_studies(storage, name,
                                                       role=search_storage.REPLICATES)
        artifacts = store.artifact_store(
            artifact_location(next(iter(studies.values())), store))
        return compare(name, studies, replicates, reference=reference), artifacts


def check_output(out_dir: str | Path, name: str, formats: Iterable[str], *,
                 force: bool = False) -> Path:
    """The export folder, checked before any work: it can be written, and holds no export of
    ``name`` unless ``force`` (which overwrites it)."""
    try:
        out = check_folder(out_dir, "output folder")
    except OutputError as exc:
        raise ReportError(str(exc)) from None
    present = [n for n in outputs(name, formats, FIGURE_KEYS) if (out / n).exists()]
    if present and not force:
        raise ReportError(f"{out} already holds an export of {name!r} ({present[0]}"
                          f"{', ...' if len(present) > 1 else ''}): choose another --out, or "
                          "pass --force to overwrite it")
    return out


def export(
    storage_url: str | None,
    name: str,
    out_dir: str | Path,
    *,
    formats: str | Iterable[str] = FORMATS,
    cdn: bool = False,
    reference: Sequence[float] | None = None,
    device: str = "auto",
    rounds: int = 5,
    publish: bool = True,
    force: bool = False,
    log: Log | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Export experiment ``name`` to ``out_dir``; the files written.

    ``storage_url`` ``None`` means ``STUDY_STORAGE`` or the embedded default. ``formats`` is a
    subset of ``html, png, svg, csv, md``. The summary (``md``, ``html``) times the predictions
    of the configurations its verdicts compare, all on ``device``, ``rounds`` times each
    (``study.report.timing``; ``progress(done, total)`` follows it). ``reference`` overrides
    the hypervolume reference point ``(quality, cost)``. ``out_dir`` is checked first: an
    existing export of ``name`` there is refused unless ``force``. With ``publish`` the figures
    and summary are also saved into the experiment's studies for the dashboard. Raises
    ``ReportError`` (``ImagesNotWritten`` when PNG/SVG could not be rendered, after every other
    file was written).
    """
    formats = parse_formats(formats)
    out = check_output(out_dir, name, formats, force=force)
    with _storage_errors():
        url = search_storage.resolve_url(storage_url)
        comparison, store = _load(url, name, reference)
    analysis = analyse(comparison)
    curves = _curves(comparison, store)
    timings = None
    if {"md", "html"} & set(formats) and analysis.versus:
        chosen = [c for v in analysis.versus for c in (v.baseline_config, v.local_config)
                  if c is not None]
        count = len({(c.regularizer, c.trial.number) for c in chosen})
        _say(log, f"re-evaluating {count} front trials of {name!r} on the test split to time "
             f"their predictions: a warm-up and {rounds} timed round(s), "
             f"{count * (rounds + 1)} evaluations")
        timings = time_predictions(chosen, store, device=device, rounds=rounds,
                                   warm=comparison.cost_metric == "predict_nfe_warm",
                                   progress=progress)
    try:
        return write_export(comparison, analysis, out, formats, cdn=cdn, timings=timings,
                            curves=curves)
    finally:
        if publish:
            _publish(comparison, analysis, curves, timings)


def _curves(comparison: Comparison, store) -> dict[str, Curves]:
    """The learning curves of each regularizer's most accurate configuration (on validation)."""
    found = {}
    for r, method in comparison.methods.items():
        config = best_on_validation(comparison, method.configs)
        curves = read_curves(config, store) if config is not None else None
        if curves is not None:
            found[r] = curves
    return found


def dashboard_app(storage_url: str | None) -> Callable:
    """optuna-dashboard over the storage and its artifact store, as a WSGI application (for
    gunicorn or uWSGI; see ``dashboards/``). Publishes nothing."""
    with _storage_errors():
        url = search_storage.resolve_url(storage_url)
        store = search_storage.backend(url)
        with store.errors():
            storage = store.open()
            return dashboard.app(storage, _artifacts(store, storage))


def _artifacts(store, storage) -> Any:
    """The artifact store the storage's experiments recorded (the first one's, should they
    differ; the backend's default before any was recorded)."""
    recorded = [s.user_attrs["artifacts"] for s in storage.get_all_studies()
                if "artifacts" in s.user_attrs]
    return store.artifact_store(recorded[0] if recorded else None)


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
        store = search_storage.backend(url)
        with store.errors():
            storage = store.open()
            artifacts = _artifacts(store, storage)
            names = search_storage.list_experiments(storage) if publish else []
    published = []
    for name in names:
        try:
            with _storage_errors():
                comparison, _ = _load(url, name, None)
        except ReportError as exc:
            if exc.storage:
                raise
            _say(log, f"not publishing {name!r}: {exc}")
            continue
        if _publish(comparison, analyse(comparison), _curves(comparison, artifacts), None,
                    if_stale=True):
            published.append(name)
    application = dashboard.app(storage, artifacts)
    try:
        server = dashboard.make_dashboard_server(application, host, port)
    except OSError as exc:
        raise ReportError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound_port = server.server_address[1]
    shown = f"[{host}]" if ":" in host else host
    return DashboardServer(server, f"http://{shown}:{bound_port}/dashboard/", published)


def _publish(comparison: Comparison, analysis: Analysis, curves, timings, *,
             if_stale: bool = False) -> bool:
    note = markdown(comparison, summary_tables(comparison, analysis, timings))
    try:
        return dashboard.publish(comparison, note, figures(comparison, analysis, curves),
                                 if_stale=if_stale)
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
