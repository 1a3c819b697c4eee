"""How a subcommand presents itself: its module docstring is its help and its description."""

from __future__ import annotations

import argparse


def add_command(subparsers: argparse._SubParsersAction, name: str, doc: str | None, *,
                description: str | None = None) -> argparse.ArgumentParser:
    """Subcommand ``name``: the first paragraph of ``doc`` (``"``study NAME``: what it does."``)
    is its one-line help, the paragraph after it its description unless ``description`` is
    given."""
    first, _, rest = (doc or "").strip().partition("\n\n")
    first = " ".join(first.split())
    help_text = first.partition(": ")[2].rstrip(".") or first
    if description is None:
        description = " ".join(rest.partition("\n\n")[0].split()) or help_text
    return subparsers.add_parser(name, help=help_text, description=description)
