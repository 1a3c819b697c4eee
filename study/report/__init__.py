"""Pareto export and dashboards: an experiment's regularizers compared, read from storage.

- ``export(storage_url, name, out_dir, formats=..., cdn=False)`` writes the validation fronts,
  the replicated test fronts with their spread, hypervolumes against one fixed reference point
  with bootstrap intervals, the verdict on local vs each baseline, prediction timing, learning
  curves and prediction NFE vs training time: as HTML (one offline page with the summary tables),
  PNG/SVG, CSV (trials, runs, hypervolumes) and markdown.
- ``open_dashboard(storage_url, host=..., port=...)`` binds optuna-dashboard over the storage and
  its artifact store, after saving each experiment's comparison into its studies (``publish``).
- ``dashboard_app(storage_url)`` is the same dashboard as a WSGI application, for a deployment.
- ``compare(name, studies, replicates)`` is the comparison itself and ``analyse(comparison)``
  its intervals and verdicts, for use without a storage URL.

This package reads studies and their artifacts; the only things it writes to a storage are the
dashboard's figures and notes.
"""

from study.imports import lazy_exports

# Imported on first use: ``study.report.status`` loads without plotly and optuna-dashboard.
_EXPORTS = {
    "FORMATS": "writer",
    "Analysis": "stats",
    "Comparison": "comparison",
    "DashboardServer": "experiments",
    "ImagesNotWritten": "errors",
    "ReportError": "errors",
    "analyse": "stats",
    "compare": "comparison",
    "dashboard_app": "experiments",
    "export": "experiments",
    "is_loopback": "dashboard",
    "open_dashboard": "experiments",
    "parse_formats": "writer",
    "publish": "dashboard",
    "write_export": "writer",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
