"""Flags and error handling shared by the study-service commands (create, worker, launch,
status, demo)."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from study.cli.errors import EXIT_STORAGE, EXIT_USAGE, UserError

STORAGE_HELP = ("storage URL: postgresql+psycopg://USER@HOST:PORT/DB, grpc://HOST:PORT (a study "
                "proxy), sqlite:///FILE or a journal file path (default: $STUDY_STORAGE, else "
                "runs/study.journal)")


def add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", metavar="URL", help=STORAGE_HELP)


def add_name(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--name", required=required,
                        help="experiment name; its studies are NAME.<regularizer>")


def add_experiment(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--experiment NAME | --config FILE`` and the overrides of the file."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--experiment", metavar="NAME",
                       help=f"a shipped experiment ({', '.join(shipped_experiments())})")
    group.add_argument("--config", metavar="FILE", help="an experiment TOML file")
    parser.add_argument("--regularizers", metavar="LIST",
                        help="comma-separated regularizers to compare, e.g. none,local "
                        "(overrides the file)")
    parser.add_argument("--trials", type=int, metavar="N",
                        help="COMPLETE trials per regularizer (overrides the file)")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help="training epochs of every trial (overrides the file)")
    parser.add_argument("--replicates", type=int, metavar="K",
                        help="seeds per front configuration in the report, the search's "
                        "included (overrides the file)")
    parser.add_argument("--artifacts", metavar="LOCATION",
                        help="where the experiment keeps per-trial curves and checkpoints: "
                        "database (the default on PostgreSQL: every node reaches it), a folder "
                        "(a shared file system on a cluster; the default next to a journal "
                        "file) or s3://bucket/prefix")


def shipped_experiments() -> list[str]:
    """The experiments shipped with the package, read from its folder (no import of the study
    layer, so that ``--help`` stays fast)."""
    folder = Path(__file__).resolve().parent.parent / "search" / "experiments"
    return sorted(p.stem for p in folder.glob("*.toml"))


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    from study.search.intervals import HEARTBEAT_BOUNDS, POLL_BOUNDS
    from study.search.outage import OUTAGE_WINDOW_SECONDS
    from study.search.storage import HEARTBEAT_SECONDS
    from study.search.worker import POLL_SECONDS

    parser.add_argument("--device", default="auto",
                        help="device of the trials: auto, cpu, cuda, cuda:N (default: auto)")
    # Values stay strings here: study.search.intervals checks them and says what is accepted.
    parser.add_argument("--heartbeat", default=str(HEARTBEAT_SECONDS), metavar="SECONDS",
                        help="heartbeat interval on PostgreSQL/SQLite; a trial silent for 3 "
                        f"intervals is failed and retried ({HEARTBEAT_BOUNDS[0]} to "
                        f"{HEARTBEAT_BOUNDS[1]}; default: {HEARTBEAT_SECONDS})")
    parser.add_argument("--poll", default=str(POLL_SECONDS), metavar="SECONDS",
                        help="how often a worker with nothing to start checks again "
                        f"({POLL_BOUNDS[0]:g} to {POLL_BOUNDS[1]:g}; default: {POLL_SECONDS:g})")
    parser.add_argument("--outage-window", type=float, default=OUTAGE_WINDOW_SECONDS,
                        metavar="SECONDS",
                        help="how long a worker retries through a storage outage before it "
                        "stops, keeping a trained result on local disk "
                        f"(default: {OUTAGE_WINDOW_SECONDS:g})")


def check_worker_options(args: argparse.Namespace) -> None:
    """``--heartbeat``, ``--poll`` and ``--outage-window`` checked, and replaced by their
    numbers."""
    from study.search import intervals
    from study.search.errors import SearchError

    try:
        args.heartbeat = intervals.heartbeat(args.heartbeat)
        args.poll = intervals.poll(args.poll)
    except SearchError as exc:
        raise UserError(str(exc)) from None
    if not 0 <= args.outage_window <= 7 * 24 * 3600:
        raise UserError(f"--outage-window {args.outage_window}: expected seconds between 0 "
                        "and a week")


def load_experiment(args: argparse.Namespace):
    """The experiment of ``--experiment/--config`` with the overrides applied."""
    from study.search import experiment as experiments

    if args.trials is not None and args.trials < 1:
        raise UserError(f"--trials {args.trials}: expected at least 1")
    if args.epochs is not None and args.epochs < 1:
        raise UserError(f"--epochs {args.epochs}: expected at least 1")
    if args.replicates is not None and args.replicates < 1:
        raise UserError(f"--replicates {args.replicates}: expected at least 1")
    loaded = experiments.load(experiment=args.experiment, config=args.config)
    regs = None
    if args.regularizers is not None:
        regs = [r.strip() for r in args.regularizers.split(",") if r.strip()]
    overrides = {"trials": args.trials, "epochs": args.epochs, "replicates": args.replicates}
    if regs is None and all(v is None for v in overrides.values()):
        return loaded
    return loaded.with_overrides(regularizers=regs, **overrides, source="command line")


@contextlib.contextmanager
def user_errors(url: str | None = None) -> Iterator[None]:
    """Run a study-service command: quiet Optuna, and turn the study layer's errors (and
    database failures at ``url``) into one-line ``UserError``s."""
    import optuna

    from study.search.errors import SearchError, StorageError
    from study.search.storage import storage_errors

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            with storage_errors(url) if url else contextlib.nullcontext():
                yield
        except StorageError as exc:
            raise UserError(str(exc), EXIT_STORAGE) from None
        except SearchError as exc:
            raise UserError(str(exc), EXIT_USAGE) from None


def study_executable() -> str:
    """How to call ``study`` in a printed command: ``study`` if it is on PATH (an activated
    venv), else its path next to this Python (``make demo`` runs ``.venv/bin/study`` without
    activating the venv)."""
    beside = Path(sys.executable).parent / "study"
    if shutil.which("study") == str(beside) or not beside.exists():
        return "study"
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


def add_no_publish(parser: argparse.ArgumentParser, what: str) -> None:
    """``--no-publish``: do not save ``what`` (into the studies)."""
    parser.add_argument("--no-publish", dest="publish", action="store_false",
                        help=f"do not save {what}")


@contextlib.contextmanager
def on_storage(args: argparse.Namespace) -> Iterator[str]:
    """The storage URL ``args`` name (``--storage``), with ``user_errors`` around the work."""
    url = resolved_url(args)
    with user_errors(url):
        yield url


def resolved_url(args: argparse.Namespace) -> str:
    from study.search.errors import SearchError
    from study.search.storage import resolve_url

    try:
        return resolve_url(args.storage)
    except SearchError as exc:
        raise UserError(str(exc), EXIT_STORAGE) from None
