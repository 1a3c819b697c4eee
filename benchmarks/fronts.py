"""The project's answer for one shipped experiment: its full budget with replicates, exported.

    .venv/bin/python benchmarks/fronts.py digits [--workers 2] [--formats csv,md,png]

Runs ``study launch --experiment EXPERIMENT --name EXPERIMENT --workers N`` on its own journal
file (``runs/fronts/EXPERIMENT.journal``; run again, it goes on where it stopped), then
``study export`` into ``benchmarks/results/fronts-EXPERIMENT/`` (replacing what is there), and
prints the summary. The export re-times the predictions it compares on this machine: run it
alone (a timing benchmark beside other work measures the other work), and read the verdicts from
NFE, which is deterministic; the summary states the load while it timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from study.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="a shipped experiment, e.g. digits")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--formats", default="csv,md,png")
    args = parser.parse_args(argv)
    storage = ROOT / "runs" / "fronts" / f"{args.experiment}.journal"
    out = ROOT / "benchmarks" / "results" / f"fronts-{args.experiment}"
    common = ["--name", args.experiment, "--storage", str(storage)]
    started = time.monotonic()
    code = main(["launch", *common, "--experiment", args.experiment, "--workers",
                 str(args.workers), "--device", "cpu"])
    if code != 0:
        return code
    print(f"study and replicates: {time.monotonic() - started:.0f} s", file=sys.stderr)
    code = main(["export", *common, "--out", str(out), "--format", args.formats, "--force",
                 "--device", "cpu", "--no-publish"])
    if code == 0:
        print((out / f"{args.experiment}-summary.md").read_text())
    return code


if __name__ == "__main__":
    sys.exit(run())
