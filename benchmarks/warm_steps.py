"""Training with warm-started steps against the same training started cold, side by side.

    .venv/bin/python benchmarks/warm_steps.py [--seeds 3] [--epochs 30]

On digits, for vanilla and the local regularizer (the task's default weight) at rtol = atol =
1e-6 and 1e-8, each configuration is trained twice per seed -- every training solve starting from
the solver's initial-step heuristic (cold, the default) and from the step size the previous
batch's solve proposed (``--warm-steps true``) -- in one process, seeds outermost and the order
of the runs rotating from seed to seed, after an untimed warm-up run. Reported: training time,
training NFE per batch (forward, the regularizer's step included), test accuracy and both
prediction NFEs, mean ± std over seeds, and warm / cold ratios. Target for local: training time
<= 0.6x of the cold training, accuracy within 0.5 points, prediction NFE no worse. Run it alone
on the machine: training times are wall-clock. Results: ``benchmarks/results/warm_steps.md`` and
``warm_steps.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from study.train import train

RESULTS = Path(__file__).parent / "results"
CASES = [(reg, tol) for tol in (1e-6, 1e-8) for reg in ("none", "local")]
KEYS = [("train_seconds", "train s"), ("train_nfe_forward", "train NFE/batch"),
        ("test_accuracy", "test accuracy"), ("predict_nfe", "predict NFE"),
        ("predict_nfe_warm", "predict NFE (warm)")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    train({"task": "digits", "epochs": 1, "device": "cpu"})  # warm-up, untimed
    runs = []
    jobs = [(reg, tol, warm) for reg, tol in CASES for warm in (False, True)]
    for seed in range(args.seeds):
        shift = seed % len(jobs)
        for reg, tol, warm in jobs[shift:] + jobs[:shift]:
            record = train({"task": "digits", "regularizer": reg, "rtol": tol, "atol": tol,
                            "warm_steps": warm, "epochs": args.epochs, "seed": seed,
                            "device": "cpu"})
            record.pop("curves")
            runs.append({"regularizer": reg, "tol": tol, "warm": warm, "seed": seed,
                         "metrics": record})
            print(f"seed {seed} {reg} {tol:g} {'warm' if warm else 'cold'}: "
                  f"{record['train_seconds']:.1f} s, {record['train_nfe_forward']:.1f} NFE/batch",
                  flush=True)
    load.append(os.getloadavg()[0])
    (RESULTS / "warm_steps.json").write_text(json.dumps({"runs": runs, "load": load}))
    lines = [
        "# Training with warm-started steps (digits): warm vs cold training, side by side",
        "",
        f"Command: `.venv/bin/python benchmarks/warm_steps.py --seeds {args.seeds} --epochs "
        f"{args.epochs}`. Mean ± std over {args.seeds} seeds; ratio: warm / cold (ratio of "
        f"means). Load average {load[0]:.1f} before, {load[1]:.1f} after.",
        "",
        "| regularizer | tolerance | training | " + " | ".join(h for _, h in KEYS) + " |",
        "|---|---|---|" + "---:|" * len(KEYS),
    ]
    for reg, tol in CASES:
        stats = {}
        for warm in (False, True):
            chosen = [r["metrics"] for r in runs
                      if (r["regularizer"], r["tol"], r["warm"]) == (reg, tol, warm)]
            stats[warm] = {k: [float(m[k]) for m in chosen] for k, _ in KEYS}
        for warm in (False, True):
            cells = []
            for key, _ in KEYS:
                values = stats[warm][key]
                mean = statistics.fmean(values)
                spread = statistics.stdev(values) if len(values) > 1 else 0.0
                ratio = mean / statistics.fmean(stats[False][key])
                cells.append(f"{mean:.4g} ± {spread:.2g}" + (f" ({ratio:.2f}x)" if warm else ""))
            lines.append(f"| {reg} | {tol:g} | {'warm' if warm else 'cold'} | "
                         + " | ".join(cells) + " |")
    (RESULTS / "warm_steps.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
