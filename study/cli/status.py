"""``study status``: show an experiment's trial counts and best quality/NFE trade-offs.

Per regularizer: COMPLETE trials against the budget, RUNNING, WAITING (queued reruns) and FAIL
trials with their reasons, then each Pareto front (quality vs predict_nfe). Without --name, every
experiment in the storage in one table: per experiment and regularizer, COMPLETE search trials
against the budget, RUNNING and FAIL trials, and replicate runs complete/total.
"""

from __future__ import annotations

import argparse

from study.cli import _search
from study.cli._command import add_command


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "status", __doc__, handler=run)
    _search.add_name(parser, required=False)
    _search.add_storage(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from study.report.status import experiment_status, storage_status
    from study.search.storage import backend

    with _search.on_storage(args) as url:
        store = backend(url)
        storage = store.open()
        if args.name is None:
            print(storage_status(storage, store.label))
        else:
            print(experiment_status(storage, args.name, store.label))
    return 0
