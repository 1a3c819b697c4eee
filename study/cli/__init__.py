"""The ``study`` command: train, create, worker, launch, status, export, dashboard, demo.

Each subcommand is a module of ``study.cli`` with ``register(subparsers)``, which adds its parser
and sets ``handler``. Mistakes a user can make end in a one-line message and a non-zero exit,
never a traceback (``study.cli.errors``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from study.cli.errors import UserError, fail

# Subcommand modules, in the order ``study --help`` lists them.
COMMANDS: list[str] = [
    "study.cli.train",
    "study.cli.create",
    "study.cli.worker",
    "study.cli.launch",
    "study.cli.status",
    "study.cli.export",
    "study.cli.dashboard",
    "study.cli.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="study",
        description="Train neural ODEs/SDEs that are cheap to integrate, and run Optuna studies "
        "of quality vs. NFE.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
