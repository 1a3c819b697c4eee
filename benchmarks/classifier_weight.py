"""A safe default local weight for classification tasks the project has not measured.

    .venv/bin/python benchmarks/classifier_weight.py [--seeds 3] [--weights 0.03,0.1,0.3,1,3]

The standard neural ODE classifier (``study.tasks.ClassificationTask`` with its defaults: width
32, hidden 64, 30 epochs, batch 128, lr 3e-3, dopri5 at rtol = atol = 1e-6) on five tasks of
different kinds, as a user would bring them: ``digits`` (64 pixels, 10 classes), scikit-learn's
bundled breast-cancer table (30 features, 2 classes), and three generated ones -- ``moons``
(2-D, noisy), ``shells`` (3-D, two classes: inside the unit sphere or in a shell around it,
noisy radius) and ``clusters`` (3-D ``make_classification``, 2 clusters per class, 3 classes).
Per task and seed: vanilla, then local at each weight (constant over training), in one process;
test accuracy, both prediction NFEs, training time. A weight is *safe* on a task when local's
mean test accuracy over the seeds is within one point of vanilla's. The shipped default for the
generic classifier is the largest weight safe on every task. Results:
``benchmarks/results/classifier_weight.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from study.tasks import ClassificationTask, split_indices
from study.train import train

RESULTS = Path(__file__).parent / "results"
TASKS = ("digits", "classifier_weight:breast_cancer", "classifier_weight:moons",
         "classifier_weight:shells", "classifier_weight:clusters")
SAFE_POINTS = 1.0


def _task(name: str, x: np.ndarray, y: np.ndarray, seed: int) -> ClassificationTask:
    # A fixed 20 % test split for every seed; the seed splits the rest 80/20 into train / val.
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    idx = split_indices(len(y), seed=seed, val_fraction=0.2, test_fraction=0.2)
    pairs = {s: (x[torch.as_tensor(i)], y[torch.as_tensor(i)]) for s, i in idx.items()}
    return ClassificationTask(name=name, **pairs)


def breast_cancer(seed: int) -> ClassificationTask:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return _task("breast-cancer", data.data, data.target, seed)


def moons(seed: int) -> ClassificationTask:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=2000, noise=0.25, random_state=0)
    return _task("moons", x, y, seed)


def shells(seed: int) -> ClassificationTask:
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = np.where(y == 0, rng.uniform(0.0, 1.0, n) ** (1 / 3), rng.uniform(1.0, 1.6, n))
    radius = radius + rng.normal(scale=0.1, size=n)
    return _task("shells", direction * radius[:, None], y, seed)


def clusters(seed: int) -> ClassificationTask:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=2000, n_features=3, n_informative=3, n_redundant=0,
                               n_classes=3, n_clusters_per_class=2, class_sep=1.5,
                               random_state=0)
    return _task("clusters", x, y, seed)


def _short(task: str) -> str:
    return task.split(":")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--weights", default="0.03,0.1,0.3,1,3")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--epochs", type=int, default=None, help="override the task default")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    tasks = args.tasks.split(",")
    torch.set_num_threads(1)
    started, load = time.time(), [os.getloadavg()[0]]
    runs = []
    for task in tasks:
        for seed in range(args.seeds):
            for weight in [None, *weights]:
                config = {"task": task, "seed": seed, "device": "cpu",
                          "regularizer": "none" if weight is None else "local"}
                if args.epochs is not None:
                    config["epochs"] = args.epochs
                if weight is not None:
                    config["weight"] = weight
                record = train(config)
                record.pop("curves", None)
                runs.append({"task": _short(task), "seed": seed, "weight": weight,
                             "metrics": record})
                print(f"{_short(task)} seed {seed} weight {weight}: "
                      f"acc {record['test_accuracy']:.4f} nfe {record['predict_nfe']:.0f} "
                      f"warm {record['predict_nfe_warm']:.0f} {record['train_seconds']:.1f}s",
                      flush=True)
    load.append(os.getloadavg()[0])
    seconds = time.time() - started
    summary = summarize(runs, [_short(t) for t in tasks], weights)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "classifier_weight.json").write_text(json.dumps(
        {"args": vars(args), "load": load, "seconds": seconds, "summary": summary,
         "runs": runs}, indent=1))
    (RESULTS / "classifier_weight.md").write_text(report(summary, args, load, seconds))
    print(f"wrote {RESULTS / 'classifier_weight.md'}")


def summarize(runs: list[dict], tasks: list[str], weights: list[float]) -> dict:
    """Per task and weight: mean test accuracy, its change from vanilla in points (mean of the
    per-seed differences, with the smallest and largest), NFE ratios of means; the safe weights."""
    def pick(task, weight, key):
        return [r["metrics"][key] for r in runs if r["task"] == task and r["weight"] == weight]

    table = {}
    for task in tasks:
        base_acc = pick(task, None, "test_accuracy")
        rows = {"none": {"accuracy": statistics.fmean(base_acc),
                         "predict_nfe": statistics.fmean(pick(task, None, "predict_nfe")),
                         "predict_nfe_warm": statistics.fmean(pick(task, None, "predict_nfe_warm")),
                         "train_seconds": statistics.fmean(pick(task, None, "train_seconds"))}}
        for weight in weights:
            acc = pick(task, weight, "test_accuracy")
            diffs = [100 * (a - b) for a, b in zip(acc, base_acc)]
            row = {"accuracy": statistics.fmean(acc), "points": statistics.fmean(diffs),
                   "points_min": min(diffs), "points_max": max(diffs)}
            for key in ("predict_nfe", "predict_nfe_warm", "train_seconds"):
                row[key] = statistics.fmean(pick(task, weight, key))
                row[key + "_ratio"] = row[key] / rows["none"][key]
            row["safe"] = row["points"] >= -SAFE_POINTS
            rows[str(weight)] = row
        table[task] = rows
    safe = [w for w in weights if all(table[t][str(w)]["safe"] for t in tasks)]
    return {"tasks": table, "safe_everywhere": safe, "default": max(safe) if safe else None}


def report(summary: dict, args, load: list[float], seconds: float) -> str:
    lines = ["# A safe default local weight for the generic classifier", "",
             f"Command: `.venv/bin/python benchmarks/classifier_weight.py --seeds {args.seeds} "
             f"--weights {args.weights}` ({seconds / 60:.0f} minutes, one torch thread, load "
             f"average {load[0]:.1f} -> {load[1]:.1f}).", "",
             "The standard classifier with its defaults (width 32, hidden 64, 30 epochs, batch "
             "128, lr 3e-3, dopri5 at 1e-6); local at a constant weight against vanilla, "
             f"{args.seeds} seeds per task. Accuracy change: mean over seeds of the per-seed "
             "difference from vanilla, in points [smallest, largest]; NFE and training time: "
             "ratio of means to vanilla. Safe: mean change no worse than -1 point.", "",
             "| task | weight | test accuracy | change (points) | predict NFE | predict NFE "
             "(warm) | train s | safe |", "|---|---|---|---|---|---|---|---|"]
    for task, rows in summary["tasks"].items():
        base = rows["none"]
        lines.append(f"| {task} | vanilla | {base['accuracy']:.4f} | | {base['predict_nfe']:.1f} "
                     f"| {base['predict_nfe_warm']:.1f} | {base['train_seconds']:.1f} | |")
        for weight, row in rows.items():
            if weight == "none":
                continue
            lines.append(
                f"| | {weight} | {row['accuracy']:.4f} | {row['points']:+.2f} "
                f"[{row['points_min']:+.2f}, {row['points_max']:+.2f}] | "
                f"{row['predict_nfe']:.1f} ({row['predict_nfe_ratio']:.2f}x) | "
                f"{row['predict_nfe_warm']:.1f} ({row['predict_nfe_warm_ratio']:.2f}x) | "
                f"{row['train_seconds']:.1f} ({row['train_seconds_ratio']:.2f}x) | "
                f"{'yes' if row['safe'] else '**no**'} |")
    safe = summary["safe_everywhere"]
    lines += ["", f"Safe on every task: {', '.join(map(str, safe)) or 'none of the weights'}; "
              f"the largest, {summary['default']}, is the generic classifier's default local "
              "weight (`study/tasks/classification.py`)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
