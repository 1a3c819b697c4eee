"""``study repair``: cut off the torn last record of a journal file, after a backup.

A write that did not finish (disk full, power loss, a killed process) can leave a journal file
ending in a torn record; every command refuses such a journal. Repair copies the journal to
JOURNAL.<UTC time>.backup, then cuts off the torn record (only that: the complete records stay as
they were) and says what it did. A journal without a torn record is left as it is.
"""

from __future__ import annotations

import argparse

from study.cli import _search
from study.cli._command import add_command


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "repair", __doc__, handler=run)
    _search.add_storage(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from study.search.storage import backend

    with _search.on_storage(args) as url:
        print(backend(url).repair())
    return 0
