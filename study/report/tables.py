"""The comparison as tables: CSV files of trials, runs and hypervolumes, and the summary -- built
once as ``Table``s and rendered as markdown (``-summary.md``, the dashboard's note) and as HTML
(the export's page).

Column names are the project's names for each concept: the training-config names for parameters
(``weight``, ``sampling``, ``rtol``...), the metric names the workers record (``val_accuracy``,
``test_accuracy``, ``predict_nfe``, ``train_seconds``...); statistics over seeds append
``_mean``/``_std``.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from study.report.comparison import NFE_METRICS, TRAIN_SECONDS, UNRECORDED, Comparison, Config
from study.report.stats import Analysis, one_step_limit
from study.report.timing import Timing, Timings, speed_up


@dataclass(frozen=True)
class Table:
    """A titled table with a note above it; cells are text."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    lines: list[str] = field(default_factory=list)  # free text after the table


def _fmt(value: object, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else "n/a"
    return str(value)


def _mean_std(config: Config, metric: str) -> str:
    mean, std = config.mean(metric), config.std(metric)
    return _fmt(mean) if not math.isfinite(std) else f"{_fmt(mean)} ± {_fmt(std, 2)}"


def _ratio(value: float, suffix: str = "") -> str:
    return f"{value:.3g}{suffix}" if math.isfinite(value) else "n/a"


# -- CSV ------------------------------------------------------------------------------------

def _config_columns(comparison: Comparison) -> list[str]:
    test = comparison.test_metric
    return ["replicates", "failed_replicates", f"{test}_mean", f"{test}_std",
            f"{comparison.quality_metric}_mean", *(f"{m}_mean" for m in NFE_METRICS),
            *(f"{m}_std" for m in NFE_METRICS), f"{TRAIN_SECONDS}_mean", "on_test_front"]


def _config_values(comparison: Comparison, config: Config, on_test_front: bool) -> list[object]:
    test = comparison.test_metric
    return [len(config.complete), config.failed, config.mean(test), config.std(test),
            config.mean(comparison.quality_metric), *(config.mean(m) for m in NFE_METRICS),
            *(config.std(m) for m in NFE_METRICS), config.mean(TRAIN_SECONDS), on_test_front]


def write_trials_csv(comparison: Comparison, path: Path) -> Path:
    """One row per search trial of every regularizer, with its parameters and metrics, whether
    it is on its validation front, and for front configurations the statistics of their runs."""
    params: dict[str, None] = {}
    attrs: dict[str, None] = {}
    for method in comparison.methods.values():
        for t in method.trials:
            params.update(dict.fromkeys(t.params))
            attrs.update(dict.fromkeys(k for k, v in t.user_attrs.items() if _is_scalar(v)))
    head = ["experiment", "regularizer", "trial", "state", "on_front",
            comparison.quality_metric, comparison.cost_metric]
    attr_columns = sorted(k for k in attrs if k not in params and k not in head)
    stats = _config_columns(comparison)
    columns = [*head, *params, *attr_columns, *stats, "datetime_start", "duration_seconds"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for r, method in comparison.methods.items():
            on_test = {c.trial.number for c in method.test_front}
            for t in method.trials:
                row: dict[str, object] = {
                    "experiment": comparison.name, "regularizer": r, "trial": t.number,
                    "state": t.state.name, "on_front": method.on_front(t), **t.params,
                    **{k: t.user_attrs[k] for k in attr_columns if k in t.user_attrs},
                    "datetime_start": t.datetime_start.isoformat() if t.datetime_start else "",
                    "duration_seconds": t.duration.total_seconds() if t.duration else "",
                }
                if t.values is not None:
                    row[comparison.quality_metric], row[comparison.cost_metric] = t.values
                config = method.config(t.number)
                if config is not None:
                    row.update(zip(stats, _config_values(comparison, config,
                                                         t.number in on_test)))
                writer.writerow(row)
    return path


def write_runs_csv(comparison: Comparison, path: Path) -> Path:
    """One row per run (seed) of every front configuration: the search trial and its
    replicates, with their state and metrics."""
    metrics = [comparison.quality_metric, comparison.test_metric, *NFE_METRICS, TRAIN_SECONDS]
    columns = ["regularizer", "trial", "seed", "run_study", "run_trial", "state", *metrics,
               "fail_reason"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r, method in comparison.methods.items():
            for config in method.configs:
                for run in config.runs:
                    writer.writerow([
                        r, config.trial.number, run.seed, _study_of(run.trial, method),
                        run.trial.number, run.trial.state.name,
                        *(run.metrics.get(m, "") for m in metrics),
                        run.trial.user_attrs.get("fail_reason", ""),
                    ])
    return path


def _study_of(trial, method) -> str:
    return "search" if any(t._trial_id == trial._trial_id for t in method.trials) else \
        "replicates"


def write_hypervolume_csv(comparison: Comparison, analysis: Analysis, path: Path) -> Path:
    """Each regularizer's hypervolumes against the reference point: validation (its search
    trials) and test (its configurations' means over seeds; normalised, with its interval)."""
    q_ref, cost_ref = comparison.reference
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["regularizer", "validation_hypervolume", "test_hypervolume",
                         "test_hypervolume_normalised", "normalised_low", "normalised_high",
                         "seeds", f"reference_{comparison.quality}",
                         f"reference_{comparison.cost_metric}"])
        for r, method in comparison.methods.items():
            hv = analysis.hypervolumes[r]
            writer.writerow([r, method.hypervolume, method.test_hypervolume, hv.estimate,
                             hv.low, hv.high, hv.seeds, q_ref, cost_ref])
    return path


def write_history_csv(comparison: Comparison, path: Path) -> Path:
    """Validation hypervolume after each complete search trial of each regularizer."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["regularizer", "trial", "validation_hypervolume"])
        for r, method in comparison.methods.items():
            for number, hv in method.history:
                writer.writerow([r, number, hv])
    return path


# -- the summary ----------------------------------------------------------------------------

def summary_tables(comparison: Comparison, analysis: Analysis,
                   timings: Timings | None = None) -> list[Table]:
    """The summary, as tables (see the module docstring)."""
    tables = [_counts(comparison, analysis), _hypervolumes(comparison, analysis)]
    if analysis.versus:
        tables.append(_verdicts(comparison, analysis))
    tables.append(_configurations(comparison, analysis))
    if timings is not None and analysis.versus:
        tables.append(_timing(comparison, analysis, timings))
    return tables


def compute_text(spent: dict[str, float]) -> str:
    """Training time by device: CPU-hours, GPU-hours with the GPU named, hours alone for
    trials recorded before the device was (nothing is guessed)."""
    parts = []
    for device, seconds in sorted(spent.items()):
        hours = f"{seconds / 3600:.3g}"
        if device == "cpu":
            parts.append(f"{hours} CPU-h")
        elif device == UNRECORDED:
            parts.append(f"{hours} h (device not recorded)")
        else:
            parts.append(f"{hours} GPU-h on {device}")
    return ", ".join(parts) or "n/a"


def _counts(comparison: Comparison, analysis: Analysis) -> Table:
    rows = []
    for r, m in comparison.methods.items():
        runs = [run for c in m.configs for run in c.runs]
        done = sum(run.complete for run in runs)
        failed = sum(run.trial.state.name == "FAIL" for run in runs)
        wanted = len(m.configs) * comparison.replicates
        spent = m.compute()
        hours = sum(spent.values()) / 3600
        per_hour = analysis.hypervolumes[r].estimate / hours if hours else float("nan")
        rows.append([r, f"{len(m.complete)}/{m.study.user_attrs.get('budget', '?')}",
                     str(m.pruned), str(sum(t.state.name == "FAIL" for t in m.trials)),
                     str(len(m.configs)),
                     f"{done}/{wanted}" + (f" ({failed} failed)" if failed else ""),
                     compute_text(spent), _fmt(per_hour)])
    seeds = comparison.replicates
    return Table(
        "Trials, replicates and compute",
        ["regularizer", "search trials complete", "pruned", "failed", "front configurations",
         "runs over seeds (complete/wanted)", "training time", "test hypervolume per hour"],
        rows,
        note=f"Each configuration on a regularizer's validation front is trained with {seeds} "
        f"seed(s) (the search's and {seeds - 1} more, the same for every regularizer). Training "
        "time: every search trial (pruned ones' partial time included) and every replicate; "
        "hypervolume per hour: the normalised test hypervolume per hour of it.")


def _hypervolumes(comparison: Comparison, analysis: Analysis) -> Table:
    rows = [[r, _fmt(m.hypervolume), _fmt(m.test_hypervolume),
             analysis.hypervolumes[r].text(), str(len(m.test_front))]
            for r, m in comparison.methods.items()]
    note = (f"Reference point: {comparison.describe_reference()} "
            f"({comparison.reference_source}). Validation: the search trials (one seed each); "
            "test: the front configurations' means over seeds. Normalised: the fraction of the "
            "box between the ideal point and the reference, with its 90 % bootstrap interval "
            "over seeds.")
    return Table("Hypervolume", ["regularizer", "validation hypervolume", "test hypervolume",
                                 "normalised test hypervolume [90 %]",
                                 "test front configurations"], rows, note=note)


def _config_text(comparison: Comparison, config: Config | None) -> str:
    if config is None:
        return "none"
    return (f"trial {config.trial.number}: {_mean_std(config, comparison.test_metric)} at "
            f"{_fmt(config.mean(comparison.cost_metric))} NFE")


def _verdicts(comparison: Comparison, analysis: Analysis) -> Table:
    rows = []
    for v in analysis.versus:
        if v.quality is None:
            quality, verdict = "n/a", ("local has no configuration this cheap"
                                       if v.baseline_config is not None else "no configuration")
        else:
            quality, verdict = v.quality.text(), v.quality.verdict
        rows.append([v.baseline, v.hypervolume.text(), v.hypervolume.verdict,
                     _config_text(comparison, v.baseline_config),
                     _config_text(comparison, v.local_config), quality, verdict,
                     _ratio(v.cost_ratio), _ratio(v.train_ratio)])
    better = "higher" if comparison.maximize_quality else "lower"
    note = (f"Held-out test set, means over seeds, 90 % intervals from a paired bootstrap over "
            f"{len(analysis.seeds)} seed(s). Hypervolume: local minus the baseline, normalised. "
            f"At matched cost: the baseline's most accurate configuration (on validation) against "
            f"local's most accurate one (on validation) at most as costly; the quality difference "
            f"is signed so that above 0 means local is better ({better} {comparison.quality} is "
            f"better). Cost and training-time ratios: local / baseline ({comparison.cost_metric},"
            f" the workers' {TRAIN_SECONDS}).")
    return Table("Local vs each baseline", [
        "baseline", "hypervolume: local − baseline [90 %]", "verdict (hypervolume)",
        "baseline configuration", "local configuration at matched cost",
        f"test {comparison.quality}: local vs baseline [90 %]", "verdict (quality at matched cost)",
        "cost ratio", "training-time ratio"], rows, note=note)


def _configurations(comparison: Comparison, analysis: Analysis) -> Table:
    params = list(dict.fromkeys(p for m in comparison.methods.values() for c in m.configs
                                for p in c.trial.params))
    rows = []
    for r, m in comparison.methods.items():
        on_test = {c.trial.number for c in m.test_front}
        for c in m.configs:
            rows.append([r, str(c.trial.number), *(_fmt(c.trial.params.get(p, "-"))
                                                   for p in params),
                         f"{len(c.complete)}" + (f" ({c.failed} failed)" if c.failed else ""),
                         _mean_std(c, comparison.test_metric),
                         *(_mean_std(c, metric) for metric in NFE_METRICS),
                         _fmt(c.mean(TRAIN_SECONDS)), "yes" if c.trial.number in on_test else "no"])
    lines = [f"- {r}: trial(s) {', '.join(map(str, moved))} fell off the front when replicated "
             "(on the validation front, dominated by the means over seeds)"
             for r, moved in analysis.moved.items() if moved]
    if one_step_limit(comparison):
        lines.append("- Every regularizer's test front sits on the one-step limit (one solver "
                     "step per prediction with warm-started steps): the fronts measure the "
                     "solver's start-up, not the learned dynamics. Compare at a tighter "
                     "tolerance.")
    return Table("Front configurations", [
        "regularizer", "trial", *params, "seeds", f"test {comparison.quality}",
        *NFE_METRICS, f"{TRAIN_SECONDS} (mean)", "on test front"], rows,
        note="Mean ± standard deviation over seeds.", lines=lines)


def _timing_text(timing: Timing | str) -> str:
    if isinstance(timing, str):
        return f"not measured: {timing}"
    q1, q3 = timing.quartiles
    return (f"{timing.median * 1e3:.3g} ms [{q1 * 1e3:.3g}, {q3 * 1e3:.3g}], "
            f"{timing.per_nfe * 1e6:.3g} µs/NFE")


def _timing(comparison: Comparison, analysis: Analysis, timings: Timings) -> Table:
    rows = []
    for v in analysis.versus:
        base, local = timings.get(v.baseline_config), timings.get(v.local_config)
        if isinstance(base, str) or isinstance(local, str):
            rows.append([v.baseline, _timing_text(base), _timing_text(local), "n/a", "n/a",
                         "n/a", ""])
            continue
        s = speed_up(base, local)
        flag = ("disagrees with the NFE ratio beyond its noise (load average "
                f"{timings.load[0]:.1f} -> {timings.load[1]:.1f})" if s.disagrees else "")
        rows.append([v.baseline, _timing_text(base), _timing_text(local),
                     f"{s.estimate:.3g}x [{s.low:.3g}, {s.high:.3g}]", s.verdict,
                     f"{s.nfe_ratio:.3g}x", flag])
    kind = "warm-started" if timings.warm else "the solver's own first step"
    note = (f"Prediction of the configurations above on the test split ({kind}), re-measured in "
            f"one process on {timings.device}: {timings.rounds} interleaved rounds after a "
            f"warm-up; median seconds per batch and interquartile range, seconds per NFE. "
            f"Speed-up: baseline / local, interval from the quartiles. NFE stays the primary "
            f"cost; load average {timings.load[0]:.1f} before, {timings.load[1]:.1f} after.")
    return Table("Prediction timing", ["baseline", "baseline s/batch", "local s/batch",
                                       "speed-up [interval]", "verdict", "NFE ratio", "flag"],
                 rows, note=note)


def intro(comparison: Comparison) -> str:
    n = sum(len(m.trials) for m in comparison.methods.values())
    direction = "maximised" if comparison.maximize_quality else "minimised"
    return (f"Objectives: `{comparison.quality_metric}` ({direction}) and "
            f"`{comparison.cost_metric}` (minimised); {n} search trials over "
            f"{len(comparison.methods)} regularizers. Fronts are chosen on validation; "
            "test-set figures are means over seeds.")


def markdown(comparison: Comparison, tables: Iterable[Table]) -> str:
    lines = [f"# {comparison.name}: local regularization vs baselines", "", intro(comparison), ""]
    for table in tables:
        lines += [f"## {table.title}", ""]
        if table.note:
            lines += [table.note, ""]
        lines.append("| " + " | ".join(table.headers) + " |")
        lines.append("|" + "---|" * len(table.headers))
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
        lines.append("")
        if table.lines:
            lines += [*table.lines, ""]
    return "\n".join(lines)


def html_tables(tables: Sequence[Table]) -> str:
    parts = []
    for table in tables:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in table.rows)
        extra = "".join(f"<li>{html.escape(line.removeprefix('- '))}</li>"
                        for line in table.lines)
        parts.append(
            f'<section class="table"><h2>{html.escape(table.title)}</h2>'
            + (f"<p>{html.escape(table.note)}</p>" if table.note else "")
            + f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            + (f"<ul>{extra}</ul>" if extra else "") + "</section>")
    return "\n".join(parts)


def _is_scalar(value: object) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None

