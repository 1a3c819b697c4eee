"""spiral-sde: does the solver tolerance move the target, and where is it met?

    .venv/bin/python benchmarks/spiral_sde_tolerance.py                   # train (about 55 minutes)
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --tolerance 5e-3  # one tolerance, appended
    .venv/bin/python benchmarks/spiral_sde_tolerance.py --stage replicate # seeds 3-5, appended
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


def config(tolerance: float, seed: int, name: str, options: dict) -> dict:
    return {"task": "spiral-sde", "regularizer": name, "seed": seed, "device": "cpu",
            "rtol": tolerance, "atol": tolerance, **options}


def planned(tolerances: tuple[float, ...], stage: str) -> list[dict]:
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
    verdicts = []
    for tolerance in TOLERANCES:
        table, met = _table(rows, tolerance, (0, 1, 2))
        lines += table
        verdicts += [f"{label} at {written(tolerance)} (worst seed {worst:.3f}x at {loss:.2f}x "
                     "vanilla's mean loss)" for label, worst, loss in met]
    replicated, fresh = [], False
    for tolerance in REPLICATE:
        table, met = _table(rows, tolerance, (3, 4, 5))
        lines += table
        fresh |= bool(table)
        replicated += [f"{label} at {written(tolerance)} (worst seed {worst:.3f}x at {loss:.2f}x)"
                       for label, worst, loss in met]
    lines += ["Met on seeds 0-2 by: " + ("; ".join(verdicts) if verdicts else "no configuration")
              + ".", ""]
    if fresh:
        lines += ["Met again on fresh seeds 3-5 by: "
                  + ("; ".join(replicated) if replicated else "no configuration") + ".", ""]
    return [*lines, *across(rows), "## What it shows", "", VERDICT]


def across(rows: list[dict]) -> list[str]:
    """Every configuration of seeds 0-2 at every tolerance by mean prediction NFE, and which are
    on the front of mean NFE against mean test loss (no other is cheaper and fits better)."""
    points = []
    for key, runs in _grouped(rows, (0, 1, 2)).items():
        if len(runs) == 3:
            options = json.loads(key)
            name, tolerance = options.pop("regularizer"), options.pop("rtol")
            points.append((statistics.fmean(r["predict_nfe"] for r in runs.values()),
                           statistics.fmean(r["test_loss"] for r in runs.values()),
                           f"{_label(name, options)} at {written(tolerance)}"))
    lines = ["## Across tolerances", "",
             "Every configuration above by its mean prediction NFE (cold) over seeds 0-2; on the "
             "front: no configuration at any tolerance is as cheap and fits better.", "",
             "| configuration | mean predict NFE | mean test loss | on the front |",
             "|---|---:|---:|---|"]
    best = float("inf")
    for nfe, loss, label in sorted(points):
        lines.append(f"| {label} | {nfe:.1f} | {loss:.4f} | {'yes' if loss < best else ''} |")
        best = min(best, loss)
    return [*lines, ""]


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
- **It does not replicate on fresh seeds.** At 3e-3 on seeds 3-5 the same two configurations reach
  0.58 / 0.82 / 0.81x (1.2, 2 sampled, at 0.95x vanilla's mean loss) and 0.59 / 0.89 / 0.75x (1.5,
  at 1.35x): over six seeds local 1.2 with 2 sampled points is at 0.57-0.82x of vanilla at 3e-3.
  At 5e-3, 3.0 and 3.6 with 2 sampled points keep the ratio on seeds 3-5 (worst 0.62x and 0.60x)
  but lose the fit (8.9x and 5.7x vanilla's mean loss; under 3.0 seed 5 ends at 0.47): seeds 0-2
  met there inside a spread widened by vanilla's poor seed 0. The target, as a worst case over
  seeds, is met on one set of three seeds and not on the next, so it is not met reliably at any
  tolerance measured here.
- **Across tolerances the tolerance is the stronger knob on this task.** Vanilla's loss is
  0.0134-0.0199 at every tolerance from 3e-3 to 3e-2 (within its seed spread: the moment MSE does
  not need the solver's accuracy at 1e-2 or tighter), so vanilla at 3e-2 (151.5 NFE, mean loss
  0.0134) fits better than every other configuration at every tolerance and costs less than all of
  them but regularized models at 2e-2 and 3e-2 that lose 1.8-13.5x its loss. Local's gain is
  relative to vanilla at the same tolerance, the paper's comparison, and it grows as the user's
  tolerance tightens; on spiral-sde nothing measured beats loosening the tolerance.
- The task's defaults stay (milstein at 1e-2, local 1.5): every study of the project is at 1e-2,
  and no tolerance here meets the target reliably."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only rewrite the table")
    parser.add_argument("--tolerance", type=float, action="append",
                        help="train only this tolerance (repeatable), appended")
    parser.add_argument("--stage", choices=("tolerances", "replicate"), default="tolerances",
                        help="the tolerances on seeds 0-2, or the configurations that met the "
                             "target at 3e-3 and 5e-3 on seeds 3-5 (appended)")
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
