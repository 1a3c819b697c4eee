"""Where experiments stand, as text: one experiment's trial counts per regularizer, failures and
fronts (``experiment_status``), every experiment's counts in one table (``storage_status``), and
what a launch leaves behind with the commands to run next (``launch_summary``).

``study status``, ``study launch`` and ``study demo`` print them; they read the storage only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from optuna.storages import BaseStorage

from study.report.comparison import compare
from study.report.errors import ReportError
from study.report.tables import compute_text
from study.search import replicates
from study.search import studies as _studies
from study.search.storage import (
    REPLICATES,
    Backend,
    experiment_studies,
    list_experiments,
    redact,
    resolve_url,
)


def experiment_status(storage: BaseStorage, name: str, label: str) -> str:
    """The status of experiment ``name`` in ``storage`` (``label``: the redacted URL)."""
    by_reg = experiment_studies(storage, name)
    copies = experiment_studies(storage, name, role=REPLICATES)
    first = next(iter(by_reg.values()))
    experiment = _studies.stored_experiment(first)
    metric = first.user_attrs["quality_metric"]
    objective = experiment.objective
    maximize = first.directions[0].name == "MAXIMIZE"
    lines = [f"experiment {name} in {label}: {experiment.summary()}", ""]
    spent = _compute(name, by_reg, copies)
    rows = []
    fronts = {}
    reasons: Counter[str] = Counter()
    for regularizer, study in by_reg.items():
        trials = study.get_trials(deepcopy=False)
        c = _studies.counts(study, trials)
        front = _studies.pareto_front(study)
        fronts[regularizer] = front
        qualities = [t.values[0] for t in front]
        best = (max if maximize else min)(qualities) if qualities else "-"
        cheapest = min(t.values[1] for t in front) if front else "-"
        hours, per_hour = spent.get(regularizer, ("-", "-"))
        rows.append([regularizer, f"{c.complete}/{c.budget}", c.running, c.waiting, c.pruned,
                     c.failed, _replicates(experiment, study, copies.get(regularizer)), best,
                     cheapest, hours, per_hour])
        reasons.update(t.user_attrs.get("fail_reason", "no reason recorded")
                       for t in trials if t.state.name == "FAIL")
    lines += table(["regularizer", "complete", "running", "waiting", "pruned", "failed",
                    "replicates", f"best {metric}", f"fewest {objective}", "training time",
                    "hypervolume/h"], rows)
    if reasons:
        lines += ["", "Failed trials:"]
        lines += [f"  {n} x {reason}" for reason, n in reasons.most_common(5)]
    params = list(dict.fromkeys(p for front in fronts.values() for t in front for p in t.params))
    rows = [[regularizer, t.number, t.values[0], t.values[1],
             *(t.params.get(p, "-") for p in params)]
            for regularizer, front in fronts.items() for t in front]
    if rows:
        lines += ["", f"Best trade-offs (Pareto front of each regularizer, {metric} vs "
                  f"{objective}):"]
        lines += table(["regularizer", "trial", metric, objective, *params], rows)
    return "\n".join(lines)


def storage_status(storage: BaseStorage, label: str) -> str:
    """Every experiment in ``storage`` (``label``: the redacted URL), one row per regularizer:
    COMPLETE search trials against the budget, RUNNING and FAIL trials, and replicate runs."""
    rows = []
    for name in list_experiments(storage):
        by_reg = experiment_studies(storage, name)
        copies = experiment_studies(storage, name, role=REPLICATES)
        experiment = _studies.stored_experiment(next(iter(by_reg.values())))
        for regularizer, study in by_reg.items():
            c = _studies.counts(study)
            rows.append([name, regularizer, f"{c.complete}/{c.budget}", c.running, c.failed,
                         _replicates(experiment, study, copies.get(regularizer))])
    if not rows:
        return f"experiments in {label}: none"
    return "\n".join([f"experiments in {label}:", "", *table(
        ["experiment", "regularizer", "complete", "running", "failed", "replicates"], rows)])


def launch_summary(store: Backend, name: str, *, program: str = "study") -> str:
    """What a launch of experiment ``name`` leaves behind: per regularizer, its search trials
    complete against the budget, failed and pruned, and its replicate runs; then the ``study
    export`` and ``study dashboard`` commands to run next (``program``: how to call ``study``)."""
    storage = store.open()
    copies = experiment_studies(storage, name, role=REPLICATES)
    rows = []
    for regularizer, study in experiment_studies(storage, name).items():
        c = _studies.counts(study)
        experiment = _studies.stored_experiment(study)
        rows.append([regularizer, f"{c.complete}/{c.budget}", c.failed, c.pruned,
                     _replicates(experiment, study, copies.get(regularizer))])
    out = store.runs_dir() / f"{name}-export"
    lines = [f"experiment {name}:", *table(["regularizer", "complete", "failed", "pruned",
                                            "replicates"], rows), "", "Next:",
             f"  {program} export --name {name} --out {out}{storage_flag(store.url)}"
             "   # fronts, verdicts, figures",
             f"  {program} dashboard{storage_flag(store.url)}   # browse trials and curves"]
    if redact(store.url) != store.url:
        lines.append("  (the storage's password is shown as ***: put it back, or set "
                     "STUDY_STORAGE)")
    return "\n".join(lines)


def storage_flag(url: str) -> str:
    """`` --storage URL`` (password redacted) for a command to reach the storage at ``url``;
    nothing where ``--storage`` left out reaches it (``$STUDY_STORAGE`` or the default)."""
    return "" if resolve_url(None) == url else f" --storage '{redact(url)}'"


def _compute(name: str, searches: dict, copies: dict) -> dict[str, tuple[str, str]]:
    """Per regularizer: training time by device, and the normalised validation hypervolume
    per training hour (against the export's reference point); nothing when there is no
    complete trial yet."""
    try:
        comparison = compare(name, searches, copies)
    except ReportError:
        return {}
    box = comparison.box()
    result = {}
    for regularizer, method in comparison.methods.items():
        spent = method.compute()
        hours = sum(spent.values()) / 3600
        per_hour = method.hypervolume / box / hours if hours and box else float("nan")
        result[regularizer] = (compute_text(spent), per_hour)
    return result


def _replicates(experiment, search, copies) -> str:
    """``complete/total`` replicate runs; ``-`` without replicates, ``after search`` before."""
    if copies is None:
        return "-"
    if not replicates.search_finished(search):
        return "after search"
    done = replicates.progress(experiment, search, copies)
    failed = f" ({done.failed} failed)" if done.failed else ""
    return f"{done.complete}/{done.total}{failed}"


def _cell(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """Rows as aligned text columns (floats to 4 significant digits)."""
    cells = [list(map(str, headers))] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
