"""Shared by the comparison benchmarks: labels, per-method summaries over seeds, and training a
list of configurations one after another into a JSON-lines file."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path


def label(name: str, options: dict) -> str:
    return name if not options else f"{name} ({', '.join(str(v) for v in options.values())})"


def tolerance(value: float) -> str:
    """A tolerance as the results write it: 1e-2, 5e-3."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs: list[dict], keys: list[str]) -> dict:
    """``runs``: records with ``case`` and ``metrics``. Per case: ``(mean, std)`` of each key over
    seeds, ``seeds``, and ``ratio`` (ratio of means to the ``none`` case)."""
    by_case: dict[str, list[dict]] = {}
    for run in runs:
        by_case.setdefault(run["case"], []).append(run["metrics"])
    table = {}
    for case, records in by_case.items():
        table[case] = {key: mean_std([float(r[key]) for r in records]) for key in keys}
        table[case]["seeds"] = len(records)
    base = table.get("none")
    for row in table.values():
        row["ratio"] = {
            key: (row[key][0] / base[key][0] if base and base[key][0] else float("nan"))
            for key in keys
        }
    return table


def train_rows(configs: Iterable[dict], path: Path, keys: Sequence[str], *,
               append: bool = False) -> None:
    """Train each config with ``study.train.train`` on one thread, in order, writing one JSON line
    per run (the config and its metrics' ``keys``) to ``path`` as soon as it finishes (after the
    lines already there with ``append``)."""
    import torch

    from study.train import train

    torch.set_num_threads(1)
    with path.open("a" if append else "w") as out:
        for config in configs:
            metrics = train(config)
            row = {"config": config, **{k: metrics[k] for k in keys}}
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(row, flush=True)
