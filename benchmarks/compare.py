"""The published comparison, reproduced: every regularizer against vanilla, side by side.

For each task, tolerance and seed, every regularizer is trained by ``study.train.train`` in turn
(seeds outermost, so machine noise spreads over all methods alike; the order of the methods
rotates from seed to seed, and an untimed warm-up run comes first, so that no method always pays
for a cold process). Then the seed's trained models
are re-evaluated on the held-out test split by ``study.train.evaluate`` in interleaved rounds
(every model once per round), and each model's prediction time is the median over rounds, so all
methods' prediction times come from the same minutes of the same process. Test quality, training
time, prediction time per batch and prediction NFE are reported as mean +/- std over seeds and as
ratios to vanilla (ratio of means). Prediction is measured both with the solver's own initial step
and with warm-started steps (``first_step="warm"``), for every regularizer.

    .venv/bin/python benchmarks/compare.py                       # digits and spiral, 3 seeds
    .venv/bin/python benchmarks/compare.py --tasks digits --seeds 2 --tolerances 1e-6
    .venv/bin/python benchmarks/compare.py --tasks vowels --adjoint true   # the adjoint regime
    .venv/bin/python benchmarks/compare.py --tasks vowels --protocol paper

``--adjoint true|seminorm`` trains every method by the continuous adjoint and leaves out those
that cannot (global-error and global-stiffness differentiate through the solver's steps), so
local, vanilla, TayNODE and RNODE are compared at the adjoint's memory (``train_saved_bytes``:
the tensors autograd saved for the backward pass, largest over training batches).

Protocols: ``project`` (the default) trains with the task's own settings (solver tolerances from
``--tolerances``, the task's weights and schedules). ``paper`` is the published code's protocol
(LocalRegNeuralDE.jl's latent ODE): ``dopri5`` at ``rtol = atol = 1.4e-8`` (the paper's Tsit5 is
not in torchdiffeq; dopri5 is the same order), every penalised method's weight decaying
exponentially by 10x over training from the task's default weight, local sampling unbiased (the
biased variant stays in as a baseline). The paper also anneals a KL term: the project's latent-ODE
tasks (``spiral``, ``vowels``) are not variational (a deterministic encoder, a squared-error loss),
so there is none to anneal.

Writes ``benchmarks/results/compare.md`` and ``compare.json`` (every run's metrics record).
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

from study import regularizers, tasks
from study.nde.hooks import SolveSpec
from study.train import TrainConfig, evaluate, train
from study.train.loop import resolve_budget

CASES = [
    ("none", {}),
    ("local", {"sampling": "unbiased"}),
    ("local", {"sampling": "biased"}),
    ("global-error", {}),
    ("global-stiffness", {}),
    ("taynode", {"order": 2}),
    ("rnode", {}),
    ("steer", {}),
]

COLUMNS = [
    # (metric key, header, lower is better)
    ("train_seconds", "train s", True),
    ("train_saved_bytes", "train saved MB", True),
    ("predict_seconds_per_batch", "predict s/batch", True),
    ("predict_nfe", "predict NFE", True),
    ("predict_seconds_per_batch_warm", "predict s/batch (warm)", True),
    ("predict_nfe_warm", "predict NFE (warm)", True),
]


TIMED = ("predict_seconds_per_batch", "predict_seconds_per_batch_warm")
SCALE = {"train_saved_bytes": 1e-6}  # shown in MB

#: The published code's protocol (see the module docstring): tolerance, weight decay factor.
PAPER = {"tolerance": 1.4e-8, "decay": 10.0}


def supports(name: str, options: dict, adjoint, tol: float) -> bool:
    """Whether the regularizer trains with this gradient method."""
    try:
        regularizers.make(name, **options).check(SolveSpec("ode", "dopri5", adjoint, tol, tol))
    except ValueError:
        return False
    return True


def paper_schedule(task: str, name: str) -> dict:
    """The paper's schedule for a method: its task default weight decaying 10x over training."""
    if not regularizers.resolve(name).penalised:
        return {}
    budget = resolve_budget(TrainConfig.from_dict({"task": task, "regularizer": name}),
                            _task(task))
    return {"weight": budget.weight, "weight_final": budget.weight / PAPER["decay"]}


_TASKS: dict = {}


def _task(name: str):
    if name not in _TASKS:
        _TASKS[name] = tasks.get(name, seed=0)
    return _TASKS[name]


def remeasure(seed_runs: list[dict], rounds: int) -> None:
    """Re-evaluate one seed's models on the test split in interleaved rounds; prediction times
    become medians over rounds, NFE and quality those of the re-evaluation (deterministic)."""
    samples: list[list[dict]] = [[] for _ in seed_runs]
    for _ in range(rounds):
        for run, bucket in zip(seed_runs, samples):
            bucket.append(evaluate(None, run["checkpoint"], split="test"))
    for run, bucket in zip(seed_runs, samples):
        for key, value in bucket[-1].items():
            run["metrics"][key] = statistics.median(m[key] for m in bucket) if key in TIMED \
                else value
        run["checkpoint"] = str(run["checkpoint"])


def markdown(task: str, tol: float, table: dict, quality: str, regime: str) -> str:
    head = ["method", quality.replace("_", " ")] + [h for _, h, _ in COLUMNS]
    lines = [f"### {task}, rtol = atol = {tol:g}, {regime}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, row in table.items():
        cells = [case, f"{row[quality][0]:.4g} ± {row[quality][1]:.2g}"]
        for key, _, _ in COLUMNS:
            mean, std = (v * SCALE.get(key, 1.0) for v in row[key])
            cells.append(f"{mean:.4g} ± {std:.2g} ({row['ratio'][key]:.2f}x)")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"mean ± std over {next(iter(table.values()))['seeds']} seeds; "
                 "(ratio of means to vanilla)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="digits,spiral")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tolerances", default=None,
                        help="comma-separated (default: 1e-6,1e-8; the paper protocol: 1.4e-8)")
    parser.add_argument("--adjoint", default="false", choices=("false", "true", "seminorm"),
                        help="gradient method of every run (methods that cannot use it are "
                        "left out)")
    parser.add_argument("--protocol", default="project", choices=("project", "paper"))
    parser.add_argument("--regularizers", default=None,
                        help="comma-separated subset of: "
                        + ", ".join(sorted({c[0] for c in CASES}))
                        + "; or of the methods' labels, e.g. 'local (unbiased)'")
    parser.add_argument("--epochs", type=int, default=None, help="override the task default")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved prediction-timing rounds per seed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/compare"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    chosen = set(args.regularizers.split(",")) if args.regularizers else None
    cases = [c for c in CASES if chosen is None or c[0] in chosen or label(*c) in chosen]
    adjoint = {"false": False, "true": True}.get(args.adjoint, args.adjoint)
    if args.tolerances is None:
        args.tolerances = str(PAPER["tolerance"]) if args.protocol == "paper" else "1e-6,1e-8"
    tolerances = [float(x) for x in args.tolerances.split(",")]
    cases = [c for c in cases if supports(*c, adjoint, tolerances[0])]
    regime = ("backprop" if not adjoint else f"adjoint={args.adjoint}") + \
        (", paper protocol" if args.protocol == "paper" else "")
    results = {"args": {k: str(v) for k, v in vars(args).items()}, "tables": [], "runs": []}
    sections = []
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="compare-"))
    for task in args.tasks.split(","):
        quality_key = tasks.quality(task)[0].replace("val_", "test_")
        train({"task": task, "epochs": 1, "adjoint": adjoint, "device": "cpu"})  # warm-up
        for tol in tolerances:
            runs = []
            for seed in range(args.seeds):
                seed_runs = []
                shift = seed % len(cases)
                for name, options in cases[shift:] + cases[:shift]:
                    config = {"task": task, "regularizer": name, **options, "rtol": tol,
                              "atol": tol, "adjoint": adjoint, "seed": seed, "device": "cpu"}
                    if args.protocol == "paper":
                        config.update(paper_schedule(task, name))
                    if args.epochs:
                        config["epochs"] = args.epochs
                    checkpoint = workdir / f"{task}-{tol:g}-{seed}-{len(seed_runs)}.pt"
                    metrics = train(config, checkpoint=checkpoint)
                    metrics = {k: v for k, v in metrics.items() if k != "curves"}
                    seed_runs.append({"case": label(name, options), "seed": seed,
                                      "config": config, "metrics": metrics,
                                      "checkpoint": checkpoint})
                    print(f"[{time.time() - started:7.0f}s] {task} tol={tol:g} seed={seed} "
                          f"{label(name, options)}: {quality_key}={metrics[quality_key]:.4g} "
                          f"nfe={metrics['predict_nfe']:.1f} warm={metrics['predict_nfe_warm']:.1f}"
                          f" train={metrics['train_seconds']:.1f}s", file=sys.stderr, flush=True)
                remeasure(seed_runs, args.rounds)
                runs.extend(seed_runs)
            table = summarize(runs, [quality_key] + [key for key, _, _ in COLUMNS])
            sections.append(markdown(task, tol, table, quality_key, regime))
            results["tables"].append({"task": task, "tol": tol, "quality": quality_key,
                                      "regime": regime, "table": table})
            results["runs"].extend(runs)
    text = "\n\n".join(sections)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
