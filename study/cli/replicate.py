"""``study replicate``: train every front configuration again with further seeds.

For each regularizer of experiment NAME whose search is finished, every configuration on its
validation front is queued to be trained again with further seeds (the same seeds for every
regularizer, other than the search's), up to --replicates seeds per configuration (default: the
experiment's `replicates`). Workers (`study worker`, `study launch`, a SLURM array) run them after
the search budget, with the same exactness and crash safety as search trials; `study export`
reports test-set fronts with their spread from them. Workers queue them by themselves when the
experiment asks for replicates: this command raises the number, or asks for replicates of an
experiment created without them.
"""

from __future__ import annotations

import argparse

from study.cli import _search
from study.cli._command import add_command
from study.cli.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "replicate", __doc__, handler=run)
    _search.add_name(parser)
    parser.add_argument("--replicates", type=int, metavar="K",
                        help="seeds per front configuration, the search's included (default: "
                        "the experiment's)")
    _search.add_storage(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from study.search import replicates
    from study.search.storage import backend

    if args.replicates is not None and args.replicates < 1:
        raise UserError(f"--replicates {args.replicates}: expected at least 1")
    with _search.on_storage(args) as url:
        storage = backend(url).open()
        state = replicates.request(url, storage, args.name, args.replicates)
    for regularizer, done in state.items():
        if done is None:
            print(f"{args.name}.{regularizer}: search still running; its front's replicates are "
                  "queued when it is finished")
        else:
            print(f"{args.name}.{regularizer}: {done.total} replicate run(s), {done.complete} "
                  f"complete, {done.waiting} queued, {done.running} running, {done.failed} "
                  "failed")
    print(f"workers run them: `study worker --name {args.name}` or `study launch --name "
          f"{args.name} --workers N`")
    return 0
