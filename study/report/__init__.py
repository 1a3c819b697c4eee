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

from study.report.comparison import Comparison, compare
from study.report.dashboard import is_loopback, publish
from study.report.errors import ImagesNotWritten, ReportError
from study.report.experiments import DashboardServer, dashboard_app, export, open_dashboard
from study.report.stats import Analysis, analyse
from study.report.writer import FORMATS, parse_formats, write_export

__all__ = [
    "FORMATS",
    "Analysis",
    "Comparison",
    "DashboardServer",
    "ImagesNotWritten",
    "ReportError",
    "analyse",
    "compare",
    "dashboard_app",
    "export",
    "is_loopback",
    "open_dashboard",
    "parse_formats",
    "publish",
    "write_export",
]
