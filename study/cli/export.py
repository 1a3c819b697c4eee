"""``study export``: export an experiment's fronts, hypervolumes and verdicts on local vs each
baseline.

Write every regularizer's validation front and its test front (front configurations' means over
seeds, with their spread), hypervolumes against one fixed reference point with 90 % bootstrap
intervals, a verdict on local vs each baseline (hypervolume, and quality at matched cost),
prediction timing re-measured side by side, learning curves, and every trial and run as CSV; as
one offline HTML page with the summary tables, PNG/SVG figures and a markdown summary. The
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
    parser = add_command(subparsers, "export", __doc__, handler=run)
    _search.add_name(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an export of this experiment already in --out")
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
        help="hypervolume reference point (default: the experiment's [report] reference, else "
        "derived from vanilla's replicated most accurate configuration: its test quality 10%% "
        "worse, 1.5 x its cost)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="device of the prediction timing, the same for every configuration: auto, cpu, "
        "cuda, cuda:N (default: auto, CUDA when available)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        metavar="N",
        help="time every compared configuration N times, in turn, and report medians and "
        "interquartile ranges (default: 5)",
    )
    _search.add_no_publish(parser, "the figures and summary into the studies (read-only storage)")
    return parser


def run(args: argparse.Namespace) -> int:
    from study import report  # plotly, optuna-dashboard and the storage layer load only here

    if args.rounds < 1:
        raise UserError(f"--rounds {args.rounds}: expected at least 1")
    # A bar on a terminal; elsewhere the export's log line gives the count of evaluations.
    bar = _Progress("re-evaluating front trials") if sys.stderr.isatty() else None
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
            force=args.force,
            log=lambda message: print(message, file=sys.stderr),
            progress=bar,
        )
    except report.ImagesNotWritten as exc:
        _list(exc.written)
        raise UserError(str(exc)) from None
    except report.ReportError as exc:
        raise UserError(str(exc), EXIT_STORAGE if exc.storage else None) from None
    finally:
        if bar is not None:
            bar.close()
    _list(written)
    return 0


class _Progress:
    """A tqdm bar on stderr while the export re-evaluates front trials to time them."""

    def __init__(self, desc: str):
        self.desc = desc
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="evaluation", file=sys.stderr,
                            leave=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
