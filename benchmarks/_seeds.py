"""Shared by the comparison benchmarks: labels, and per-method summaries over seeds."""

from __future__ import annotations

import statistics


def label(name: str, options: dict) -> str:
    return name if not options else f"{name} ({', '.join(str(v) for v in options.values())})"


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
