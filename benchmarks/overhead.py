"""Wall-time overhead of one training step per regularizer, relative to vanilla, side by side.

One small neural ODE (a digits-sized classifier block: batch 128, state 32, tanh MLP field with
time input) is trained by all regularizers from the same parameters. Each repeat runs one
optimisation step (forward solve, penalty, backward, update of a throwaway copy) of every
regularizer in turn, round-robin, so machine noise hits all alike; the table gives medians and
ratios to vanilla, and the forward/regularization NFE of the step.

    .venv/bin/python benchmarks/overhead.py [--repeats 30] [--rtol 1e-6] [--adjoint]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from study import regularizers
from study.nde import solve_ode

CASES = [
    ("none", {}),
    ("local", {"sampling": "unbiased"}),
    ("local", {"sampling": "biased"}),
    ("global-error", {}),
    ("global-stiffness", {}),
    ("taynode", {"order": 2}),
    ("rnode", {}),
    ("steer", {"b": 0.5}),
]


class Field(nn.Module):
    def __init__(self, dim: int = 32, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 1, hidden), nn.Tanh(), nn.Linear(hidden, dim))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([y, t.expand(y.shape[0], 1)], dim=1))


def label(name: str, options: dict) -> str:
    return name + ("" if not options else " " + ",".join(f"{k}={v}" for k, v in options.items()))


def one_step(field, y0, target, name, options, args) -> tuple[float, int, int]:
    model = copy.deepcopy(field)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    reg = regularizers.make(name, **options)
    t = torch.tensor([0.0, 1.0])
    start = time.perf_counter()
    ys, info = solve_ode(model, y0, t, rtol=args.rtol, atol=args.rtol, adjoint=args.adjoint,
                         regularizer=reg)
    loss = (ys[-1] - target).pow(2).mean() + 0.1 * info.reg
    loss.backward()
    opt.step()
    return time.perf_counter() - start, info.nfe, info.reg_nfe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--adjoint", action="store_true")
    parser.add_argument("--scale", type=float, default=3.0,
                        help="weight scale of the field; 3.0 gives about the forward NFE (~50) of "
                        "a trained vanilla digits model at 1e-6")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/overhead.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    field = Field()
    with torch.no_grad():  # non-trivial dynamics: a handful of dopri5 steps at 1e-6
        for p in field.parameters():
            p.mul_(args.scale)
    y0 = torch.randn(128, 32)
    target = torch.randn(128, 32)
    cases = [c for c in CASES if not (args.adjoint and c[0].startswith("global"))]
    times = {label(*c): [] for c in cases}
    nfe = {}
    for c in cases:  # warm-up
        one_step(field, y0, target, *c, args)
    for r in range(args.repeats):
        torch.manual_seed(r)  # the same samples (t_s, STEER's T, noise) for every case per repeat
        for c in cases:
            seconds, fwd, reg_nfe = one_step(field, y0, target, *c, args)
            times[label(*c)].append(seconds)
            nfe[label(*c)] = (fwd, reg_nfe)
    base = statistics.median(times["none"])
    rows = []
    print(f"one training step, median of {args.repeats}, rtol=atol={args.rtol}, "
          f"adjoint={args.adjoint}, torch threads=1")
    print("| regularizer | median ms | ratio to vanilla | forward NFE | reg NFE |")
    print("|---|---|---|---|---|")
    for key, values in times.items():
        med = statistics.median(values)
        rows.append({"regularizer": key, "median_seconds": med, "ratio": med / base,
                     "nfe": nfe[key][0], "reg_nfe": nfe[key][1]})
        print(f"| {key} | {1e3 * med:.1f} | {med / base:.2f}x | {nfe[key][0]} | {nfe[key][1]} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)}, "rows": rows},
                                   indent=2))


if __name__ == "__main__":
    main()
