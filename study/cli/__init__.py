"""The ``study`` command: train, create, worker, launch, replicate, status, export, dashboard,
proxy, demo.

Each subcommand is a module of ``study.cli`` with ``register(subparsers)``, which adds its parser
and sets ``handler``. Mistakes a user can make end in a one-line message and a non-zero exit,
never a traceback (``study.cli.errors``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from study.cli.errors import UserError, fail

# Subcommand modules, in the order ``study --help`` lists them.
COMMANDS: list[str] = [
    "study.cli.train",
    "study.cli.create",
    "study.cli.worker",
    "study.cli.launch",
    "study.cli.replicate",
    "study.cli.status",
    "study.cli.export",
    "study.cli.dashboard",
    "study.cli.proxy",
    "study.cli.demo",
]


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``study`` parser; ``argv`` is read for a regularizer named by import path, whose
    options become flags of ``study train``."""
    parser = argparse.ArgumentParser(
        prog="study",
        description="Train neural ODEs/SDEs that are cheap to integrate, and run Optuna studies "
        "of quality vs. NFE.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers = {name: importlib.import_module(name).register(sub) for name in COMMANDS}
    if argv and argv[0] == "train":
        from study.cli.train import add_user_regularizer

        add_user_regularizer(parsers["study.cli.train"], argv)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(argv).parse_args(argv)
        return int(args.handler(args) or 0)
    except UserError as exc:
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
