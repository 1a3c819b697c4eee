"""``study export``: export an experiment's Pareto fronts, hypervolumes and local-vs-baseline table.

Write the overlaid Pareto fronts of every regularizer (validation quality vs prediction NFE),
hypervolumes with one stated reference point, prediction NFE vs training time, every trial as CSV
and, re-measured on the test set, the best local trial against each baseline as markdown. The
figures and the summary are also saved into the experiment's studies for `study dashboard`.
"""

from __future__ import annotations

import argparse
import sys

from study.cli import _search
from study.cli._command import add_command
from study.cli.errors import EXIT_STORAGE, UserError

FORMATS = "html,png,svg,csv,md"  # study.report.FORMATS, without importing plotly for --help


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "export", __doc__)
    _search.add_name(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    _search.add_storage(parser)
    parser.add_argument(
        "--format",
        default=FORMATS,
        metavar="LIST",
        help=f"comma-separated formats among {FORMATS} (default: all); png/svg need Chromium",
    )
    parser.add_argument(
        "--cdn",
        action="store_true",
        help="load plotly.js from its CDN: a small HTML file that needs the internet "
        "(default: embedded, works offline)",
    )
    parser.add_argument(
        "--reference",
        metavar="QUALITY,NFE",
        help="hypervolume reference point (default: the worst quality and NFE over all "
        "regularizers' trials, pushed out by 10%% of their range)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="device of the test-set re-evaluation, the same for every trial: auto, cpu, cuda, "
        "cuda:N (default: auto, CUDA when available)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        metavar="N",
        help="evaluate every front trial N times, in turn, and report medians (default: 3)",
    )
    parser.add_argument(
        "--no-publish",
        dest="publish",
        action="store_false",
        help="do not save the figures and summary into the studies (read-only storage)",
    )
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from study import report  # plotly, optuna-dashboard and the storage layer load only here

    if args.rounds < 1:
        raise UserError(f"--rounds {args.rounds}: expected at least 1")
    try:
        written = report.export(
            args.storage,
            args.name,
            args.out,
            formats=args.format,
            cdn=args.cdn,
            reference=_reference(args.reference),
            device=args.device,
            rounds=args.rounds,
            publish=args.publish,
            log=lambda message: print(message, file=sys.stderr),
        )
    except report.ImagesNotWritten as exc:
        _list(exc.written)
        raise UserError(str(exc)) from None
    except report.ReportError as exc:
        raise UserError(str(exc), EXIT_STORAGE if exc.storage else None) from None
    _list(written)
    return 0


def _reference(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        quality, nfe = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--reference {text!r}: expected two numbers QUALITY,NFE") from None
    return (quality, nfe)


def _list(paths) -> None:
    for path in paths:
        print(path)
