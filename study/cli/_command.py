"""How a subcommand presents itself (its module docstring is its help and its description), and
how its command line is read."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence

# A negative number, as a flag's value: -1, -1.5, -.5, -1e-3, -inf, -nan.
_NEGATIVE = re.compile(r"^-(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


def add_command(subparsers: argparse._SubParsersAction, name: str, doc: str | None, *,
                description: str | None = None,
                handler: Callable[[argparse.Namespace], int] | None = None,
                ) -> argparse.ArgumentParser:
    """Subcommand ``name``, run by ``handler``: the first paragraph of ``doc`` (``"``study
    NAME``: what it does."``) is its one-line help, the paragraph after it its description unless
    ``description`` is given."""
    first, _, rest = (doc or "").strip().partition("\n\n")
    first = " ".join(first.split())
    help_text = first.partition(": ")[2].rstrip(".") or first
    if description is None:
        description = " ".join(rest.partition("\n\n")[0].split()) or help_text
    parser = subparsers.add_parser(name, help=help_text, description=description)
    # Also after the subcommand; SUPPRESS keeps `study --debug NAME` from being reset.
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of a failure (also: STUDY_DEBUG=1)")
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--flag -1e-3`` written ``--flag=-1e-3``: argparse reads a negative number
    with an exponent as a flag, and it should reach the flag's validation instead."""
    joined: list[str] = []
    for arg in argv:
        previous = joined[-1] if joined else ""
        if (_NEGATIVE.match(arg) and previous.startswith("--") and "=" not in previous
                and len(previous) > 2):
            joined[-1] = f"{previous}={arg}"
        else:
            joined.append(arg)
    return joined
