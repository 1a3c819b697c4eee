"""A small real experiment, built once: `none` vs `local` on digits, one epoch per trial, every
front configuration replicated with 3 seeds.

The service's own worker runs it, so trials are stored exactly as in a study: real one-epoch
training runs with their parameters, metrics, curves and checkpoints. Its very first run is
given a step budget of 1, so it really diverges and is recorded as FAIL.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import optuna
import pytest

from study.search import storage as search_storage
from study.search import studies as search_studies
from study.search.experiment import Experiment
from study.search.worker import run_worker
from study.train import train

NAME = "tiny"
TRIALS = 3
REPLICATES = 3


@dataclass(frozen=True)
class SmallStudy:
    url: str
    name: str
    studies: dict[str, optuna.Study]
    replicates: dict[str, optuna.Study]


def _first_run_diverges():
    runs = []

    def run(config, **kwargs):
        runs.append(config)
        return train(replace(config, max_steps=1) if len(runs) == 1 else config, **kwargs)

    return run


@pytest.fixture(scope="session")
def small_study(tmp_path_factory) -> SmallStudy:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = str(tmp_path_factory.mktemp("runs") / "study.journal")
    experiment = Experiment.from_dict(
        {
            "regularizers": ["none", "local"],
            "trials": TRIALS,
            "replicates": REPLICATES,
            "sampler": "random",
            "train": {"task": "digits", "epochs": 1, "atol": 1e-4},
            "search": {
                "rtol": {"low": 1e-4, "high": 1e-1, "log": True},
                "local": {"weight": {"low": 0.1, "high": 10.0, "log": True}},
            },
        }
    )
    storage = search_storage.open_storage(url, create=True)
    search_studies.create(url, storage, NAME, experiment)
    result = run_worker(url, NAME, device="cpu", train=_first_run_diverges(), out=io.StringIO())
    assert result.exit_code == 0, result.message
    storage = search_storage.open_storage(url)
    studies = search_storage.experiment_studies(storage, NAME)
    replicates = search_storage.experiment_studies(storage, NAME, role=search_storage.REPLICATES)
    return SmallStudy(url=url, name=NAME, studies=studies, replicates=replicates)
