"""Finished results the storage could not take, kept on local disk until it can.

When the storage stays unreachable for a whole outage window after a trial finished training, the
worker writes the result (objective values, the record's attributes, the curves and checkpoint
files) to ``<runs>/spool/<experiment>/<study>.<trial number>.<pid>/`` and exits; the next worker
started for the experiment on this machine (same working directory) records it first
(``Worker.replay``): on its trial if that is still RUNNING, else on the queued rerun of the same
configuration. A result is removed from the spool only once the storage has it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT = "result.json"


@dataclass
class Result:
    """What a finished trial has to record: its objective values, the scalar entries of the
    training record, and files to upload as artifacts (key -> (path, mimetype))."""

    values: list[float]
    attrs: dict[str, Any]
    files: dict[str, tuple[Path, str]] = field(default_factory=dict)


@dataclass
class Entry:
    """A spooled result of trial ``number`` of study ``study_name``."""

    path: Path
    study_name: str
    number: int
    result: Result


def folder(root: Path, experiment: str) -> Path:
    return root / "spool" / experiment


def save(root: Path, experiment: str, study_name: str, number: int, result: Result) -> Path:
    """Write ``result`` under the spool; returns its folder. Written to a temporary name and
    renamed, so that a half-written entry is never replayed."""
    base = folder(root, experiment)
    final = base / f"{study_name}.{number}.{os.getpid()}"
    partial = base / f".{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    files = {}
    for key, (path, mimetype) in result.files.items():
        shutil.copyfile(path, partial / path.name)
        files[key] = [path.name, mimetype]
    (partial / RESULT).write_text(json.dumps({
        "study": study_name, "number": number, "values": result.values,
        "attrs": result.attrs, "files": files}, indent=1))
    partial.rename(final)
    return final


def pending(root: Path, experiment: str) -> list[Entry]:
    """The spooled results of ``experiment`` under ``root``, oldest first."""
    base = folder(root, experiment)
    if not base.is_dir():
        return []
    entries = []
    for path in sorted(base.iterdir(), key=lambda p: p.stat().st_mtime):
        if path.name.startswith(".") or not (path / RESULT).is_file():
            continue
        data = json.loads((path / RESULT).read_text())
        files = {key: (path / name, mimetype) for key, (name, mimetype) in data["files"].items()}
        entries.append(Entry(path, data["study"], int(data["number"]),
                             Result([float(v) for v in data["values"]], data["attrs"], files)))
    return entries


def remove(entry: Entry) -> None:
    shutil.rmtree(entry.path, ignore_errors=True)
