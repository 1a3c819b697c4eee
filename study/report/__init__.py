"""Pareto export and dashboards: an experiment's regularizers compared, read from storage.

- ``export(storage_url, name, out_dir, formats=..., cdn=False)`` writes the overlaid Pareto fronts,
  the hypervolumes (one stated reference point) and prediction NFE vs training time as HTML (one
  offline page) and PNG/SVG, every trial as CSV, and the local-vs-baseline table (re-measured on
  the test set) as markdown.
- ``open_dashboard(storage_url, host=..., port=...)`` binds optuna-dashboard over the storage and
  its artifact store, after saving each experiment's comparison into its studies (``publish``).
- ``dashboard_app(storage_url)`` is the same dashboard as a WSGI application, for a deployment.
- ``compare(name, studies)`` is the comparison itself, for use without a storage URL.

This package reads studies and their artifacts; the only things it writes to a storage are the
dashboard's figures and notes.
"""

from study.report.comparison import Comparison, compare
from study.report.dashboard import is_loopback, publish
from study.report.errors import ImagesNotWritten, ReportError
from study.report.experiments import DashboardServer, dashboard_app, export, open_dashboard
from study.report.writer import FORMATS, parse_formats, write_export

__all__ = [
    "FORMATS",
    "Comparison",
    "DashboardServer",
    "ImagesNotWritten",
    "ReportError",
    "compare",
    "dashboard_app",
    "export",
    "is_loopback",
    "open_dashboard",
    "parse_formats",
    "publish",
    "write_export",
]
