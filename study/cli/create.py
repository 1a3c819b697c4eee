"""``study create``: create an experiment: one Optuna study per regularizer, equal budgets.

Create experiment NAME from a shipped experiment or a TOML file: one multi-objective study per
regularizer, named NAME.<regularizer>, maximising or minimising validation quality and minimising
predict_nfe, each with the same budget of trials. Creating it again with the same experiment does
nothing; with a different one it is refused. Then run `study worker --name NAME` (anywhere) or
`study launch`.
"""

from __future__ import annotations

import argparse

from study.cli import _search
from study.cli._command import add_command


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "create", __doc__, handler=run)
    _search.add_name(parser)
    _search.add_experiment(parser, required=True)
    _search.add_storage(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    with _search.on_storage(args) as url:
        create(args, url)
    return 0


def create(args: argparse.Namespace, url: str) -> None:
    """Validate everything, then create (shared with ``launch`` and ``demo``)."""
    from study.search import studies
    from study.search.storage import backend

    experiment = _search.load_experiment(args)
    studies.check_name(args.name)
    store = backend(url)
    storage = store.open(create=True)
    created, new = studies.create(url, storage, args.name, experiment,
                                  artifacts=getattr(args, "artifacts", None))
    where = store.label
    if new:
        artifacts = studies.artifact_location(next(iter(created.values())), store)
        print(f"created experiment {args.name} in {where}: {experiment.summary()}; studies "
              f"{', '.join(s.study_name for s in created.values())}; artifacts in {artifacts}")
    else:
        print(f"experiment {args.name} already exists in {where} with this configuration")
