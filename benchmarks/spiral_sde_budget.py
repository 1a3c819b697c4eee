"""spiral-sde: does a longer training budget, or the ``steps`` objective, reach the target?

    .venv/bin/python benchmarks/spiral_sde_budget.py            # train (about 15 minutes)
    .venv/bin/python benchmarks/spiral_sde_budget.py --report   # the table again, no training

The target (issue 14): local at <= 0.75x of vanilla's prediction NFE on every one of 3 seeds at a
test moment MSE within vanilla's spread (mean + std over the seeds, the same budget).
``spiral_sde_floor.py`` found every regularized model at 20 epochs held at its drift's steps.
Two levers, each side by side with vanilla trained for the same epochs (seeds 0-2, milstein at the
task's 1e-2, ``study.train.train``, one thread): the training budget (20 and 40 epochs; vanilla
keeps improving its fit with more epochs) and the local regularizer's ``objective="steps"``
variant (the controller's step count estimated from the sampled step, which pushes hardest where
steps are short; its weights are on another scale than the published penalty's). Writes
``benchmarks/results/spiral-sde-budget.jsonl`` (every run) and ``spiral-sde-budget.md``.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
from pathlib import Path

from _seeds import train_rows

RESULTS = Path(__file__).parent / "results"
RUNS = RESULTS / "spiral-sde-budget.jsonl"
KEYS = ("test_loss", "predict_nfe", "predict_nfe_warm", "train_seconds")
STEPS = {"objective": "steps", "samples": 4}
CONFIGS = {
    20: [("none", {}), ("local", {"weight": 1.5}), ("local", {**STEPS, "weight": 0.005})],
    40: [("none", {}), ("local", {"weight": 1.5}), ("local", {"weight": 1.0}),
         ("local", {"weight": 0.5}), ("local", {"weight": 0.8, "samples": 2}),
         ("local", {**STEPS, "weight": 0.003}), ("local", {**STEPS, "weight": 0.005})],
}
SEEDS = (0, 1, 2)


def _label(options: dict) -> str:
    extra = [f"{options['samples']} sampled"] if options.get("samples", 1) > 1 else []
    objective = options.get("objective", "error")
    return ", ".join([f"{options['weight']:g}", objective, *extra])


def report(rows: list[dict]) -> list[str]:
    lines = ["# spiral-sde: training budget and the steps objective against the target", "",
             "Command: `.venv/bin/python benchmarks/spiral_sde_budget.py`. milstein at rtol = "
             "atol = 1e-2, seeds 0-2; ratios to vanilla of the same seed and epochs, prediction "
             "NFE cold (the solver's own first step). Spread: vanilla's mean + std of the test "
             "moment MSE over the seeds at that budget.", "",
             "| epochs | local configuration | test loss per seed | mean | vanilla's spread | "
             "NFE ratio per seed | worst | target |",
             "|---:|---|---|---:|---:|---|---:|---|"]
    verdicts = []
    for epochs in sorted(CONFIGS):
        at = [r for r in rows if r["config"]["epochs"] == epochs]
        vanilla = {r["config"]["seed"]: r for r in at if r["config"]["regularizer"] == "none"}
        if set(vanilla) != set(SEEDS):
            continue
        losses = [vanilla[s]["test_loss"] for s in SEEDS]
        mean, std = statistics.fmean(losses), statistics.stdev(losses)
        nfe = " ".join(f"{vanilla[s]['predict_nfe']:g}" for s in SEEDS)
        lines.append(f"| {epochs} | vanilla | {' '.join(f'{x:.4f}' for x in losses)} | "
                     f"{mean:.4f} | {mean:.4f} ± {std:.4f} | "
                     f"{nfe} NFE | | |")
        groups = collections.defaultdict(dict)
        for r in at:
            if r["config"]["regularizer"] == "local":
                options = {k: v for k, v in r["config"].items()
                           if k not in ("task", "regularizer", "seed", "device", "epochs")}
                groups[_label(options)][r["config"]["seed"]] = r
        for label, by_seed in groups.items():
            if set(by_seed) != set(SEEDS):  # a run still training
                continue
            loss = [by_seed[s]["test_loss"] for s in SEEDS]
            ratios = [by_seed[s]["predict_nfe"] / vanilla[s]["predict_nfe"] for s in SEEDS]
            met = max(ratios) <= 0.75 and statistics.fmean(loss) <= mean + std
            verdicts.append((epochs, label, met, max(ratios), statistics.fmean(loss) / mean))
            lines.append(f"| {epochs} | {label} | {' '.join(f'{x:.4f}' for x in loss)} | "
                         f"{statistics.fmean(loss):.4f} | {mean:.4f} ± {std:.4f} | "
                         f"{' '.join(f'{x:.2f}' for x in ratios)} | {max(ratios):.2f} | "
                         f"{'met' if met else 'missed'} |")
    met = [v for v in verdicts if v[2]]
    lines += ["", "Met by: " + (", ".join(f"{label} at {epochs} epochs" for epochs, label, *_ in
                                          met) if met else "no configuration") + "."]
    near = sorted(verdicts, key=lambda v: v[3])
    lines += ["Worst-seed ratio and mean loss over vanilla's, per configuration: "
              + "; ".join(f"{label} ({epochs} ep) {worst:.2f}x at {loss:.2f}x"
                          for epochs, label, _, worst, loss in near) + "."]
    return lines


READING = """## What it shows

- **A longer budget moves both methods, not the gap.** At 40 epochs vanilla fits better (mean
  test loss 0.0178 -> 0.0107, its spread 0.0063 -> 0.0028) and costs more (seed 0: 261 -> 286.5
  NFE), so the ratio is reached on every seed (local 1.5: 0.67-0.72x) but at 1.6x vanilla's
  mean loss, outside its spread; the configuration nearest vanilla's quality (0.8, 2 sampled:
  1.40x) sits at 0.72-0.76x. At 20 epochs the same weight misses on the ratio (0.86x on seed 0)
  at 1.3x the loss.
- **The steps objective cuts NFE but buys it with the fit.** It reaches 0.55-0.68x at 0.005
  (40 epochs) and 0.61-0.82x at 20, at 1.9-2.8x vanilla's mean loss; at a matched worst-seed
  ratio it trades worse than the published penalty (0.74x at 2.47x the loss against 1.5's
  0.72x at 1.60x). Weighting short steps more does reach the drift's steps (the NFE falls
  below every error-objective configuration) but the model then misses the data's moments. It
  stays an option, off by default.
- No configuration here meets the target; with `spiral_sde_floor.py` and
  `spiral_sde_schedules.py` this is the measured front of how close the method comes."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only rewrite the table")
    args = parser.parse_args()
    if not args.report:
        train_rows(({"task": "spiral-sde", "regularizer": name, "seed": seed, "device": "cpu",
                     "epochs": epochs, **options}
                    for epochs, configs in CONFIGS.items() for seed in SEEDS
                    for name, options in configs), RUNS, KEYS)
    rows = [json.loads(line) for line in RUNS.read_text().splitlines()]
    text = "\n".join(report(rows)) + "\n\n" + READING + "\n"
    (RESULTS / "spiral-sde-budget.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
