"""Neural SDEs: local regularization against vanilla and global error, side by side.

For each task and seed (seeds outermost, so machine noise spreads over all methods alike) every
case is trained by ``study.train.train`` with the task's defaults (solver, budget, weights) and
saved. Prediction is then measured in ``--timing-rounds`` interleaved rounds over all saved
models of the task (``study.train.evaluate`` on the test split: a one-batch warm-up, then a pass
in eval mode, with the solver's own initial step and with warm-started steps): a run's prediction
NFE is the mean over rounds, its seconds per batch the median. Reported per case: held-out test
quality (at the end of training), prediction NFE (own and warm initial step), prediction seconds
per batch, training seconds, as mean +/- std over seeds and as ratio of means to vanilla.

    .venv/bin/python benchmarks/compare_sde.py                    # both tasks, 3 seeds
    .venv/bin/python benchmarks/compare_sde.py --tasks spiral-sde --seeds 2 --weight local=2

Writes ``benchmarks/results/compare_sde.md`` and ``compare_sde.json`` (every run's record).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from _seeds import label, summarize

from study import tasks
from study.train import evaluate, train

TASKS = ("spiral-sde", "digits-sde")
CASES = [
    ("none", {}),
    ("local", {"sampling": "unbiased"}),
    ("local", {"sampling": "biased"}),
    ("global-error", {}),
]
COLUMNS = [
    # (metric key, header)
    ("predict_nfe", "predict NFE"),
    ("predict_nfe_warm", "predict NFE (warm)"),
    ("predict_seconds", "predict s/batch"),
    ("train_seconds", "train s"),
]








def markdown(task: str, solver: dict, table: dict, quality: str) -> str:
    head = ["method", quality.replace("_", " ")] + [h for _, h in COLUMNS]
    lines = [f"### {task} ({solver['method']}, rtol = atol = {solver['rtol']:g})", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, row in table.items():
        mean, std = row[quality]
        cells = [case, f"{mean:.4g} ± {std:.2g}"]
        for key, _ in COLUMNS:
            mean, std = row[key]
            cells.append(f"{mean:.4g} ± {std:.2g} ({row['ratio'][key]:.2f}x)")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"mean ± std over {table['none']['seeds']} seeds; (ratio of means to vanilla)"]
    return "\n".join(lines)


def parse_weights(values: list[str]) -> dict[str, float]:
    weights = {}
    for value in values:
        name, _, number = value.partition("=")
        weights[name] = float(number)
    return weights


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cases", default=None,
                        help="comma-separated subset of: none, unbiased, biased, global-error")
    parser.add_argument("--epochs", type=int, default=None, help="override the task default")
    parser.add_argument("--weight", action="append", default=[], metavar="REGULARIZER=W",
                        help="override a task default weight, e.g. local=2 (constant unless "
                        "--weight-final is given too)")
    parser.add_argument("--weight-final", action="append", default=[],
                        metavar="REGULARIZER=W", help="decay the weight to this over training")
    parser.add_argument("--timing-rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/compare_sde"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    chosen = set(args.cases.split(",")) if args.cases else None
    cases = [(n, o) for n, o in CASES
             if chosen is None or n in chosen or o.get("sampling") in chosen]
    weights = parse_weights(args.weight)
    finals = parse_weights(args.weight_final)
    started = time.time()
    results = {"args": {k: str(v) for k, v in vars(args).items()}, "tables": [], "runs": []}
    sections = []
    with tempfile.TemporaryDirectory() as scratch:
        for task in args.tasks.split(","):
            quality = tasks.quality(task)[0].replace("val_", "test_")
            runs = []
            for seed in range(args.seeds):
                for name, options in cases:
                    config = {"task": task, "regularizer": name, **options, "seed": seed,
                              "device": "cpu"}
                    if name in weights:
                        config["weight"] = weights[name]
                    if name in finals:
                        config["weight_final"] = finals[name]
                    if args.epochs:
                        config["epochs"] = args.epochs
                    checkpoint = Path(scratch) / f"{task}-{seed}-{len(runs)}.pt"
                    metrics = train(config, checkpoint=checkpoint)
                    metrics = {k: v for k, v in metrics.items() if k != "curves"}
                    runs.append({"case": label(name, options), "seed": seed, "config": config,
                                 "checkpoint": str(checkpoint), "metrics": metrics})
                    print(f"[{time.time() - started:5.0f}s] {task} seed={seed} "
                          f"{label(name, options)}: {quality}={metrics[quality]:.4g} "
                          f"nfe={metrics['predict_nfe']:.1f} "
                          f"train={metrics['train_seconds']:.1f}s", file=sys.stderr, flush=True)
            rounds = [[evaluate(run["config"], run["checkpoint"], split="test") for run in runs]
                      for _ in range(args.timing_rounds)]
            for run, measured in zip(runs, zip(*rounds)):
                run["metrics"].update(
                    predict_nfe=statistics.fmean(m["predict_nfe"] for m in measured),
                    predict_nfe_warm=statistics.fmean(m["predict_nfe_warm"] for m in measured),
                    predict_seconds=statistics.median(m["predict_seconds_per_batch"]
                                                      for m in measured),
                    timing_rounds=list(measured),
                )
                del run["checkpoint"]
            table = summarize(runs, [quality] + [key for key, _ in COLUMNS])
            solver = tasks.solver_defaults(task)
            sections.append(markdown(task, solver, table, quality))
            results["tables"].append({"task": task, "solver": solver, "quality": quality,
                                      "table": table})
            results["runs"].extend(runs)
    elapsed = time.time() - started
    text = "\n\n".join(sections) + f"\n\nTotal wall time {elapsed:.0f} s (torch threads: 1).\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
