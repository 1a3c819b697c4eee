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

from study.search.errors import ExperimentError, SearchError, StorageError
from study.search.experiment import Experiment, load, shipped
from study.search.launch import launch
from study.search.storage import (
    Backend,
    artifact_store,
    backend,
    experiment_studies,
    list_experiments,
    open_storage,
    redact,
    resolve_url,
)
from study.search.studies import Counts, counts, create
from study.search.worker import Worker, WorkerResult, run_worker

__all__ = [
    "Backend",
    "Counts",
    "Experiment",
    "ExperimentError",
    "SearchError",
    "StorageError",
    "Worker",
    "WorkerResult",
    "artifact_store",
    "backend",
    "counts",
    "create",
    "experiment_studies",
    "launch",
    "list_experiments",
    "load",
    "open_storage",
    "redact",
    "resolve_url",
    "run_worker",
    "shipped",
]
