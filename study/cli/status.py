"""``study status``: per-regularizer trial counts and the current best trade-offs."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

from study.cli import _search


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show an experiment's trial counts and best quality/NFE trade-offs",
        description="Per regularizer: COMPLETE trials against the budget, RUNNING, WAITING "
        "(queued reruns) and FAIL trials with their reasons, then each Pareto front (quality "
        "vs predict_nfe). Without --name, list the experiments in the storage.",
    )
    _search.add_name(parser, required=False)
    _search.add_storage(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from study.search.storage import list_experiments, open_storage, redact

    url = _search.resolved_url(args)
    with _search.user_errors(url):
        storage = open_storage(url)
        if args.name is None:
            names = list_experiments(storage)
            print(f"experiments in {redact(url)}: {', '.join(names) if names else 'none'}")
            return 0
        print(report(storage, args.name, url))
    return 0


def report(storage, name: str, url: str) -> str:
    """The status of experiment ``name`` as text (also printed by ``study demo``)."""
    from study.search import studies as _studies
    from study.search.storage import experiment_studies, redact

    by_reg = experiment_studies(storage, name)
    first = next(iter(by_reg.values()))
    experiment = _studies.stored_experiment(first)
    metric = first.user_attrs["quality_metric"]
    lines = [f"experiment {name} in {redact(url)}: {experiment.summary()}", ""]
    rows = []
    fronts = {}
    reasons: Counter[str] = Counter()
    for regularizer, study in by_reg.items():
        trials = study.get_trials(deepcopy=False)
        c = _studies.counts(study, trials)
        front = _studies.pareto_front(study)
        fronts[regularizer] = front
        best = sorted(t.values[0] for t in front)
        rows.append([regularizer, f"{c.complete}/{c.budget}", c.running, c.waiting, c.failed,
                     _number(best[-1] if first.directions[0].name == "MAXIMIZE" else best[0])
                     if best else "-",
                     _number(min(t.values[1] for t in front)) if front else "-"])
        reasons.update(t.user_attrs.get("fail_reason", "no reason recorded")
                       for t in trials if t.state.name == "FAIL")
    lines += _table(["regularizer", "complete", "running", "waiting", "failed",
                     f"best {metric}", "fewest predict_nfe"], rows)
    if reasons:
        lines += ["", "Failed trials:"]
        lines += [f"  {n} x {reason}" for reason, n in reasons.most_common(5)]
    params = list(dict.fromkeys(p for front in fronts.values() for t in front for p in t.params))
    rows = [[regularizer, t.number, _number(t.values[0]), _number(t.values[1]),
             *(_number(t.params[p]) if p in t.params else "-" for p in params)]
            for regularizer, front in fronts.items() for t in front]
    if rows:
        lines += ["", f"Best trade-offs (Pareto front of each regularizer, {metric} vs "
                  "predict_nfe):"]
        lines += _table(["regularizer", "trial", metric, "predict_nfe", *params], rows)
    return "\n".join(lines)


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    cells = [list(map(str, headers))] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
