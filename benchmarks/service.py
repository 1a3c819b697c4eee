"""The study service: trials per minute with 1 vs 2 local workers, and storage time per trial.

Every trial is a real digits training run (``--epochs``, default 1, so that the service's own
cost is visible next to training).

- **Throughput**: ``study launch`` with 1, then 2 workers on a fresh embedded journal file, the
  same experiment each time. Trials per minute are counted between the first trial's start and
  the last trial's end (process start-up excluded) and over the launch's whole wall time;
  "mean trials running" (trial time / span) shows whether the workers overlapped, and "mean
  trial s" whether each trial got slower (CPU contention).
- **Storage time per trial**: one in-process worker on each storage (embedded journal file,
  PostgreSQL); everything the worker does per trial except ``train()`` -- claiming under the
  experiment lock, sampling, user attributes, artifact uploads, ``tell`` -- divided by the
  number of trials.

    .venv/bin/python benchmarks/service.py [--trials 6] [--epochs 1] [--postgres URL]

PostgreSQL defaults to ``$STUDY_TEST_POSTGRES``, else ``postgresql+psycopg://postgres@127.0.0.1
:5432/test``: Optuna's tables are created there if missing, and the benchmark's studies are
deleted afterwards. Results go to
``benchmarks/results/service.{json,md}``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import optuna
import torch

from study.search import experiment as experiments
from study.search import launch, open_storage, redact, studies
from study.search.storage import ARTIFACTS_ENV, experiment_studies
from study.search.worker import Worker
from study.train import train

RESULTS = Path(__file__).parent / "results"


def make_experiment(trials: int, epochs: int) -> experiments.Experiment:
    return experiments.Experiment.from_dict({
        "regularizers": ["none", "local"],
        "trials": trials,
        "sampler": "random",
        "train": {"task": "digits", "epochs": epochs, "atol": 1e-4},
        "search": {"rtol": {"low": 1e-4, "high": 1e-2, "log": True},
                   "local": {"weight": {"low": 0.1, "high": 10.0, "log": True}}},
    }, source="benchmark")


def throughput(workers: int, experiment: experiments.Experiment, root: Path) -> dict:
    url = str(root / f"throughput-{workers}" / "study.journal")
    storage = open_storage(url, create=True)
    studies.create(url, storage, "bench", experiment)
    start = time.perf_counter()
    code = launch(url, "bench", workers=workers, poll=0.2, out=io.StringIO())
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"launch with {workers} worker(s) failed (exit {code}); see {url}")
    trials = [t for s in experiment_studies(storage, "bench").values() for t in s.get_trials()]
    span = (max(t.datetime_complete for t in trials)
            - min(t.datetime_start for t in trials)).total_seconds()
    busy = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials)
    return {"workers": workers, "trials": len(trials), "wall_s": wall, "trial_span_s": span,
            "mean_trials_running": busy / span, "mean_trial_s": busy / len(trials),
            "trials_per_minute": 60 * len(trials) / span,
            "trials_per_minute_wall": 60 * len(trials) / wall}


def storage_time(url: str, experiment: experiments.Experiment, name: str) -> dict:
    storage = open_storage(url, create=True)
    studies.create(url, storage, name, experiment)
    trained = []

    def timed_train(config, **kwargs):
        start = time.perf_counter()
        try:
            return train(config, **kwargs)
        finally:
            trained.append(time.perf_counter() - start)

    worker = Worker(url, name, device="cpu", poll=0.2, train=timed_train, out=io.StringIO())
    start = time.perf_counter()
    result = worker.run()
    wall = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"worker on {redact(url)} failed: {result.message}")
    return {"storage": redact(url), "trials": len(trained), "wall_s": wall,
            "train_s": sum(trained),
            "storage_s_per_trial": (wall - sum(trained)) / len(trained)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6, help="trials per regularizer (2)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--postgres", default=os.environ.get(
        "STUDY_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    torch.set_num_threads(1)
    experiment = make_experiment(args.trials, args.epochs)
    with tempfile.TemporaryDirectory(prefix="study-bench-") as tmp:
        root = Path(tmp)
        os.environ[ARTIFACTS_ENV] = str(root / "artifacts")
        os.environ["OMP_NUM_THREADS"] = "1"
        rows = [throughput(n, experiment, root) for n in (1, 2)]
        name = f"bench-{uuid.uuid4().hex[:8]}"
        per_trial = [storage_time(str(root / "storage" / "study.journal"), experiment, name)]
        try:
            per_trial.append(storage_time(args.postgres, experiment, name))
        finally:
            for s in optuna.get_all_study_summaries(args.postgres):
                if s.study_name.startswith(f"{name}."):
                    optuna.delete_study(study_name=s.study_name, storage=args.postgres)
    ratio = rows[1]["trials_per_minute"] / rows[0]["trials_per_minute"]
    lines = [
        f"Study service, {2 * args.trials} digits trials of {args.epochs} epoch(s), "
        f"{os.cpu_count()} CPU core(s)",
        "",
        "| workers | trials/min (trials' span) | trials/min (launch wall time) "
        "| mean trials running | mean trial s |",
        "|---|---|---|---|---|",
        *(f"| {r['workers']} | {r['trials_per_minute']:.1f} | {r['trials_per_minute_wall']:.1f} "
          f"| {r['mean_trials_running']:.2f} | {r['mean_trial_s']:.2f} |" for r in rows),
        "",
        f"2 workers / 1 worker: {ratio:.2f}x",
        "",
        "| storage | trials | storage s/trial | train s/trial |",
        "|---|---|---|---|",
        *(f"| {'PostgreSQL' if 'postgresql' in p['storage'] else 'journal file (default)'} | "
          f"{p['trials']} | {p['storage_s_per_trial']:.3f} | "
          f"{p['train_s'] / p['trials']:.3f} |" for p in per_trial),
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "service.json").write_text(json.dumps(
        {"throughput": rows, "ratio_2_to_1": ratio, "storage": per_trial}, indent=2))
    (RESULTS / "service.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
