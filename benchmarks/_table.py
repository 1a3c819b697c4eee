"""A recorded table of trained configurations, and a trainer that replays it.

Comparing samplers or early stopping needs many whole studies; training every trial of every
study would take days on a CPU. Instead a grid of configurations of one regularizer is trained
once (``build``: ``study.train.train`` for each grid point, every run's metrics record with its
per-epoch curves), and studies then run the project's real worker, sampler and early stopping
with a ``train`` function that snaps each suggested configuration to the nearest grid point (in
log space for log-scaled parameters) and replays that run: its curves epoch by epoch through the
``progress`` callback, then its record. Training seconds are the recorded ones (pro rata for a
run stopped early). The benchmarks that use it say so in their results.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from study.train import Progress, TrainConfig, train

# The grid: digits, the local regularizer, dopri5/bosh3, rtol from 1e-8 to 1e-5 (atol fixed at
# 1e-8), six weights from 0.1 to 30, both samplings; ten epochs per run.
BASE = {"task": "digits", "regularizer": "local", "atol": 1e-8, "epochs": 10, "seed": 0,
        "device": "cpu"}
GRID: dict[str, Sequence[Any]] = {
    "weight": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0],
    "rtol": [1e-8, 1e-7, 1e-6, 1e-5],
    "method": ["dopri5", "bosh3"],
    "sampling": ["unbiased", "biased"],
}
VANILLA = {**BASE, "regularizer": "none", "rtol": 1e-8, "method": "dopri5"}
LOG = ("weight", "rtol")
# The experiment the studies run: the grid's space as ranges and choices.
EXPERIMENT = f"""
regularizers = ["local"]
replicates = 1
objective = "predict_nfe_warm"
[train]
task = "digits"
epochs = {BASE["epochs"]}
atol = {BASE["atol"]}
[search.local]
weight = {{ low = 0.1, high = 30.0, log = true }}
rtol = {{ low = 1e-8, high = 1e-5, log = true }}
method = ["dopri5", "bosh3"]
sampling = ["unbiased", "biased"]
"""


def _key(values: Mapping[str, Any]) -> str:
    return json.dumps({k: values[k] for k in sorted(GRID)}, sort_keys=True)


def build(path: Path) -> dict[str, Any]:
    """Train every grid point (and vanilla) once; save and return the table."""
    table: dict[str, Any] = {"base": BASE, "grid": GRID, "runs": {}}
    if path.exists():
        table = json.loads(path.read_text())
    points = [dict(zip(GRID, combo)) for combo in itertools.product(*GRID.values())]
    for i, point in enumerate(points):
        key = _key(point)
        if key in table["runs"]:
            continue
        started = time.perf_counter()
        table["runs"][key] = train({**BASE, **point})
        print(f"[{i + 1}/{len(points)}] {key}: {time.perf_counter() - started:.1f} s",
              flush=True)
        path.write_text(json.dumps(table))
    if "vanilla" not in table:
        table["vanilla"] = train(VANILLA)
        path.write_text(json.dumps(table))
    return table


def nearest(config: TrainConfig) -> dict[str, Any]:
    """The grid point nearest to ``config``'s searched values."""
    values = {**config.to_dict()}
    point = {}
    for name, choices in GRID.items():
        if name in LOG:
            point[name] = min(choices, key=lambda c: abs(math.log(c) - math.log(values[name])))
        else:
            point[name] = values[name]
    return point


class Replay:
    """A ``train`` function that replays the table (see the module docstring)."""

    def __init__(self, table: Mapping[str, Any]):
        self.table = table
        self.calls = 0

    def __call__(self, config: TrainConfig, *, checkpoint=None, progress=None) -> dict:
        self.calls += 1
        record = self.table["runs"][_key(nearest(config))]
        curves = record["curves"]
        epochs = record["epochs"]
        quality = next(k for k in curves if k.startswith("val_"))
        for epoch in range(1, epochs + 1):
            if progress is not None:
                progress(Progress(
                    epoch, epochs, epoch, epochs, curves["loss"][epoch - 1],
                    round(curves["nfe"][epoch - 1]), val=curves[quality][epoch - 1],
                    predict_nfe=curves["predict_nfe"][epoch - 1],
                    predict_nfe_warm=curves["predict_nfe_warm"][epoch - 1],
                    train_seconds=record["train_seconds"] * epoch / epochs))
        return dict(record)
