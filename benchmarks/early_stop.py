"""What Pareto-aware early stopping saves, and what it costs in front quality, side by side.

    .venv/bin/python benchmarks/early_stop.py [--trials 15] [--seeds 100] [--confirm 200] \
        [--real 10] [--reuse-real]

The same study -- the local regularizer on digits, searching its weight, sampling, rtol and
solver with the shipped sampler (multivariate TPE) -- runs without early stopping and with
several settings of ``[search] early_stop = { at = [...], margin = ... }`` and ``max_trials``,
for many study seeds, through the project's own worker and early stopping. Trials replay the
recorded table of ``benchmarks/_table.py`` (trained grid configurations with per-epoch curves; a
stopped trial costs its recorded training time pro rata), so every arm sees the same training
outcomes. Reported per setting: the final validation hypervolume of the COMPLETE trials against
one fixed reference point (vanilla's accuracy 10 % worse, 1.5 times its warm-started prediction
NFE) and the total training seconds of every trial started (pruned ones' partial time
included), as ratios to the study without early stopping (per study seed; mean and spread over
seeds), and the pruned trials. The target: >= 0.97 of the hypervolume for <= 0.6 of the
training time.

Three stages, so that the setting reported is not merely the luckiest of many on one set of
seeds: (1) every setting on the selection seeds ``0 .. seeds-1``; (2) the setting chosen there
(the most hypervolume among those meeting the target; none if none does) again on ``confirm``
fresh seeds; (3) that setting against no early stopping with real training (``study.train``,
not the table) for ``real`` study seeds that neither stage used (from ``seeds + confirm`` on,
fixed before the run), the two arms of a seed back to back (their order alternating), each
arm's hypervolume against the same reference and its measured training seconds.
``--reuse-real`` reports the last run's real stage again instead of training (the same setting
and seeds, or it refuses). Also reported: the hypervolume and time a study without early
stopping keeps when stopped after fewer trials. Results: ``benchmarks/results/early_stop.md``
and ``early_stop.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from _table import EXPERIMENT, build
from optuna.trial import TrialState
from samplers import TABLE, curve, reference, run_study

from study.train import train as train_for_real

RESULTS = Path(__file__).parent / "results"
TARGET = (0.97, 0.6)  # at least this hypervolume ratio, for at most this training-time ratio
# (fractions of the epochs, margin, max_trials as a multiple of the budget)
SETTINGS = [((0.25, 0.5), 0.02, 3), ((0.25, 0.5), 0.0, 3),
            ((0.1,), 0.0, 1), ((0.2,), 0.0, 1), ((0.3,), 0.0, 1), ((0.5,), 0.0, 1),
            ((0.25, 0.5), 0.0, 1), ((0.2, 0.3), 0.0, 1), ((0.2, 0.4), 0.0, 1),
            ((0.3, 0.5), 0.0, 1), ((0.2, 0.3, 0.4), 0.0, 1), ((0.2, 0.4, 0.6), 0.0, 1),
            ((0.1, 0.2, 0.3, 0.4), 0.0, 1),
            # a cap a little above the budget: a pruned trial's slot is partly given back
            ((0.2, 0.3), 0.0, 1.1), ((0.2, 0.3), 0.0, 1.2), ((0.2, 0.4), 0.0, 1.2),
            ((0.2, 0.3, 0.4), 0.0, 1.1)]


def _toml(trials: int, seed: int, setting: tuple | None) -> str:
    head = f'trials = {trials}\nsampler = "tpe"\nseed = {seed}\n'
    if setting is None:
        return head + EXPERIMENT
    at, margin, factor = setting
    rule = f"[search]\nearly_stop = {{ at = [{', '.join(map(str, at))}], margin = {margin} }}\n"
    return (head + f"max_trials = {round(factor * trials)}\n"
            + EXPERIMENT.replace("[search.local]", rule + "[search.local]"))


def _arm(table: dict, trials: int, seed: int, ref, box: float, setting: tuple | None = None,
         train=None) -> dict:
    ran = run_study(table, _toml(trials, seed, setting), name=f"s{seed}", train=train)
    volumes, _ = curve(ran, ref)
    started = [t.user_attrs.get("train_seconds", 0.0) for t in ran
               if t.state == TrialState.COMPLETE]
    done = [t for t in ran if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    epochs = table["base"]["epochs"]
    return {"hypervolume": volumes[-1] / box if volumes else 0.0,
            "seconds": sum(t.user_attrs.get("train_seconds", 0.0) for t in done),
            # epochs trained: a pruned trial stopped at the last epoch it recorded a point
            "epochs": sum(epochs if t.state == TrialState.COMPLETE
                          else max(map(int, t.user_attrs.get("early_stop", {"0": 0})))
                          for t in done),
            "pruned": sum(t.state == TrialState.PRUNED for t in ran), "started": len(ran),
            # after each COMPLETE trial (without early stopping every trial completes, so the
            # first k are the study stopped after k trials)
            "history": [[v / box, sum(started[:k + 1])] for k, v in enumerate(volumes)]}


def _ratios(arms: list[dict], baseline: list[dict]) -> dict:
    return {"arms": arms, "baseline": baseline,
            "hypervolume_ratio": [a["hypervolume"] / b["hypervolume"]
                                  for a, b in zip(arms, baseline)],
            "time_ratio": [a["seconds"] / b["seconds"] for a, b in zip(arms, baseline)],
            "epoch_ratio": [a["epochs"] / b["epochs"] for a, b in zip(arms, baseline)]}


def _fewer(baseline: list[dict], trials: int) -> dict[int, dict]:
    """The other way to save time: no early stopping, the study stopped after k < ``trials``
    COMPLETE trials (the first k trials of the full study: the sampler and worker are
    sequential and seeded). Hypervolume and training-time ratios to the full study per seed."""
    fewer = {}
    for k in range(max(1, trials // 3), trials):
        full = [b["history"][-1] for b in baseline]
        cut = [b["history"][k - 1] for b in baseline]
        fewer[k] = {"hypervolume_ratio": [c[0] / f[0] for c, f in zip(cut, full)],
                    "time_ratio": [c[1] / f[1] for c, f in zip(cut, full)]}
    return fewer


def _meets(result: dict) -> bool:
    return (statistics.fmean(result["hypervolume_ratio"]) >= TARGET[0]
            and statistics.fmean(result["time_ratio"]) <= TARGET[1])


def _real_seeds(args) -> list[int]:
    first = args.seeds + args.confirm  # after every seed the replayed stages used
    return list(range(first, first + args.real))


def _reused_real(args, setting: tuple) -> dict:
    """The real stage of the last run (``early_stop.json``), to report again without two hours of
    training; refused unless it trained the same setting on the same seeds."""
    real = json.loads((RESULTS / "early_stop.json").read_text()).get("real") or {}
    # the run of 2026-12-06 predates these keys: it trained (0.2, 0.3), 0.0, 1.1 on 300-309
    stored = (real.get("setting", [[0.2, 0.3], 0.0, 1.1]), real.get("seeds", list(range(300, 310))))
    wanted = (json.loads(json.dumps(list(setting))), _real_seeds(args))
    if not real or stored != wanted or len(real["arms"]) != args.real:
        raise SystemExit(f"--reuse-real: early_stop.json's real stage {stored} is not {wanted}")
    real.setdefault("setting", wanted[0])
    real.setdefault("seeds", wanted[1])
    real.setdefault("measured", "2026-12-06 04:13 UTC")
    return real


def _real(table: dict, args, ref, box: float, setting: tuple) -> dict:
    """Both arms trained for real, seed by seed, back to back (order alternating)."""
    arms, baseline = [], []
    for seed in _real_seeds(args):
        def run(rule, seed=seed):
            return _arm(table, args.trials, seed, ref, box, rule, train=train_for_real)
        if seed % 2:
            arms.append(run(setting))
            baseline.append(run(None))
        else:
            baseline.append(run(None))
            arms.append(run(setting))
        kept = arms[-1]["hypervolume"] / baseline[-1]["hypervolume"]
        print(f"real seed {seed}: hypervolume {kept:.3f}, "
              f"time {arms[-1]['seconds'] / baseline[-1]['seconds']:.3f}", flush=True)
    return _ratios(arms, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=100, help="selection study seeds")
    parser.add_argument("--confirm", type=int, default=200, help="fresh seeds for the choice")
    parser.add_argument("--real", type=int, default=10, help="fresh study seeds trained for real")
    parser.add_argument("--reuse-real", action="store_true",
                        help="report the last run's real stage again (same setting and seeds)")
    args = parser.parse_args()
    table = json.loads(TABLE.read_text()) if TABLE.exists() else build(TABLE)
    ref = reference(table)
    box = (1 - ref[0]) * ref[1]
    seeds = range(args.seeds)
    baseline = [_arm(table, args.trials, seed, ref, box) for seed in seeds]
    results = []
    for setting in SETTINGS:
        result = _ratios([_arm(table, args.trials, seed, ref, box, setting) for seed in seeds],
                         baseline)
        result["setting"] = setting
        results.append(result)
        print(f"{setting}: hypervolume {statistics.fmean(result['hypervolume_ratio']):.3f}, "
              f"time {statistics.fmean(result['time_ratio']):.3f}", flush=True)
    met = [r for r in results if _meets(r)]
    chosen = max(met, key=lambda r: statistics.fmean(r["hypervolume_ratio"])) if met else None
    confirmed = real = None
    if chosen is not None and args.confirm:
        fresh = range(args.seeds, args.seeds + args.confirm)
        confirmed = _ratios([_arm(table, args.trials, s, ref, box, chosen["setting"])
                             for s in fresh],
                            [_arm(table, args.trials, s, ref, box) for s in fresh])
    fewer = _fewer(baseline, args.trials)
    if chosen is not None and args.real and args.reuse_real:
        real = _reused_real(args, chosen["setting"])
    elif chosen is not None and args.real:
        real = _real(table, args, ref, box, chosen["setting"])
        real.update(setting=list(chosen["setting"]), seeds=_real_seeds(args),
                    measured=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    (RESULTS / "early_stop.json").write_text(json.dumps(
        {"reference": ref, "trials": args.trials, "results": results,
         "chosen": chosen and chosen["setting"], "confirmed": confirmed, "real": real,
         "fewer_trials": fewer}))
    lines = _report(args, table, ref, results, chosen, confirmed, real, fewer)
    (RESULTS / "early_stop.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _row(setting: tuple, result: dict, trials: int) -> str:
    at, margin, factor = setting
    pruned = statistics.fmean(a["pruned"] for a in result["arms"])
    verdict = "met" if _meets(result) else "missed"
    return (f"| {', '.join(map(str, at))} | {margin} | {round(factor * trials)} | "
            f"{_mean_std(result['hypervolume_ratio'])} | {_mean_std(result['time_ratio'])} | "
            f"{_mean_std(result['epoch_ratio'])} | {pruned:.1f} | {verdict} |")


def _report(args, table, ref, results, chosen, confirmed, real, fewer) -> list[str]:
    lines = [
        "# Early stopping on digits (local regularizer): hypervolume kept vs training time",
        "",
        f"Command: `.venv/bin/python benchmarks/early_stop.py --trials {args.trials} --seeds "
        f"{args.seeds} --confirm {args.confirm} --real {args.real}`. Every replayed arm runs the "
        "project's worker with the shipped sampler (multivariate TPE) on the same recorded table "
        f"of trained configurations (`benchmarks/results/{TABLE.name}`, "
        f"{table['base']['epochs']} epochs per run), so all see the same training outcomes. A "
        f"study's budget is {args.trials} COMPLETE trials; pruned trials do not count toward it, "
        "and `max_trials` caps the trials started. Ratios: with early stopping / without, per "
        "study seed; mean ± standard deviation over seeds. Normalised validation hypervolume "
        f"against val_accuracy = {ref[0]:.4g}, predict_nfe_warm = {ref[1]:.4g}. The epoch ratio "
        "counts epochs trained (deterministic; the time ratio weighs them by their recorded "
        "seconds).",
        "",
        f"## Every setting, {args.seeds} selection seeds (0-{args.seeds - 1})",
        "",
        "| at (fractions of the epochs) | margin | max_trials | hypervolume ratio | "
        f"training-time ratio | epoch ratio | pruned per study | target (>= {TARGET[0]}, "
        f"<= {TARGET[1]}) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [_row(r["setting"], r, args.trials) for r in results]
    if chosen is None:
        return [*lines, "", "No setting meets the target on the selection seeds."]
    at, margin, factor = chosen["setting"]
    setting = (f"`early_stop = {{ at = [{', '.join(map(str, at))}], margin = {margin} }}`, "
               f"`max_trials = {round(factor * args.trials)}`")
    lines += ["", f"Chosen (the most hypervolume among the settings that meet the target): "
              f"{setting}.", ""]
    if confirmed is not None:
        lines += [f"## The chosen setting on {args.confirm} fresh seeds "
                  f"({args.seeds}-{args.seeds + args.confirm - 1})", "",
                  "| at | margin | max_trials | hypervolume ratio | training-time ratio | "
                  "epoch ratio | pruned per study | target |",
                  "|---|---:|---:|---:|---:|---:|---:|---|",
                  _row(chosen["setting"], confirmed, args.trials), ""]
        low = sorted(confirmed["hypervolume_ratio"])
        lines += [f"Per study: the 10th percentile keeps {low[len(low) // 10]:.3f} of the "
                  f"hypervolume; {sum(h < 0.9 for h in low)} of {len(low)} keep less than 0.9.",
                  ""]
    if real is not None:
        first = args.seeds + args.confirm
        lines += [f"## Trained for real: {args.real} fresh study seeds ({first}-"
                  f"{first + args.real - 1}), both arms back to back", "",
                  "| at | margin | max_trials | hypervolume ratio | training-time ratio | "
                  "epoch ratio | pruned per study | target |",
                  "|---|---:|---:|---:|---:|---:|---:|---|",
                  _row(chosen["setting"], real, args.trials), "",
                  "Per seed (hypervolume ratio, time ratio): " + ", ".join(
                      f"({h:.3f}, {t:.3f})"
                      for h, t in zip(real["hypervolume_ratio"], real["time_ratio"])),
                  "", f"Trained {real['measured']}. {EARLIER}", ""]
    lines += [f"## Without early stopping, fewer trials ({args.seeds} selection seeds)", "",
              "The other way to spend less: the same study stopped after k COMPLETE trials "
              f"instead of {args.trials}.", "",
              "| trials | hypervolume ratio | training-time ratio |", "|---:|---:|---:|"]
    lines += [f"| {k} | {_mean_std(f['hypervolume_ratio'])} | {_mean_std(f['time_ratio'])} |"
              for k, f in fewer.items()]
    return [*lines, "", WHY]


EARLIER = """An earlier real run of the same setting on seeds 0-2 (selection seeds, which
the replay had called unlucky: it predicted 0.724 of the time there) measured 0.993 of the
hypervolume for 0.701 of the time (per seed (1.000, 0.689), (0.979, 0.625), (1.000, 0.790)): a
single study's saving spreads from about 0.3 to 0.8, so the target holds for the mean over
studies, not for every study."""


WHY = """Where the time goes. With B COMPLETE trials required, p trials pruned at a fraction f of
their epochs and trials of similar cost, the training time is about (C + p f) / B of the study
without early stopping, C the COMPLETE trials. Pruned trials that do not count toward the budget
are replaced by full ones, so the default cap (`max_trials` = 3 x `trials`) saves nothing; with
the cap at the budget (C = B - p) the time is 1 - p (1 - f) / B, and the study ends with the
front of the B - p configurations that early comparison did not rule out. Comparing twice early
(at 2 and 3 of 10 epochs) prunes about half the trials for a fifth to a third of their epochs;
the hypervolume survives because the dominated early points are mostly the start-up trials'
random configurations. Settings differ by a few hundredths while a single study's time ratio
spreads by +/- 0.15, so ten seeds (the earlier version of this benchmark) could not tell them
apart: hence 100 selection seeds and fresh seeds to confirm the choice."""


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {spread:.3f}"


if __name__ == "__main__":
    main()
