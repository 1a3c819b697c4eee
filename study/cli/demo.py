"""``study demo``: run a small digits study end to end and show how to browse it.

``make demo`` runs it: a small real study on the embedded storage, start to finish. It creates a
small ``digits`` experiment comparing the local regularizer with the global baselines, runs it
with local workers, exports the Pareto comparison (as ``study export``), prints a summary and the
command that opens the dashboard. Run again, it goes on from where it stopped.
"""

from __future__ import annotations

import argparse
import sys
import time

from study.cli import _search
from study.cli._command import add_command

NAME = "demo"
REGULARIZERS = "none,local,global-error"
TRIALS = 6
EPOCHS = 8
REPLICATES = 3
WORKERS = 2


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "demo", __doc__, description=(
        f"Create experiment {NAME!r} (shipped digits experiment with {REGULARIZERS}, {TRIALS} "
        f"trials each of {EPOCHS} epochs, every front configuration replicated with "
        f"{REPLICATES} seeds), run it with {WORKERS} local workers, export the "
        "Pareto plots and print a summary and the dashboard command. Running it again goes on "
        "from where it stopped."))
    parser.add_argument("--name", default=NAME, help=f"experiment name (default: {NAME})")
    parser.add_argument("--workers", type=int, default=WORKERS, metavar="N",
                        help=f"local worker processes (default: {WORKERS})")
    parser.add_argument("--trials", type=int, default=TRIALS, metavar="N",
                        help=f"trials per regularizer (default: {TRIALS})")
    parser.add_argument("--epochs", type=int, default=EPOCHS, metavar="N",
                        help=f"training epochs per trial (default: {EPOCHS})")
    parser.add_argument("--replicates", type=int, default=REPLICATES, metavar="K",
                        help=f"seeds per front configuration (default: {REPLICATES})")
    parser.add_argument("--regularizers", default=REGULARIZERS, metavar="LIST",
                        help=f"regularizers to compare (default: {REGULARIZERS})")
    parser.add_argument("--out", metavar="DIR",
                        help="export folder (default: <runs>/NAME-export next to the storage)")
    _search.add_storage(parser)
    parser.set_defaults(handler=run, experiment="digits", config=None)
    return parser


def run(args: argparse.Namespace) -> int:
    from study.cli.create import create
    from study.report.status import experiment_status, storage_flag
    from study.search.launch import launch
    from study.search.storage import backend

    url = _search.resolved_url(args)
    store = backend(url)
    start = time.monotonic()
    with _search.user_errors(url):
        create(args, url)
        code = launch(url, args.name, workers=args.workers)
        if code != 0:
            return code
        print(f"\nfinished in {time.monotonic() - start:.0f} s\n")
        print(experiment_status(store.open(), args.name, store.label))
    out = args.out or str(store.runs_dir() / f"{args.name}-export")
    exported = _export(url, args.name, out)
    print("\nBrowse the studies, per-trial curves and checkpoints:")
    print(f"  {_search.study_executable()} dashboard{storage_flag(url)}")
    if exported:
        print(f"The Pareto plots and tables are in {out}/")
    return 0


def _export(url: str, name: str, out: str) -> bool:
    """Export the comparison as `study export` does; on failure say why and go on."""
    from study import report

    print(f"\nexporting the Pareto comparison to {out}/ ...", flush=True)
    try:
        for path in report.export(url, name, out, force=True,
                                  log=lambda message: print(message, file=sys.stderr)):
            print(path)
    except report.ReportError as exc:
        print(f"the export failed: {exc}; the table above is the summary", file=sys.stderr)
        return False
    return True
