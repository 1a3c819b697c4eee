"""Torch's threads when trainings share a machine: the project's sizing vs torch's default.

Two ``study train`` runs at once against one alone, each way of sizing torch's intra-op pool
side by side, interleaved within every repeat (the order rotates from repeat to repeat, so that
load drifting during the benchmark touches every arm alike):

- ``torch``: torch's own default (its count of the machine's cores), ``study.threads`` disabled;
- ``sized``: as shipped. Alone, ``study train`` sizes the pool by ``study.threads.threads()``;
  in the pair, each run gets ``OMP_NUM_THREADS = per_worker(2)``, what ``study launch
  --workers 2`` gives two workers on this machine.

Every run trains the same configuration with the same seed. Measured per run: ``train_seconds``
from its ``--json`` record (the optimisation steps, where the threads work) and its wall time.
Per repeat: pair / alone (what sharing the machine costs) for each sizing, and sized / torch,
alone and in the pair (the pair's two runs averaged). Reported: the median over repeats and
the range.

    .venv/bin/python benchmarks/threads.py [--repeats 3] [--task digits] [--epochs 1]

Results go to ``benchmarks/results/threads.{json,md}``, with the machine's CPUs and its load
average before and after every arm.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from study import threads

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parent.parent

# ``study`` with torch's pool left alone (``torch``) or sized as shipped (``sized``); it prints
# the threads the run trained with and its wall time (imports included).
WRAPPER = """
import time
began = time.perf_counter()
import sys
import torch
from study import threads
if sys.argv[1] == "torch":
    threads.apply = torch.get_num_threads
from study.cli import main
code = main(sys.argv[2:])
print("threads", torch.get_num_threads(), time.perf_counter() - began, file=sys.stderr)
sys.exit(code)
"""


def start(sizing: str, train_args: list[str], omp: int | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != threads.OMP_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if omp is not None:
        env[threads.OMP_ENV] = str(omp)
    return subprocess.Popen([sys.executable, "-c", WRAPPER, sizing, "train", *train_args,
                             "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_arm(sizing: str, runs: int, train_args: list[str]) -> dict:
    """``runs`` trainings at once; their train seconds, wall seconds and threads."""
    omp = threads.per_worker(runs) if sizing == "sized" and runs > 1 else None
    load = os.getloadavg()[0]
    processes = [start(sizing, train_args, omp) for _ in range(runs)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=3600)
        if process.returncode != 0:
            raise SystemExit(f"study train failed ({sizing}, {runs} at once):\n{err}")
        record = json.loads(out)
        _, used, wall = err.strip().splitlines()[-1].split()
        results.append({"train_seconds": record["train_seconds"], "wall_seconds": float(wall),
                        "threads": int(used)})
    return {"sizing": sizing, "runs": runs, "results": results,
            "load": [load, os.getloadavg()[0]]}


def mean(arm: dict, key: str) -> float:
    return statistics.fmean(r[key] for r in arm["results"])


def ratios(repeat: list[dict], key: str) -> dict[str, float]:
    by = {(a["sizing"], a["runs"]): mean(a, key) for a in repeat}
    return {
        "pair / alone, torch": by["torch", 2] / by["torch", 1],
        "pair / alone, sized": by["sized", 2] / by["sized", 1],
        "sized / torch, alone": by["sized", 1] / by["torch", 1],
        "sized / torch, pair": by["sized", 2] / by["torch", 2],
    }


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--tolerance", default="1e-3", help="rtol = atol of every run")
    args = parser.parse_args()
    train_args = ["--task", args.task, "--epochs", str(args.epochs), "--rtol", args.tolerance,
                  "--atol", args.tolerance, "--device", "cpu", "--seed", "0"]
    arms = [("torch", 1), ("sized", 1), ("torch", 2), ("sized", 2)]
    repeats = []
    for index in range(args.repeats):
        order = arms[index % len(arms):] + arms[:index % len(arms)]
        repeat = []
        for sizing, runs in order:
            arm = run_arm(sizing, runs, train_args)
            print(f"repeat {index + 1}: {sizing}, {runs} at once: "
                  f"{[round(r['train_seconds'], 1) for r in arm['results']]} train s, "
                  f"threads {[r['threads'] for r in arm['results']]}, load {arm['load']}",
                  file=sys.stderr, flush=True)
            repeat.append(arm)
        repeats.append(repeat)
    summary = {key: {name: summarise([ratios(r, key)[name] for r in repeats])
                     for name in ratios(repeats[0], key)}
               for key in ("train_seconds", "wall_seconds")}
    import torch

    machine = {"cpu_count": os.cpu_count(), "available_cpus": threads.available_cpus(),
               "cgroup_quota": threads.cgroup_quota(), "torch_default_threads":
               torch.get_num_threads(), "platform": platform.platform()}
    command = (f".venv/bin/python benchmarks/threads.py --repeats {args.repeats} --task "
               f"{args.task} --epochs {args.epochs} --tolerance {args.tolerance}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "threads.json").write_text(json.dumps(
        {"command": command, "train_args": train_args, "machine": machine,
         "summary": summary, "repeats": repeats}, indent=1) + "\n")
    (RESULTS / "threads.md").write_text(markdown(command, machine, summary, repeats))
    print((RESULTS / "threads.md").read_text())


def markdown(command: str, machine: dict, summary: dict, repeats: list) -> str:
    loads = [x for r in repeats for a in r for x in a["load"]]
    threads_used = {f"{a['sizing']}, {a['runs']} at once": sorted({r["threads"]
                                                                    for r in a["results"]})
                    for a in repeats[0]}
    lines = [
        "# Torch's threads when trainings share a machine",
        "",
        f"Command: `{command}`. Machine: {machine['cpu_count']} CPUs, "
        f"{machine['available_cpus']} available to the process (affinity, cgroup quota "
        f"{machine['cgroup_quota']}), torch's default pool {machine['torch_default_threads']} "
        f"threads. Threads per run: "
        + "; ".join(f"{k}: {v}" for k, v in threads_used.items()) + ".",
        "",
        "Each ratio is computed within one repeat (arms interleaved, order rotated) and reported "
        f"as the median over {len(repeats)} repeats [min, max]. `train_seconds` is the "
        "optimisation steps; wall time adds start-up (imports) and the evaluations.",
        "",
        f"The machine was shared with other work while this ran (1-minute load average "
        f"{min(loads):.1f} to {max(loads):.1f} on {machine['cpu_count']} CPUs): the numbers "
        "say how the sizings compare on a busy machine, not how fast an idle one trains.",
        "",
        "| ratio | train seconds | wall seconds |",
        "|---|---|---|",
    ]
    for name in summary["train_seconds"]:
        cells = [summary[key][name] for key in ("train_seconds", "wall_seconds")]
        lines.append(f"| {name} | " + " | ".join(
            f"{c['median']:.2f} [{c['min']:.2f}, {c['max']:.2f}]" for c in cells) + " |")
    lines += ["", "Per run (train seconds):", "",
              "| repeat | arm | runs | train s | wall s | threads |", "|---|---|---|---|---|---|"]
    for index, repeat in enumerate(repeats, 1):
        for arm in repeat:
            lines.append(
                f"| {index} | {arm['sizing']} | {arm['runs']} | "
                + ", ".join(f"{r['train_seconds']:.1f}" for r in arm["results"]) + " | "
                + ", ".join(f"{r['wall_seconds']:.1f}" for r in arm["results"]) + " | "
                + ", ".join(str(r["threads"]) for r in arm["results"]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
