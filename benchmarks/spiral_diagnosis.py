"""Why the local regularizer trades worse on spirals: where the steps go, and how well one sampled
step's penalty (and its gradient) stands for the global sum over steps.

Trains (or reuses, from ``--workdir``) a vanilla and a local model on ``spiral`` (seed 0, the
task's defaults), then, on the first ``--batches`` training batches of each model's latent ODE
(its encoder's ``z0`` fixed), at the task's tolerance:

1. **Steps**: the accepted steps of the forward solve by time bin over ``[t0, t1]``: how many,
   their mean size, the share of the global-error penalty ``sum_j E_j h_j`` they carry, and the
   share of the probability the two samplers put there (unbiased: the time the bin spans; biased:
   its share of the steps).
2. **Penalty and gradient**: for each variant of the local penalty (sampling unbiased/biased,
   ``samples`` K = 1, 2, 4, 8, ``norm`` batch/per-sample), ``--draws`` independent draws of the
   penalty and of its gradient w.r.t. the vector field's parameters, compared with
   - ``global``: the global-error penalty ``sum_j E_j |h_j|``, differentiated through the whole
     solve (what the global-error baseline trains with);
   - ``global, detached``: the same sum with every step re-taken from its detached start (what
     the biased sampler estimates, times the number of steps: the past is cut as in the local
     method, only the sampling differs).
   Reported: the mean cosine similarity of one draw's gradient with each reference, the cosine of
   the draws' mean gradient (the estimator's expectation) with each, the relative variance
   ``E||g - mean g||^2 / ||mean g||^2``, and the penalty's mean and coefficient of variation.
3. ``--train`` (optional): the variants trained side by side with vanilla and the default local
   method over ``--seeds`` seeds (test loss, prediction NFE, training time), ratios to vanilla.

    PYTHONPATH=. .venv/bin/python benchmarks/spiral_diagnosis.py --workdir /tmp/spiral-diag
    PYTHONPATH=. .venv/bin/python benchmarks/spiral_diagnosis.py --train --seeds 3

Writes ``benchmarks/results/spiral-diagnosis.json`` and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
from _seeds import label, summarize

from study import regularizers, tasks
from study.nde import solve_ode
from study.nde.hooks import Penalty, SolveHooks
from study.regularizers.local import per_sample_rms
from study.tasks.base import SolverSettings
from study.train import TrainConfig, evaluate, train

SAMPLES = (1, 2, 4, 8)
NORMS = ("batch", "per-sample")
SAMPLINGS = ("unbiased", "biased")
VARIANTS = [  # trained side by side with --train
    ("none", {}),
    ("local", {}),
    ("local", {"samples": 4}),
    ("local", {"norm": "per-sample"}),
]


class EveryStep(SolveHooks):
    """Every accepted step re-taken from its detached start (the local method's one-step penalty
    at every step): ``sum_j R_j``; ``terms`` keeps each ``R_j``."""

    def __init__(self, norm: str = "batch"):
        self.norm = norm
        self.terms: list[torch.Tensor] = []

    def selector(self, t0, t1):
        count = [0]

        def every(start, end):
            count[0] += 1
            return [count[0] - 1]
        return every

    def penalty(self, ctx):
        self.terms = []
        for slot in sorted(ctx.selected):
            step = ctx.selected[slot]
            t0, h = step.t0.detach(), (step.t1 - step.t0).detach()
            with torch.enable_grad():
                retaken = ctx.retake(t0, step.y0.detach(), h)
                size = ctx.error_ratio(retaken, None if self.norm == "batch" else per_sample_rms)
                self.terms.append(size * h.to(size.dtype))
        with torch.enable_grad():
            return Penalty(torch.stack(self.terms).sum())


def _model(workdir: Path, name: str, epochs: int | None, seed: int = 0):
    """The trained spiral model (trained now unless its checkpoint is in ``workdir``)."""
    path = workdir / f"spiral-{name}-{seed}.pt"
    config = {"task": "spiral", "regularizer": name, "seed": seed, "device": "cpu"}
    if epochs:
        config["epochs"] = epochs
    if not path.exists():
        started = time.time()
        train(config, checkpoint=path)
        print(f"trained {name} in {time.time() - started:.0f}s", file=sys.stderr, flush=True)
    saved = torch.load(path, map_location="cpu", weights_only=True)
    cfg = TrainConfig.from_dict(saved["config"])
    task = tasks.get("spiral", seed=seed)
    solver = SolverSettings(method=cfg.method, rtol=cfg.rtol, atol=cfg.atol)
    model = task.build_model(solver)
    model.load_state_dict(saved["model"])
    model.train()
    return task, model, cfg, saved["metrics"]


def _flat_grad(value: torch.Tensor, params: list) -> torch.Tensor:
    grads = torch.autograd.grad(value, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, params)])


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-300))


def steps_table(field, z0s, times, tol, bins: int) -> dict:
    t0, t1 = float(times[0]), float(times[-1])
    width = (t1 - t0) / bins
    rows = [{"steps": 0, "sizes": [], "global": 0.0} for _ in range(bins)]
    total_global, total_steps = 0.0, 0
    for z0 in z0s:
        hooks = EveryStep()
        with torch.no_grad():
            _, info = solve_ode(field, z0, times, rtol=tol, atol=tol, regularizer=hooks)
        for start, size, term in zip(info.step_starts, info.step_sizes, hooks.terms):
            row = rows[min(int((start - t0) / width), bins - 1)]
            row["steps"] += 1
            row["sizes"].append(size)
            row["global"] += float(term.detach())
        total_global += sum(float(x.detach()) for x in hooks.terms)
        total_steps += len(info.step_starts)
    out = []
    for i, row in enumerate(rows):
        out.append({
            "bin": [t0 + i * width, t0 + (i + 1) * width],
            "steps": row["steps"] / len(z0s),
            "mean_h": statistics.fmean(row["sizes"]) if row["sizes"] else float("nan"),
            "global_share": row["global"] / total_global,
            "unbiased_share": 1.0 / bins,
            "biased_share": row["steps"] / total_steps,
        })
    return {"bins": out, "steps_per_solve": total_steps / len(z0s),
            "global_per_solve": total_global / len(z0s)}


def gradient_table(field, z0s, times, tol, draws: int, seed: int) -> list[dict]:
    params = list(field.parameters())
    refs = []
    for z0 in z0s:
        _, info = solve_ode(field, z0, times, rtol=tol, atol=tol,
                            regularizer=regularizers.make("global-error"))
        glob = _flat_grad(info.reg, params)
        hooks = EveryStep()
        _, info_d = solve_ode(field, z0, times, rtol=tol, atol=tol, regularizer=hooks)
        refs.append({"global": glob, "detached": _flat_grad(info_d.reg, params),
                     "steps": info.steps, "global_value": float(info.reg.detach())})
    rows = []
    for sampling in SAMPLINGS:
        for norm in NORMS:
            for k in SAMPLES:
                reg = regularizers.make("local", sampling=sampling, samples=k, norm=norm)
                cos_g, cos_d, mean_cos_g, mean_cos_d, rel_var, values = [], [], [], [], [], []
                for b, z0 in enumerate(z0s):
                    torch.manual_seed(seed + 1000 * b + k)
                    grads, vals = [], []
                    for _ in range(draws):
                        with torch.no_grad():  # the past is detached: no graph needed
                            _, info = solve_ode(field, z0, times, rtol=tol, atol=tol,
                                                regularizer=reg)
                        grads.append(_flat_grad(info.reg, params))
                        vals.append(float(info.reg.detach()))
                    g = torch.stack(grads)
                    mean = g.mean(0)
                    ref = refs[b]
                    cos_g.append(statistics.fmean(_cos(x, ref["global"]) for x in g))
                    cos_d.append(statistics.fmean(_cos(x, ref["detached"]) for x in g))
                    mean_cos_g.append(_cos(mean, ref["global"]))
                    mean_cos_d.append(_cos(mean, ref["detached"]))
                    rel_var.append(float((g - mean).pow(2).sum(1).mean() / mean.pow(2).sum()))
                    # The value against the global sum per step (what biased sampling estimates).
                    values.append((statistics.fmean(vals),
                                   statistics.stdev(vals) / statistics.fmean(vals),
                                   ref["global_value"] / ref["steps"]))
                rows.append({
                    "sampling": sampling, "norm": norm, "samples": k,
                    "cos_draw_global": statistics.fmean(cos_g),
                    "cos_draw_detached": statistics.fmean(cos_d),
                    "cos_mean_global": statistics.fmean(mean_cos_g),
                    "cos_mean_detached": statistics.fmean(mean_cos_d),
                    "relative_variance": statistics.fmean(rel_var),
                    "value_mean": statistics.fmean(v[0] for v in values),
                    "value_cv": statistics.fmean(v[1] for v in values),
                    "global_per_step": statistics.fmean(v[2] for v in values),
                })
                row = rows[-1]
                print(f"  {sampling} {norm} K={k}: cos(draw, global) {row['cos_draw_global']:.3f}"
                      f" cos(mean, global) {row['cos_mean_global']:.3f}"
                      f" rel.var {row['relative_variance']:.3g}", file=sys.stderr, flush=True)
    return rows


def train_variants(seeds: int, workdir: Path, epochs: int | None, variants: list) -> dict:
    runs = []
    started = time.time()
    for seed in range(seeds):
        shift = seed % len(variants)
        for name, options in variants[shift:] + variants[:shift]:
            config = {"task": "spiral", "regularizer": name, **options, "seed": seed,
                      "device": "cpu", **({"epochs": epochs} if epochs else {})}
            path = workdir / f"variant-{label(name, options)}-{seed}.pt".replace(" ", "")
            metrics = train(config, checkpoint=path)
            metrics = {k: v for k, v in metrics.items() if k != "curves"}
            metrics.update(evaluate(None, path, split="test"))
            runs.append({"case": label(name, {k: f"{k}={v}" for k, v in options.items()}),
                         "seed": seed, "config": config, "metrics": metrics})
            print(f"[{time.time() - started:6.0f}s] seed={seed} {runs[-1]['case']}: "
                  f"test_loss={metrics['test_loss']:.4g} nfe={metrics['predict_nfe']:.1f}",
                  file=sys.stderr, flush=True)
    keys = ["test_loss", "predict_nfe", "predict_nfe_warm", "train_seconds"]
    return {"runs": runs, "table": summarize(runs, keys)}


def markdown(result: dict) -> str:
    out = []
    for name, part in result["models"].items():
        steps = part["steps"]
        out += [f"### Steps of the {name} model ({steps['steps_per_solve']:.1f} accepted steps "
                f"per solve, global-error penalty {steps['global_per_solve']:.4g} per solve)", "",
                "| t bin | steps/solve | mean h | share of global penalty | unbiased sampling "
                "| biased sampling |", "|---|---|---|---|---|---|"]
        for row in steps["bins"]:
            out.append(f"| {row['bin'][0]:.1f}-{row['bin'][1]:.1f} | {row['steps']:.2f} | "
                       f"{row['mean_h']:.3g} | {row['global_share']:.3f} | "
                       f"{row['unbiased_share']:.3f} | {row['biased_share']:.3f} |")
        out += ["", f"### Sampled penalty vs the global sum, {name} model", "",
                "| sampling | norm | K | cos(draw, global) | cos(draw, global detached) | "
                "cos(E draw, global) | cos(E draw, global detached) | rel. variance | "
                "penalty mean | penalty CV | global per step |", "|" + "---|" * 11]
        for r in part["gradients"]:
            out.append(
                f"| {r['sampling']} | {r['norm']} | {r['samples']} | {r['cos_draw_global']:.3f} | "
                f"{r['cos_draw_detached']:.3f} | {r['cos_mean_global']:.3f} | "
                f"{r['cos_mean_detached']:.3f} | {r['relative_variance']:.3g} | "
                f"{r['value_mean']:.4g} | {r['value_cv']:.3g} | {r['global_per_step']:.4g} |")
        out.append("")
    if "training" in result:
        table = result["training"]["table"]
        out += ["### Trained side by side (mean ± std over seeds, ratio of means to vanilla)", "",
                "| method | test loss | predict NFE | predict NFE (warm) | train s |",
                "|---|---|---|---|---|"]
        for case, row in table.items():
            cells = [case] + [f"{row[k][0]:.4g} ± {row[k][1]:.2g} ({row['ratio'][k]:.2f}x)"
                              if "none" in table else f"{row[k][0]:.4g} ± {row[k][1]:.2g}"
                              for k in ("test_loss", "predict_nfe", "predict_nfe_warm",
                                        "train_seconds")]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/spiral-diagnosis"))
    parser.add_argument("--batches", type=int, default=2, help="training batches analysed")
    parser.add_argument("--draws", type=int, default=64, help="penalty draws per variant")
    parser.add_argument("--bins", type=int, default=6)
    parser.add_argument("--train", action="store_true", help="also train the variants")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants-only", action="store_true",
                        help="train only the local variants, not vanilla and the default local "
                        "method (training is deterministic for a seed: their loss and NFE can be "
                        "read from an earlier run, e.g. compare-spiral.json)")
    parser.add_argument("--skip-analysis", action="store_true")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the task's; for a quick check)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/spiral-diagnosis"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.workdir.mkdir(parents=True, exist_ok=True)
    result: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "models": {}}
    if not args.skip_analysis:
        for name in ("none", "local"):
            task, model, cfg, metrics = _model(args.workdir, name, args.epochs)
            field, times = model.block.field, model.times
            z0s = []  # the first training batches, in order
            for i, (inputs, _) in enumerate(task.batches("train", task.defaults.batch_size)):
                if i >= args.batches:
                    break
                with torch.no_grad():
                    z0s.append(model.encode(*inputs).detach())
            tol = cfg.rtol or task.solver_defaults["rtol"]
            print(f"{name}: analysing {len(z0s)} batches at tol {tol:g}", file=sys.stderr)
            result["models"][name] = {
                "metrics": {k: metrics[k] for k in ("test_loss", "predict_nfe")
                            if k in metrics},
                "steps": steps_table(field, z0s, times, tol, args.bins),
                "gradients": gradient_table(field, z0s, times, tol, args.draws, seed=0),
            }
    if args.train:
        variants = VARIANTS[2:] if args.variants_only else VARIANTS
        result["training"] = train_variants(args.seeds, args.workdir, args.epochs, variants)
    text = markdown(result)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=_plain))
    return 0


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
