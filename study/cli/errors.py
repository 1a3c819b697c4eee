"""Errors a command-line user can act on: one line on stderr, a distinct exit code."""

from __future__ import annotations

import sys

# Exit codes shared by every subcommand.
EXIT_ERROR = 1  # a failure that is not the user's mistake (shown as its type and message)
EXIT_USAGE = 2  # bad flags or input (argparse uses 2 as well)
EXIT_DIVERGED = 3  # training diverged (NaN/inf loss, step budget, step-size underflow)
EXIT_STORAGE = 4  # the database is unreachable or misconfigured


class UserError(Exception):
    """A mistake in the user's input or environment; ``main`` prints it without a traceback."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def fail(message: str, code: int) -> int:
    print(f"study: error: {message}", file=sys.stderr)
    return code
