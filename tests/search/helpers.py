"""Helpers of the study-service tests: the PostgreSQL server, a tiny experiment, `study`
subprocesses and reading their results.

PostgreSQL is required (``STUDY_TEST_POSTGRES``, default ``postgresql+psycopg://postgres@
127.0.0.1:5432/test``): tests fail, never skip, when it is down. Each test gets its own database,
dropped afterwards. Trials are real one-epoch digits runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import optuna
import sqlalchemy

ADMIN_URL = os.environ.get("STUDY_TEST_POSTGRES",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Server authentication is `trust`: the password is ignored by the server, so every output of a
# run can be checked for it.
PASSWORD = "s3cr3t-Pa55word"

TINY = """\
regularizers = ["none", "local"]
trials = {trials}
replicates = {replicates}
sampler = "random"
[train]
task = "digits"
epochs = 1
atol = 1e-4
[search]
rtol = {{ low = 1e-4, high = 1e-2, log = true }}
[search.local]
weight = {{ low = 0.1, high = 10.0, log = true }}
sampling = ["unbiased", "biased"]
"""


def write_experiment(directory: Path, trials: int, replicates: int = 1) -> Path:
    path = directory / "tiny.toml"
    path.write_text(TINY.format(trials=trials, replicates=replicates))
    return path


def has_tables(url: str) -> bool:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return sqlalchemy.inspect(connection).has_table("studies")
    finally:
        engine.dispose()


def env(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "STUDY_STORAGE"}
    return {**environment, "OMP_NUM_THREADS": "1", **extra}


def study(*args: str, cwd: Path, environment: dict | None = None) -> subprocess.Popen:
    """A `study` subprocess; stdout and stderr together, as text."""
    return subprocess.Popen([sys.executable, "-m", "study", *args], cwd=cwd,
                            env=environment or env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run(*args: str, cwd: Path, timeout: float = 120, environment: dict | None = None
        ) -> subprocess.CompletedProcess:
    process = study(*args, cwd=cwd, environment=environment)
    output, _ = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, output, None)


def load(url: str, name: str) -> dict[str, optuna.Study]:
    from study.search.storage import experiment_studies, open_storage

    return experiment_studies(open_storage(url), name)


def wait_for_training(url: str, name: str, pid: int, timeout: float = 90, *,
                      role: str | None = None) -> optuna.trial.FrozenTrial:
    """The trial worker ``pid`` is training (RUNNING, its config recorded), in a search study or
    with ``role="replicates"`` in a replicate study."""
    from study.search.storage import experiment_studies, open_storage

    storage = open_storage(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for s in experiment_studies(storage, name, role=role).values():
            for t in s.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                if t.user_attrs.get("worker", "").endswith(f":{pid}") and "config" in t.user_attrs:
                    # Read it again: Optuna reads params and user attributes in separate
                    # SELECTs, so this snapshot may miss parameters chosen just before the
                    # config; every one was committed before it, hence before a new read.
                    return storage.get_trial(t._trial_id)
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} started no trial within {timeout} s")


STARTED = re.compile(r"\] (\S+) trial (\d+) started")


def started_trials(*outputs: str) -> list[tuple[str, int]]:
    """``(study name, trial number)`` of every "trial N started" line of worker outputs."""
    return [(m[1], int(m[2])) for text in outputs for m in STARTED.finditer(text)]
