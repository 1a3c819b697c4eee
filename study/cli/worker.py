"""``study worker``: run trials of an experiment until every regularizer has its budget.

Run trials of experiment NAME, balancing its studies, until each has exactly its budget of COMPLETE
trials; any number of workers may share the storage. A diverging trial is recorded as FAIL with its
reason. SIGTERM/SIGINT/SIGHUP end the running trial as FAIL, queue its configuration again and
stop the worker (exit 143/130/129). Through a storage outage the worker retries for --outage-window
seconds; a result trained meanwhile is recorded when the storage is back (or kept on local disk
under runs/spool/ and recorded by the next worker started here).
"""

from __future__ import annotations

import argparse

from study.cli import _search
from study.cli._command import add_command


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "worker", __doc__, handler=run)
    _search.add_name(parser)
    _search.add_storage(parser)
    _search.add_worker_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from study.search.worker import Worker

    _search.check_worker_options(args)
    with _search.on_storage(args) as url:
        worker = Worker(url, args.name, device=args.device, heartbeat=args.heartbeat,
                        poll=args.poll, outage_window=args.outage_window)
        return worker.run().exit_code
