"""Output paths checked before the work whose result goes there.

A checkpoint written after an hour of training, or an export written after every front
configuration was re-measured, must not fail only then. ``check_file`` and ``check_folder``
probe the path first -- by creating and removing a file there, the one test that holds for every
reason a write can fail (permissions, a read-only file system, root's own limits such as /sys)
-- and raise ``OutputError`` with one line naming the path and the reason.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputError(ValueError):
    """An output path that cannot be written."""


def _writable(folder: Path) -> str | None:
    """Why no file can be created in ``folder``, or ``None`` if one can."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".study-probe-"):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def check_file(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path``, checked to be a file that can be written: its folder exists and
    takes new files, and it is not a folder itself. ``what`` names it in the message."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a folder; give a file path")
    if not folder.exists():
        raise OutputError(f"{what} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{what} {path}: {folder} is not a folder")
    reason = _writable(folder)
    if reason is not None:
        raise OutputError(f"{what} {path}: cannot write to folder {folder}: {reason}")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"{what} {path}: exists and cannot be overwritten")
    return path


def check_folder(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path``, created if missing and checked to take new files."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"cannot create the {what} {path}: it is a file") from None
    except OSError as exc:
        raise OutputError(f"cannot create the {what} {path}: {exc.strerror or exc}") from None
    reason = _writable(path)
    if reason is not None:
        raise OutputError(f"cannot write to the {what} {path}: {reason}")
    return path
