"""What Pareto-aware early stopping saves, and what it costs in front quality, side by side.

    .venv/bin/python benchmarks/early_stop.py [--trials 15] [--seeds 3] [--margin 0.02]

The same study -- the local regularizer on digits, searching its weight, sampling, rtol and
solver with the shipped sampler (multivariate TPE) -- runs with and without ``[search]
early_stop = { at = [0.25, 0.5], margin = ... }``, for several study seeds, through the project's
own worker and early stopping. Trials replay the recorded table of ``benchmarks/_table.py``
(trained grid configurations, per-epoch curves; a stopped trial costs its recorded training time
pro rata), so both arms see exactly the same training outcomes. Reported per seed and as means:
the final validation hypervolume of the COMPLETE trials against one fixed reference point
(vanilla's accuracy 10 % worse, 1.5 times its warm-started prediction NFE), the total training
seconds of every trial started (pruned ones' partial time included), pruned trial counts, and the
ratios with early stopping / without. The target: >= 0.97 of the hypervolume for <= 0.6 of the
training time. Results: ``benchmarks/results/early_stop.md`` and ``early_stop.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from _table import EXPERIMENT, build
from optuna.trial import TrialState
from samplers import TABLE, curve, reference, run_study

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--margin", type=float, default=0.02)
    args = parser.parse_args()
    table = json.loads(TABLE.read_text()) if TABLE.exists() else build(TABLE)
    ref = reference(table)
    box = (1 - ref[0]) * ref[1]
    rows, ratios = [], []
    for seed in range(args.seeds):
        arms = {}
        for label, stop in (("without", ""), ("with", "[search]\nearly_stop = { at = [0.25, "
                                                      f"0.5], margin = {args.margin} }}\n")):
            toml = (f'trials = {args.trials}\nsampler = "tpe"\nseed = {seed}\n'
                    + EXPERIMENT.replace("[search.local]", stop + "[search.local]"))
            trials = run_study(table, toml, name=f"{label}-{seed}")
            volumes, _ = curve(trials, ref)
            seconds = sum(t.user_attrs.get("train_seconds", 0.0) for t in trials
                          if t.state in (TrialState.COMPLETE, TrialState.PRUNED))
            pruned = sum(t.state == TrialState.PRUNED for t in trials)
            arms[label] = {"hypervolume": volumes[-1] / box, "seconds": seconds,
                           "pruned": pruned, "started": len(trials)}
        hv = arms["with"]["hypervolume"] / arms["without"]["hypervolume"]
        time_ratio = arms["with"]["seconds"] / arms["without"]["seconds"]
        ratios.append((hv, time_ratio))
        rows.append((seed, arms, hv, time_ratio))
        print(f"seed {seed}: hypervolume ratio {hv:.3f}, training-time ratio {time_ratio:.3f}, "
              f"{arms['with']['pruned']} pruned", flush=True)
    (RESULTS / "early_stop.json").write_text(json.dumps(
        {"reference": ref, "margin": args.margin, "trials": args.trials,
         "seeds": [{"seed": s, **a} for s, a, _, _ in rows]}))
    lines = [
        "# Early stopping on digits (local regularizer): hypervolume kept vs training time",
        "",
        f"Command: `.venv/bin/python benchmarks/early_stop.py --trials {args.trials} --seeds "
        f"{args.seeds} --margin {args.margin}`. Both arms run the project's worker with the "
        "shipped sampler (multivariate TPE) on the same recorded table of trained "
        f"configurations (`benchmarks/results/{TABLE.name}`), so they see the same training "
        "outcomes; early stopping compares trials at 25 % and 50 % of the epochs. Normalised "
        f"validation hypervolume of the {args.trials} COMPLETE trials against val_accuracy = "
        f"{ref[0]:.4g}, predict_nfe_warm = {ref[1]:.4g}.",
        "",
        "| study seed | hypervolume without | with | ratio | training s without | with | ratio "
        "| pruned | trials started (with) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for seed, arms, hv, time_ratio in rows:
        lines.append(
            f"| {seed} | {arms['without']['hypervolume']:.4g} | {arms['with']['hypervolume']:.4g}"
            f" | {hv:.3f} | {arms['without']['seconds']:.0f} | {arms['with']['seconds']:.0f} | "
            f"{time_ratio:.3f} | {arms['with']['pruned']} | {arms['with']['started']} |")
    hv_mean = statistics.fmean(r[0] for r in ratios)
    time_mean = statistics.fmean(r[1] for r in ratios)
    met = hv_mean >= 0.97 and time_mean <= 0.6
    lines += ["", f"Mean ratios: hypervolume {hv_mean:.3f}, training time {time_mean:.3f} "
              f"(target >= 0.97 and <= 0.6: {'met' if met else 'missed'})."]
    (RESULTS / "early_stop.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
