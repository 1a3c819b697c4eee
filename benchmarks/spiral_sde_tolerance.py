"""spiral-sde: does the solver tolerance move the target, and where is it met?

    .venv/bin/python benchmarks/spiral_sde_tolerance.py                   # train (about 55 minutes)
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --tolerance 5e-3  # one tolerance, appended
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --stage replicate # seeds 3-5, appended
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --stage between   # 1.5-1.8, 3e-3, seeds 0-5
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --stage confirm   # 1.65, fresh seeds 6-8
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --stage vanilla   # vanilla, seeds 3-5
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --stage loose     # 0.25-1.0, 2e-2/3e-2
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --stage paper     # 1.8-2.4, 1 point, 3e-3
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --report          # the table, no training

The target (issue 14): local at <= 0.75x of vanilla's prediction NFE on every one of 3 seeds at a
test moment MSE within vanilla's spread (mean + std over the seeds, at the same tolerance).
``spiral_sde_floor.py`` found, at the task's 1e-2, every regularized model held at its drift's
steps: the penalties remove what the learned diffusion adds beyond them, and on seed 0 vanilla's
diffusion adds little. The tolerance changes that share (milstein's step-doubling estimate holds
the drift's and the diffusion's contributions to different powers of the step). So each
tolerance (3e-3, 5e-3, 1e-2, 2e-2 and 3e-2) trains and predicts at that tolerance
(``rtol = atol``), side by side with vanilla and global error at the same tolerance: vanilla,
local at its default (1.5, one sampled point), local with 2 sampled points at 1.2, 2.4, 3.0 and
3.6, and global error at its default (0.1); seeds 0-2, the task's other defaults (20 epochs),
``study.train.train`` on one thread. Stage ``replicate`` trains vanilla and the two local
configurations that met the target at 3e-3, and the two at 5e-3, on fresh seeds 3-5.
Ratios are to vanilla of the same seed and tolerance; prediction NFE cold (the solver's own first
step) and warm-started. A last table puts every configuration of every tolerance on one front of
mean NFE against mean test loss. Runs are appended as they finish and a rerun trains only what is
missing, so ``--tolerance`` can split the work over processes (two took 25 minutes for four
tolerances on 2 cores). Writes ``benchmarks/results/spiral-sde-tolerance.jsonl`` (every run) and
``spiral-sde-tolerance.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from _seeds import tolerance as written
from _seeds import train_rows

RESULTS = Path(__file__).parent / "results"
RUNS = RESULTS / "spiral-sde-tolerance.jsonl"
KEYS = ("test_loss", "val_loss", "predict_nfe", "predict_nfe_warm", "train_seconds")
TOLERANCES = (3e-3, 5e-3, 1e-2, 2e-2, 3e-2)
METHODS = ([("none", {}), ("local", {"weight": 1.5})]
           + [("local", {"weight": weight, "samples": 2}) for weight in (1.2, 2.4, 3.0, 3.6)]
           + [("global-error", {"weight": 0.1})])
# the local configurations that met the target on seeds 0-2, with vanilla, on seeds 3-5
REPLICATE = {3e-3: [("none", {}), ("local", {"weight": 1.5}),
                    ("local", {"weight": 1.2, "samples": 2})],
             5e-3: [("none", {}), ("local", {"weight": 3.0, "samples": 2}),
                    ("local", {"weight": 3.6, "samples": 2})]}
# between 1.2 (which kept the fit but not the ratio on seeds 4-5) and 2.4 (the ratio, not the fit),
# with 2 sampled points at 3e-3, on all six seeds
BETWEEN = (3e-3, [("local", {"weight": weight, "samples": 2}) for weight in (1.5, 1.65, 1.8)])
# the one that met the target on all six seeds, with vanilla, on fresh seeds 6-8
CONFIRM = (3e-3, [("none", {}), ("local", {"weight": 1.65, "samples": 2})])
# the paper's method (one sampled point) at 3e-3 above 1.5, which missed on seeds 4 (0.89x) and 5
PAPER = (3e-3, [("local", {"weight": weight}) for weight in (1.8, 1.95, 2.1, 2.4)])
# at the loose tolerances vanilla fits as well as at 1e-2 for half the NFE, and local 1.5 and 1.2
# (2 sampled) lose 1.5-2.2x its loss there: weaker weights, on seeds 0-5 (vanilla ran there)
LOOSE = ((2e-2, 3e-2),
         [("local", {"weight": weight}) for weight in (0.25, 0.5, 0.75, 1.0)]
         + [("local", {"weight": weight, "samples": 2}) for weight in (0.5, 0.8)])
# the configurations of METHODS that seeds 0-2 ran at the loose tolerances, on seeds 3-5
LOOSE_METHODS = [("local", {"weight": 1.5}), ("local", {"weight": 1.2, "samples": 2})]


def config(tolerance: float, seed: int, name: str, options: dict) -> dict:
    return {"task": "spiral-sde", "regularizer": name, "seed": seed, "device": "cpu",
            "rtol": tolerance, "atol": tolerance, **options}


def planned(tolerances: tuple[float, ...], stage: str) -> list[dict]:
    if stage in ("between", "confirm", "paper"):
        tolerance, methods = {"between": BETWEEN, "confirm": CONFIRM, "paper": PAPER}[stage]
        seeds = (6, 7, 8) if stage == "confirm" else range(6)
        return [config(tolerance, seed, name, options) for seed in seeds
                for name, options in methods if tolerance in tolerances]
    if stage == "loose":
        return ([config(tolerance, seed, name, options) for tolerance in LOOSE[0]
                 if tolerance in tolerances for seed in range(6) for name, options in LOOSE[1]]
                + [config(tolerance, seed, name, options) for tolerance in LOOSE[0]
                   if tolerance in tolerances for seed in (3, 4, 5)
                   for name, options in LOOSE_METHODS])
    if stage == "vanilla":  # vanilla at every tolerance on seeds 3-5 too (3e-3, 5e-3 done above)
        return [config(tolerance, seed, "none", {}) for tolerance in tolerances
                for seed in (3, 4, 5)]
    if stage == "replicate":
        return [config(tolerance, seed, name, options)
                for tolerance, methods in REPLICATE.items() if tolerance in tolerances
                for seed in (3, 4, 5) for name, options in methods]
    return [config(tolerance, seed, name, options)
            for tolerance in tolerances for seed in (0, 1, 2) for name, options in METHODS]


def _label(name: str, options: dict) -> str:
    if name == "none":
        return "vanilla"
    samples = options.get("samples", 1)
    return f"{name} {options['weight']:g}" + (f", {samples} sampled" if samples > 1 else "")


def _grouped(rows: list[dict], seeds: tuple[int, ...]) -> dict[str, dict[int, dict]]:
    """The runs of ``seeds``, by their configuration without the seed (JSON, in first-run order),
    then by seed."""
    groups: dict[str, dict[int, dict]] = {}
    for r in rows:
        if r["config"]["seed"] in seeds:
            key = json.dumps({k: v for k, v in r["config"].items() if k != "seed"})
            groups.setdefault(key, {})[r["config"]["seed"]] = r
    return groups


def _table(rows: list[dict], tolerance: float, seeds: tuple[int, ...]) -> tuple[list[str], list]:
    at = [r for r in rows if r["config"]["rtol"] == tolerance and r["config"]["seed"] in seeds]
    vanilla = {r["config"]["seed"]: r for r in at if r["config"]["regularizer"] == "none"}
    if set(vanilla) != set(seeds):
        return [], []
    losses = [vanilla[s]["test_loss"] for s in seeds]
    mean, std = statistics.fmean(losses), statistics.stdev(losses)
    lines = [f"### rtol = atol = {written(tolerance)}, seeds {seeds[0]}-{seeds[-1]}", "",
             f"Vanilla: test moment MSE {' '.join(f'{v:.4f}' for v in losses)} (mean {mean:.4f} "
             f"± {std:.4f}, so the spread ends at {mean + std:.4f}); prediction NFE "
             + " ".join(f"{vanilla[s]['predict_nfe']:g}" for s in seeds) + ".", "",
             "| configuration | test loss per seed | mean | vs vanilla's mean | "
             "NFE ratio per seed, cold / warm | worst cold | target |",
             "|---|---|---:|---:|---|---:|---|"]
    met = []
    for key, runs in _grouped(at, seeds).items():
        options = json.loads(key)
        name = options.pop("regularizer")
        if name == "none" or set(runs) != set(seeds):
            continue
        for k in ("task", "device", "rtol", "atol"):
            options.pop(k)
        ratios = [(runs[s]["predict_nfe"] / vanilla[s]["predict_nfe"],
                   runs[s]["predict_nfe_warm"] / vanilla[s]["predict_nfe_warm"]) for s in seeds]
        loss = statistics.fmean(runs[s]["test_loss"] for s in seeds)
        worst = max(c for c, _ in ratios)
        ok = worst <= 0.75 and loss <= mean + std
        if ok and name == "local":
            met.append((_label(name, options), worst, loss / mean))
        lines.append(f"| {_label(name, options)} | "
                     + " ".join(f"{runs[s]['test_loss']:.4f}" for s in seeds)
                     + f" | {loss:.4f} | {loss / mean:.2f}x | "
                     + " ".join(f"{c:.2f}/{w:.2f}" for c, w in ratios)
                     + f" | {worst:.3f} | {'met' if ok else 'missed'} |")
    return [*lines, ""], met


def report(rows: list[dict]) -> list[str]:
    lines = ["# spiral-sde: the solver tolerance against the target", "",
             "Command: `.venv/bin/python benchmarks/spiral_sde_tolerance.py` (then `--stage "
             "replicate`). milstein, trained and predicted at the tolerance of each table, "
             "20 epochs; ratios to vanilla of the same seed and tolerance, prediction NFE cold "
             "(the solver's own first step) and warm-started; the target: the worst seed's cold "
             "ratio <= 0.75 at a mean test loss <= vanilla's mean + std.", ""]
    # stages between, paper (3e-3) and loose (2e-2, 3e-2) came after seeds 0-2 chose what seeds
    # 3-5 replicate: their configurations have their own six-seed tables only
    later = {json.dumps(config(tolerance, 0, name, options))
             for tolerance, methods in (BETWEEN, PAPER, *((t, LOOSE[1]) for t in LOOSE[0]))
             for name, options in methods}
    staged = [r for r in rows if json.dumps({**r["config"], "seed": 0}) not in later]
    verdicts = []
    for tolerance in TOLERANCES:
        table, met = _table(staged, tolerance, (0, 1, 2))
        lines += table
        verdicts += [f"{label} at {written(tolerance)} (worst seed {worst:.3f}x at {loss:.2f}x "
                     "vanilla's mean loss)" for label, worst, loss in met]
    replicated, fresh = [], False
    for tolerance in REPLICATE:
        table, met = _table(staged, tolerance, (3, 4, 5))
        lines += table
        fresh |= bool(table)
        replicated += [f"{label} at {written(tolerance)} (worst seed {worst:.3f}x at {loss:.2f}x)"
                       for label, worst, loss in met]
    lines += ["Met on seeds 0-2 by: " + ("; ".join(verdicts) if verdicts else "no configuration")
              + ".", ""]
    if fresh:
        lines += ["Met again on fresh seeds 3-5 by: "
                  + ("; ".join(replicated) if replicated else "no configuration") + ".", ""]
    # BETWEEN and CONFIRM are at the same tolerance (3e-3)
    pooled = ((tuple(range(6)), "Six seeds at 3e-3",
               "Every configuration trained on seeds 0-5 at 3e-3 (`--stage between` adds local "
               "1.5, 1.65 and 1.8 with 2 sampled points, `--stage paper` local 1.8-2.4 "
               "with one, the paper's method), against vanilla's spread over the same six "
               "seeds."),
              ((6, 7, 8), "Fresh seeds 6-8 at 3e-3",
               "`--stage confirm`: vanilla and the configuration that met the target on all six "
               "seeds above, on seeds no choice was made on."),
              (tuple(range(9)), "All nine seeds at 3e-3", "Seeds 0-8 together."))
    for seeds, heading, text in pooled:
        table, met = _table(rows, CONFIRM[0], seeds)
        if table:
            lines += [f"## {heading}", "", text, "", *table,
                      f"Met on seeds {seeds[0]}-{seeds[-1]} by: "
                      + ("; ".join(f"{label} (worst seed {worst:.3f}x at {loss:.2f}x vanilla's "
                                   "mean loss)" for label, worst, loss in met)
                         or "no configuration") + ".", ""]
    for tolerance in LOOSE[0]:
        table, met = _table(rows, tolerance, tuple(range(6)))
        if table:
            lines += [f"## Weaker weights at {written(tolerance)}, six seeds", "",
                      "`--stage loose`: local 0.25-1.0 (one sampled point) and 0.5 and 0.8 (2 "
                      "sampled points), with local 1.5 and 1.2 (2 sampled) of the first table "
                      "on seeds 3-5 too, against vanilla's spread over seeds 0-5.", "", *table]
    return [*lines,
            *across(staged, (0, 1, 2), "Across tolerances",
                    "Every configuration above by its mean prediction NFE (cold) over seeds 0-2; "
                    "on the front: no configuration at any tolerance is as cheap and fits "
                    "better."),
            *vanilla_by_tolerance(rows),
            *across(rows, tuple(range(6)), "Across tolerances, six seeds",
                    "Every configuration trained on all of seeds 0-5, at any tolerance, by its "
                    "mean prediction NFE (cold); on the front: no configuration is as cheap and "
                    "fits better.", spread=True),
            "## What it shows", "", VERDICT]


def across(rows: list[dict], seeds: tuple[int, ...], heading: str, text: str, *,
           spread: bool = False) -> list[str]:
    """Every configuration trained on all of ``seeds``, at any tolerance, by its mean prediction
    NFE, and which are on the front of mean NFE against mean test loss (no other is as cheap and
    fits better); with ``spread`` the loss's std over the seeds too."""
    points = []
    for key, runs in _grouped(rows, seeds).items():
        if set(runs) == set(seeds):
            options = json.loads(key)
            name, tolerance = options.pop("regularizer"), options.pop("rtol")
            losses = [r["test_loss"] for r in runs.values()]
            loss = f"{statistics.fmean(losses):.4f}"
            points.append((statistics.fmean(r["predict_nfe"] for r in runs.values()),
                           statistics.fmean(losses),
                           f"{loss} ± {statistics.stdev(losses):.4f}" if spread else loss,
                           f"{_label(name, options)} at {written(tolerance)}"))
    if not points:
        return []
    lines = [f"## {heading}", "", text, "",
             "| configuration | mean predict NFE | "
             + ("test loss, mean ± std" if spread else "mean test loss") + " | on the front |",
             "|---|---:|---:|---|"]
    best = float("inf")
    for nfe, loss, shown, label in sorted(points):
        lines.append(f"| {label} | {nfe:.1f} | {shown} | {'yes' if loss < best else ''} |")
        best = min(best, loss)
    return [*lines, ""]


def vanilla_by_tolerance(rows: list[dict]) -> list[str]:
    """Vanilla's test loss and prediction NFE at each tolerance over seeds 0-5, where all six
    ran (``--stage vanilla``)."""
    seeds = tuple(range(6))
    lines = ["## Vanilla by tolerance, six seeds", "",
             "Does vanilla's fit need the tighter tolerances? Vanilla alone at each tolerance, "
             "seeds 0-5 (`--stage vanilla` adds seeds 3-5 at 1e-2, 2e-2 and 3e-2).", "",
             "| tolerance | test loss per seed | mean ± std | mean predict NFE (cold) |",
             "|---|---|---:|---:|"]
    shown = False
    for tolerance in TOLERANCES:
        runs = {r["config"]["seed"]: r for r in rows if r["config"]["regularizer"] == "none"
                and r["config"]["rtol"] == tolerance and r["config"]["seed"] in seeds}
        if set(runs) != set(seeds):
            continue
        shown = True
        losses = [runs[s]["test_loss"] for s in seeds]
        lines.append(f"| {written(tolerance)} | {' '.join(f'{v:.4f}' for v in losses)} | "
                     f"{statistics.fmean(losses):.4f} ± {statistics.stdev(losses):.4f} | "
                     f"{statistics.fmean(runs[s]['predict_nfe'] for s in seeds):.1f} |")
    return [*lines, ""] if shown else []


VERDICT = """- **The tighter the tolerance, the better local trades against vanilla of the same
  tolerance.** The worst seed's ratio of local 1.2 with 2 sampled points goes from 0.92x (3e-2)
  and 0.89x (2e-2) through 0.85x (the task's 1e-2) and 0.79x (5e-3) to 0.72x at 3e-3, where its
  mean loss is vanilla's (0.99x). `spiral-sde-floor-3e-3.md` says why: vanilla's drift alone needs
  1.6-1.7x the steps it needs at 1e-2, but what its learned diffusion adds beyond them grows 3.9x
  on seed 0, and the regularizers remove that share (on seeds 0-3; on seeds 4-5 local leaves
  it, the floor page's last rows).
- **On seeds 0-2 the target is met at 3e-3** by local 1.2 with 2 sampled points (0.72 / 0.60 /
  0.57x at 0.99x vanilla's mean loss) and by local's default 1.5 (0.73 / 0.56 / 0.58x at 1.22x),
  and at 5e-3 by 3.0 and 3.6 with 2 sampled points (worst seed 0.75x and 0.66x, at 1.38x and
  1.53x, inside a spread that is wide there: vanilla's seed 0 fit at 0.0330). It is missed at
  1e-2, 2e-2 and 3e-2 by every configuration, global error's default included.
- **The two chosen on seeds 0-2 do not replicate on fresh seeds.** At 3e-3 on seeds 3-5 they
  reach 0.58 / 0.82 / 0.81x (1.2, 2 sampled, at 0.95x vanilla's mean loss) and 0.59 / 0.89 /
  0.75x (1.5, at 1.35x). At 5e-3, 3.0 and 3.6 with 2 sampled points keep the ratio on seeds 3-5
  (worst 0.62x and 0.60x) but lose the fit (8.9x and 5.7x vanilla's mean loss; under 3.0 seed 5
  ends at 0.47): seeds 0-2 met there inside a spread widened by vanilla's poor seed 0.
- **Between 1.2 and 2.4 with 2 sampled points, on all six seeds (`--stage between`), the target is
  met at 3e-3 by local 1.65**: worst seed 0.743x (seeds 4 and 5, where 1.2 left the learned
  diffusion's excess) at 1.14x vanilla's six-seed mean loss, inside its spread. 1.5 keeps the
  fit (1.04x) but stops at 0.77x on seeds 4-5; 1.8 reaches 0.71x but its mean loss, 0.02057,
  is just past the spread's end (0.02056). Chosen on those six seeds, 1.65 was then trained on
  **fresh seeds 6-8** beside vanilla (`--stage confirm`): 0.58 / 0.51 / 0.61x at 0.89x vanilla's
  mean loss, met. Over all nine seeds: 0.51-0.74x of vanilla's prediction NFE (426 against
  700 on average) at 1.05x its mean loss. Its training time is 0.71 / 0.36 / 0.75x vanilla's on
  seeds 6-8, which ran beside vanilla in one process (seeds 0-5's vanilla ran in earlier
  sessions under other load, so no time ratio is given there). The margin is thin where
  vanilla's diffusion adds least: on seeds 4-5 the cold ratio is 0.74x, and the warm-started one
  on seed 4 is 0.77x.
- **Across tolerances the tolerance is the stronger knob on this task.** Vanilla's loss is
  0.0134-0.0199 at every tolerance from 3e-3 to 3e-2 over seeds 0-2, and over six seeds
  (`--stage vanilla`) 0.0151 ± 0.0043 at 3e-2 against 0.0168 ± 0.0043 at 1e-2 and 0.0160 ±
  0.0045 at 3e-3, for 154, 299 and 657 mean NFE: the moment MSE does not need the solver's
  accuracy at 1e-2 or tighter. So vanilla at 3e-2 fits as well as every configuration at every
  tolerance and costs less than all of them but regularized models at 2e-2 and 3e-2 that lose
  1.8-13.5x its loss. Local's gain is relative to vanilla at the same tolerance, the paper's
  comparison, and it grows as the user's tolerance tightens; on spiral-sde nothing measured
  beats loosening the tolerance.
- **The paper's method (one sampled point) does not meet the target at 3e-3 over six seeds**
  (`--stage paper`): 1.8 stops at 0.82x on seed 4 (at 1.29x vanilla's mean loss), 1.95 at 0.77x
  (inside the spread, 0.0205); 2.1 reaches 0.70x on every seed but at a mean loss of 0.0209, past
  the spread's end (0.0206); 2.4 reaches 0.75x at 1.87x. Only the 2-sampled-point variant
  (1.65) meets it there.
- **At the loose tolerances local gains little at vanilla's fit** (`--stage loose`, six seeds).
  At 2e-2 the only configuration inside vanilla's spread (0.0169) is 0.5 with 2 sampled points:
  0.86-0.94x of vanilla's NFE (178 against 197.5) at 0.97x its loss; every other weight loses
  1.2-1.6x the loss for a worst seed of 0.88-0.96x. At 3e-2 (spread end 0.0194) 0.25 keeps the
  fit (0.96x) at 0.96-1.04x, and 0.5 with 2 sampled points 0.85-1.00x at 1.19x. The floor
  pages measured the steps vanilla's learned diffusion adds beyond its drift shrinking as the
  tolerance loosens (31.8-61.5 at 3e-3, 8.2-14.5 at 1e-2, seeds 0-2), and those are what the
  penalty removes; at 2e-2 and 3e-2 that split was not measured.
- **Over six seeds at every tolerance, one front** (the last table): vanilla at 3e-2 (154 NFE,
  0.0151 ± 0.0043) is the cheapest model at its fit. Local 0.25 there costs the same (154.2 NFE)
  at 0.0145; every cheaper model is local at 3e-2 losing 1.2-2.0x its loss (local 0.5 with 2
  sampled points: 145 NFE at 0.0179, inside vanilla's 3e-2 spread).
- The task's defaults stay (milstein at 1e-2, local 1.5 with the paper's one sampled point). The
  target is met only at 3e-3 and only by the 2-sampled-point variant, and issue 14 keeps the
  paper's method as the default `local`; 3e-3 also costs vanilla 2.2x its NFE at 1e-2 for no
  better fit. At 1e-2 the target is bounded at 0.77x on seed 0 (`spiral-sde-floor.md`), and at
  2e-2 and 3e-2, which vanilla's fit allows, the best local inside vanilla's spread reaches only
  0.86-0.94x (2e-2) and 0.85-1.00x (3e-2) per seed, so a looser default would serve vanilla and
  not the method. A user who needs only the moment fit
  should loosen the tolerance (vanilla at 3e-2); one who needs the solve at 3e-3 gets 0.51-0.74x
  of vanilla's NFE from local 1.65 with 2 sampled points (nine seeds)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only rewrite the table")
    parser.add_argument("--tolerance", type=float, action="append",
                        help="train only this tolerance (repeatable), appended")
    parser.add_argument("--stage",
                        choices=("tolerances", "replicate", "between", "confirm", "vanilla",
                                 "loose", "paper"),
                        default="tolerances",
                        help="the tolerances on seeds 0-2, the configurations that met the "
                             "target at 3e-3 and 5e-3 on seeds 3-5, local 1.5, 1.65 and 1.8 with "
                             "2 sampled points at 3e-3 on seeds 0-5, or the one of them that met "
                             "it there on seeds 6-8, vanilla at every tolerance on seeds 3-5, "
                             "weaker local weights at 2e-2 and 3e-2 on seeds 0-5, or local with "
                             "one sampled point at 1.8-2.4 at 3e-3 on seeds 0-5 (appended)")
    args = parser.parse_args()
    if args.tolerance and any(t not in TOLERANCES for t in args.tolerance):
        parser.error(f"--tolerance: one of {', '.join(written(t) for t in TOLERANCES)}")
    if not args.report:
        configs = planned(tuple(args.tolerance or TOLERANCES), args.stage)
        if RUNS.exists():  # a rerun trains only what is missing
            done = [json.loads(line)["config"] for line in RUNS.read_text().splitlines()]
            configs = [c for c in configs if c not in done]
        train_rows(configs, RUNS, KEYS, append=True)
    rows = [json.loads(line) for line in RUNS.read_text().splitlines()]
    text = "\n".join(report(rows)) + "\n"
    (RESULTS / "spiral-sde-tolerance.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
