"""The study service: experiments, their Optuna studies, storage and workers.

- ``experiment``: experiments from TOML (``load``, ``shipped``, ``Experiment``);
- ``storage``: storage URLs and their backends (``resolve_url``, ``backend``, ``open_storage``,
  ``redact``), the artifact store, finding experiments (``list_experiments``,
  ``experiment_studies``);
- ``studies``: creating an experiment's studies (``create``), counting trials (``counts``);
- ``worker``: ``Worker``/``run_worker``, which run trials until every budget is met;
- ``launch``: ``launch``, N local worker processes with progress.

The command line (``study create/worker/launch/status/demo``) is a thin layer over these.
"""

from study.imports import lazy_exports

# A function named like its module is bound now: a lazy one would be hidden by the module once
# ``study.search.launch`` is imported. That module imports no torch.
from study.search.launch import launch

# Imported on first use: the worker loads torch only with its first trial.
_EXPORTS = {
    "Backend": "storage",
    "Counts": "studies",
    "Experiment": "experiment",
    "ExperimentError": "errors",
    "SearchError": "errors",
    "StorageError": "errors",
    "Worker": "worker",
    "WorkerResult": "worker",
    "artifact_store": "storage",
    "backend": "storage",
    "counts": "studies",
    "create": "studies",
    "experiment_studies": "storage",
    "list_experiments": "storage",
    "load": "experiment",
    "open_storage": "storage",
    "redact": "storage",
    "resolve_url": "storage",
    "run_worker": "worker",
    "shipped": "experiment",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["launch", *_EXPORTS]
