"""``study launch``: run an experiment with N local worker processes until its budgets are met.

Start N `study worker` processes on this machine (one GPU each with --gpus), show overall progress
and return when every study has its budget; then summarise it and print the commands to run next.
With --experiment/--config the experiment is created first (as `study create`). Ctrl-C, SIGTERM
or SIGHUP stops the workers cleanly: their running trials end as FAIL and are queued again; if
launch itself is killed, its workers get SIGTERM.
"""

from __future__ import annotations

import argparse

from study.cli import _search
from study.cli._command import add_command
from study.cli.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "launch", __doc__, handler=run)
    _search.add_name(parser)
    parser.add_argument("--workers", type=int, required=True, metavar="N",
                        help="number of worker processes")
    parser.add_argument("--gpus", metavar="LIST",
                        help="comma-separated GPU ids, e.g. 0,1: worker i gets GPU "
                        "LIST[i mod len(LIST)] through CUDA_VISIBLE_DEVICES")
    _search.add_storage(parser)
    _search.add_worker_options(parser)
    _search.add_experiment(parser, required=False)
    return parser


def run(args: argparse.Namespace) -> int:
    from study.cli.create import create
    from study.report.status import launch_summary
    from study.search.launch import launch
    from study.search.storage import backend

    _search.check_worker_options(args)
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: expected at least 1")
    gpus = None
    if args.gpus is not None:
        gpus = [g.strip() for g in args.gpus.split(",") if g.strip()]
        if not gpus or not all(g.isdigit() for g in gpus):
            raise UserError(f"--gpus {args.gpus!r}: expected comma-separated GPU ids like 0,1")
    with _search.on_storage(args) as url:
        if args.experiment or args.config:
            create(args, url)
        elif any(v is not None for v in (args.regularizers, args.trials, args.epochs,
                                         args.replicates)):
            raise UserError("--regularizers/--trials/--epochs/--replicates apply to a new "
                            "experiment: give --experiment or --config too")
        code = launch(url, args.name, workers=args.workers, gpus=gpus, device=args.device,
                      heartbeat=args.heartbeat, poll=args.poll,
                      outage_window=args.outage_window)
        print(launch_summary(backend(url), args.name, program=_search.study_executable()))
    return code
