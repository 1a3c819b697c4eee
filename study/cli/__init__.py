"""The ``study`` command: train, create, worker, launch, replicate, status, export, dashboard,
proxy, demo, repair.

Each subcommand is a module of ``study.cli`` with ``register(subparsers)``, which adds its parser
and sets ``handler``. Mistakes a user can make end in a one-line message and a non-zero exit,
never a traceback (``study.cli.errors``); any other failure is one line too, its exception's type
and message, unless ``--debug`` (or ``STUDY_DEBUG=1``) asks for the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from study import debug
from study.cli._command import join_negative_values
from study.cli.errors import EXIT_ERROR, UserError, fail

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
    "study.cli.repair",
]


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``study`` parser; ``argv`` is read for a regularizer named by import path, whose
    options become flags of ``study train``."""
    parser = argparse.ArgumentParser(
        prog="study",
        description="Train neural ODEs/SDEs that are cheap to integrate, and run Optuna studies "
        "of quality vs. NFE.",
    )
    parser.add_argument("--debug", action="store_true",
                        help=f"show the traceback of a failure (also: {debug.ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers = {name: importlib.import_module(name).register(sub) for name in COMMANDS}
    if argv and argv[0] == "train":
        from study.cli.train import add_user_regularizer

        add_user_regularizer(parsers["study.cli.train"], argv)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
    if "--debug" in argv:
        debug.enable()  # before parsing: a failure while building the parser shows it too
    try:
        args = build_parser(argv).parse_args(argv)
        return int(args.handler(args) or 0)
    except UserError as exc:
        if debug.enabled():
            debug.print_traceback(exc)
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as exc:  # a failure nobody anticipated: one line, unless debugging
        if debug.enabled():
            debug.print_traceback(exc)
            return fail(debug.describe(exc), EXIT_ERROR)
        return fail(f"{debug.describe(exc)} (--debug or {debug.ENV}=1 shows the traceback)",
                    EXIT_ERROR)


if __name__ == "__main__":
    sys.exit(main())
