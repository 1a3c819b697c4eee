"""Which sampler finds the best front for the trials and the training time it spends.

    .venv/bin/python benchmarks/samplers.py [--build] [--trials 30] [--seeds 3]

Every sampler the experiments offer (``tpe``: multivariate multi-objective TPE, the shipped
default; ``gp``: Optuna's GPSampler; ``nsga2``; ``random``) runs the same study -- the local
regularizer on digits, searching its weight, sampling, rtol and solver -- with the project's own
worker, several times with different study seeds. Trials are not trained again for every study:
they replay a recorded table of trained configurations (``benchmarks/_table.py``: a grid of the
same space, each grid point trained once; a suggested configuration is snapped to the nearest
grid point), so the comparison is of the samplers' choices on a discretised space. Reported per
sampler: the validation hypervolume after k trials against one fixed reference point (vanilla's
accuracy 10 % worse, 1.5 times its warm-started prediction NFE), mean and spread over study
seeds, and the hypervolume per training hour of the trials it chose. Results:
``benchmarks/results/samplers.md`` and ``samplers.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
from pathlib import Path

import tomllib
from _table import EXPERIMENT, Replay, build
from optuna.trial import TrialState

from study.report.pareto import hypervolume_history, to_losses
from study.search import create, experiment, open_storage
from study.search.storage import experiment_studies
from study.search.worker import Worker

RESULTS = Path(__file__).parent / "results"
TABLE = RESULTS / "table-digits-local.json"
SAMPLERS = ("tpe", "gp", "nsga2", "random")


def reference(table: dict) -> tuple[float, float]:
    """(quality, cost) from vanilla's recorded run: accuracy 10 % worse, 1.5 x its NFE."""
    vanilla = table["vanilla"]
    return 0.9 * vanilla["val_accuracy"], 1.5 * vanilla["predict_nfe_warm"]


def run_study(table: dict, toml: str, *, name: str, train=None) -> list:
    """The trials (in order) of one study of ``toml`` run by one worker replaying ``table``
    (or, given ``train``, training with it: ``study.train.train`` for real runs)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = str(Path(tmp) / "study.journal")
        exp = experiment.Experiment.from_dict(tomllib.loads(toml))
        create(url, open_storage(url, create=True), name, exp)
        result = Worker(url, name, device="cpu", poll=0.01, train=train or Replay(table),
                        out=io.StringIO()).run()
        if result.exit_code != 0:
            raise RuntimeError(result.message)
        return experiment_studies(open_storage(url), name)["local"].get_trials()


def curve(trials: list, ref: tuple[float, float]) -> tuple[list[float], list[float]]:
    """Hypervolume and cumulative training seconds after each COMPLETE trial."""
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    ref_losses = to_losses(ref, (True, False))
    volumes = hypervolume_history([to_losses(t.values, (True, False)) for t in complete],
                                  ref_losses)
    seconds, total = [], 0.0
    for t in complete:
        total += t.user_attrs["train_seconds"]
        seconds.append(total)
    return volumes, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="train the table's missing runs")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    table = build(TABLE) if args.build or not TABLE.exists() else json.loads(TABLE.read_text())
    ref = reference(table)
    box = (1 - ref[0]) * ref[1]
    checkpoints = [k for k in (5, 10, 15, 20, 25, 30, 40, 50) if k <= args.trials]
    results: dict[str, list[dict]] = {}
    for sampler in SAMPLERS:
        for seed in range(args.seeds):
            toml = f'trials = {args.trials}\nsampler = "{sampler}"\nseed = {seed}\n' + EXPERIMENT
            volumes, seconds = curve(run_study(table, toml, name=f"{sampler}-{seed}"), ref)
            results.setdefault(sampler, []).append({"hypervolume": volumes, "seconds": seconds})
            print(f"{sampler} seed {seed}: normalised hypervolume {volumes[-1] / box:.4f} after "
                  f"{len(volumes)} trials, {seconds[-1]:.0f} s of training", flush=True)
    (RESULTS / "samplers.json").write_text(json.dumps(
        {"reference": ref, "box": box, "trials": args.trials, "results": results}))
    lines = [
        "# Samplers on digits (local regularizer): hypervolume per trial and per training hour",
        "",
        f"Command: `.venv/bin/python benchmarks/samplers.py --trials {args.trials} --seeds "
        f"{args.seeds}`. Each study replays `benchmarks/results/{TABLE.name}` "
        f"({len(table['runs'])} trained grid configurations, {table['base']['epochs']} epochs "
        "each; suggestions snapped to the nearest grid point), so the numbers compare the "
        "samplers' choices on a discretised space, not fresh training runs. Reference point: "
        f"val_accuracy = {ref[0]:.4g}, predict_nfe_warm = {ref[1]:.4g} (vanilla's accuracy 10 % "
        "worse, 1.5 x its NFE); hypervolumes normalised by the reference box. Mean ± standard "
        f"deviation over {args.seeds} study seeds.",
        "",
        "| sampler | " + " | ".join(f"after {k} trials" for k in checkpoints)
        + " | training hours | hypervolume per training hour |",
        "|---|" + "---:|" * (len(checkpoints) + 2),
    ]
    means = {}
    for sampler, runs in results.items():
        cells = []
        for k in checkpoints:
            values = [r["hypervolume"][k - 1] / box for r in runs]
            cells.append(_mean_std(values))
        hours = [r["seconds"][-1] / 3600 for r in runs]
        per_hour = [r["hypervolume"][-1] / box / h for r, h in zip(runs, hours)]
        means[sampler] = statistics.fmean(r["hypervolume"][-1] for r in runs)
        lines.append(f"| {sampler} | " + " | ".join(cells)
                     + f" | {_mean_std(hours)} | {_mean_std(per_hour)} |")
    winner = max(means, key=means.get)
    lines += ["", f"Highest mean hypervolume after {args.trials} trials: **{winner}**."]
    (RESULTS / "samplers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4g} ± {spread:.2g}"


if __name__ == "__main__":
    main()
