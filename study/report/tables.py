"""The comparison as tables: trials and hypervolumes as CSV, local vs baselines as markdown.

Column names are the project's names for each concept: the training-config field names for
parameters (``weight``, ``sampling``, ``rtol``...), the metric names the workers record
(``val_accuracy``, ``predict_nfe``, ``train_seconds``...).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from optuna.trial import FrozenTrial

from study.report.comparison import LOCAL, NFE_METRIC, Comparison
from study.report.figures import TRAIN_SECONDS

REEVALUATED = "reevaluated_"  # prefix of the columns measured again by the export
SECONDS_PER_BATCH = "predict_seconds_per_batch"

# What the re-evaluation of one front trial gave: evaluate()'s record, or why there is none.
Measurements = Mapping[tuple[str, int], "dict[str, float] | str"]


def write_trials_csv(comparison: Comparison, path: Path, measurements: Measurements) -> Path:
    """One row per trial of every regularizer, with its metrics and whether it is on its front."""
    quality = comparison.quality_metric
    params: dict[str, None] = {}
    attrs: dict[str, None] = {}
    measured: dict[str, None] = {}
    for method in comparison.methods.values():
        for t in method.trials:
            params.update(dict.fromkeys(t.params))
            attrs.update(dict.fromkeys(k for k, v in t.user_attrs.items() if _is_scalar(v)))
    for record in measurements.values():
        if isinstance(record, dict):
            measured.update(dict.fromkeys(REEVALUATED + k for k in record))
    head = ["experiment", "regularizer", "trial", "state", "on_front", quality, NFE_METRIC]
    attr_columns = sorted(k for k in attrs if k not in params and k not in head)
    columns = [*head, *params, *attr_columns, "datetime_start", "duration_seconds", *measured]

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for r, method in comparison.methods.items():
            for t in method.trials:
                row: dict[str, object] = {
                    "experiment": comparison.name,
                    "regularizer": r,
                    "trial": t.number,
                    "state": t.state.name,
                    "on_front": method.on_front(t),
                    **dict.fromkeys((quality, NFE_METRIC), ""),
                    **t.params,
                    **{k: t.user_attrs[k] for k in attr_columns if k in t.user_attrs},
                    "datetime_start": t.datetime_start.isoformat() if t.datetime_start else "",
                    "duration_seconds": t.duration.total_seconds() if t.duration else "",
                }
                if t.values is not None:
                    row[quality], row[NFE_METRIC] = t.values
                record = measurements.get((r, t.number))
                if isinstance(record, dict):
                    row.update({REEVALUATED + k: v for k, v in record.items()})
                writer.writerow(row)
    return path


def write_hypervolume_csv(comparison: Comparison, path: Path) -> Path:
    """Hypervolume after each complete trial of each regularizer, with the reference point."""
    q_ref, nfe_ref = comparison.reference
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "regularizer",
                "trial",
                "hypervolume",
                f"reference_{comparison.quality_metric}",
                f"reference_{NFE_METRIC}",
            ]
        )
        for r, method in comparison.methods.items():
            for number, hv in method.history:
                writer.writerow([r, number, hv, q_ref, nfe_ref])
    return path


@dataclass(frozen=True)
class Pair:
    """The local trial set against one baseline's trial, both chosen on validation."""

    baseline: str
    baseline_trial: FrozenTrial
    local_trial: FrozenTrial
    reaches_quality: bool  # the local trial's validation quality is at least the baseline's


def pairs(comparison: Comparison) -> list[Pair]:
    """For each baseline, its most accurate front trial and the cheapest local front trial
    that is at least as accurate on validation (the most accurate local one if none is).

    Choosing on validation keeps the test set for measuring only.
    """
    local = comparison.methods.get(LOCAL)
    if local is None or not local.front:
        return []
    best = max if comparison.maximize_quality else min
    result = []
    for r in comparison.baselines:
        front = comparison.methods[r].front
        if not front:
            continue
        base = best(front, key=lambda t: t.values[0])
        good = [t for t in local.front if comparison.better_quality(t.values[0], base.values[0])]
        if good:
            chosen = min(good, key=lambda t: (t.values[1], t.number))
        else:
            chosen = best(local.front, key=lambda t: t.values[0])
        result.append(Pair(r, base, chosen, bool(good)))
    return result


def quality_on_test(record: Mapping[str, float], quality_metric: str) -> float | None:
    """The test-split counterpart of ``quality_metric`` (``val_accuracy`` -> ``test_accuracy``)
    in an ``evaluate()`` record."""
    value = record.get("test_" + quality_metric.removeprefix("val_"))
    return float(value) if _is_number(value) else None


def summary_markdown(comparison: Comparison, measurements: Measurements | None) -> str:
    """Hypervolumes and, when ``measurements`` are given, local vs each baseline on test.

    Without ``measurements`` (the dashboard's note) the pairs are shown on validation.
    """
    q = comparison.quality_metric
    n_trials = sum(len(m.trials) for m in comparison.methods.values())
    lines = [
        f"# {comparison.name}: local regularization vs baselines",
        "",
        f"Objectives: `{q}` ({'maximised' if comparison.maximize_quality else 'minimised'}) and "
        f"`{NFE_METRIC}` (minimised), on the validation split; {n_trials} trials over "
        f"{len(comparison.methods)} regularizers. Each front is the study's `best_trials`.",
        "",
        f"## Hypervolume (reference point: {comparison.describe_reference()})",
        "",
        "| regularizer | complete trials | trials on front | hypervolume |",
        "|---|---:|---:|---:|",
    ]
    for r, m in comparison.methods.items():
        lines.append(f"| {r} | {len(m.complete)} | {len(m.front)} | {m.hypervolume:.4g} |")
    lines.append("")
    chosen = pairs(comparison)
    if not chosen:
        lines.append(
            f"No comparison against baselines: the experiment needs a `{LOCAL}` study "
            "and at least one baseline, each with complete trials."
        )
        return "\n".join(lines) + "\n"
    if measurements is None:
        lines += _validation_table(comparison, chosen)
    else:
        lines += _test_table(comparison, chosen, measurements)
    return "\n".join(lines) + "\n"


def _validation_table(comparison: Comparison, chosen: list[Pair]) -> list[str]:
    q = comparison.quality_metric
    lines = [
        "## Local vs each baseline (validation)",
        "",
        "For each baseline its most accurate front trial; against it the cheapest `local` front "
        "trial at least as accurate on validation. `study export` measures these on the held-out "
        "test set.",
        "",
        f"| baseline | baseline trial | local trial | {q} (baseline → local) | NFE ratio |",
        "|---|---:|---:|---|---:|",
    ]
    for p in chosen:
        (bq, bn), (lq, ln) = p.baseline_trial.values, p.local_trial.values
        lines.append(
            f"| {p.baseline} | {p.baseline_trial.number} | {_local(p)} | "
            f"{bq:.4g} → {lq:.4g} | {_ratio(ln, bn)} |"
        )
    return lines


def _test_table(
    comparison: Comparison, chosen: list[Pair], measurements: Measurements
) -> list[str]:
    base = comparison.quality_metric.removeprefix("val_")
    sign = "higher" if comparison.maximize_quality else "lower"
    lines = [
        "## Local vs each baseline, measured on the held-out test set",
        "",
        "For each baseline its most accurate front trial (on validation); against it the cheapest "
        "`local` front trial at least as accurate on validation (`*`: none was, so the most "
        "accurate one). Every front trial's checkpoint was re-evaluated on the test split in one "
        "process on one device, in rounds that take the trials in turn, and each value is the "
        "median over the rounds, so prediction timings compare. NFE ratio and "
        "training-time ratio are local / baseline (below 1: local is cheaper); prediction "
        "speed-up is baseline / local seconds per batch (above 1: local is faster); the quality "
        f"difference is local − baseline ({sign} {base} is better). Training time is the "
        f"workers' recorded `{TRAIN_SECONDS}`.",
        "",
        f"| baseline | baseline trial | local trial | test {base} (baseline → local) | "
        f"{base} difference | NFE ratio | prediction speed-up | training-time ratio |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for p in chosen:
        b = measurements.get((p.baseline, p.baseline_trial.number), "not re-evaluated")
        loc = measurements.get((LOCAL, p.local_trial.number), "not re-evaluated")
        train = _ratio(
            p.local_trial.user_attrs.get(TRAIN_SECONDS),
            p.baseline_trial.user_attrs.get(TRAIN_SECONDS),
        )
        head = f"| {p.baseline} | {p.baseline_trial.number} | {_local(p)} |"
        missing = next((m for m in (b, loc) if isinstance(m, str)), None)
        if missing is not None:
            lines.append(f"{head} not measured: {missing} | | | | {train} |")
            continue
        bq = quality_on_test(b, comparison.quality_metric)
        lq = quality_on_test(loc, comparison.quality_metric)
        quality = "n/a | n/a"
        if bq is not None and lq is not None:
            quality = f"{bq:.4g} → {lq:.4g} | {lq - bq:+.4g}"
        lines.append(
            f"{head} {quality} | {_ratio(loc.get(NFE_METRIC), b.get(NFE_METRIC))} | "
            f"{_ratio(b.get(SECONDS_PER_BATCH), loc.get(SECONDS_PER_BATCH), suffix='x')} | "
            f"{train} |"
        )
    return lines


def _local(p: Pair) -> str:
    return f"{p.local_trial.number}" + ("" if p.reaches_quality else "*")


def _ratio(num: object, den: object, suffix: str = "") -> str:
    if not (_is_number(num) and _is_number(den)) or den == 0:
        return "n/a"
    value = float(num) / float(den)
    return f"{value:.3g}{suffix}" if math.isfinite(value) else "n/a"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None
