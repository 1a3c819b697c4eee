"""Failures of an export or a dashboard that the person running it can act on."""

from __future__ import annotations

from pathlib import Path


class ReportError(Exception):
    """Bad input (unknown experiment, bad format, bad reference point) or an unusable storage.

    ``storage`` is true when the storage itself failed (unreachable, misconfigured), so the
    command line can exit with its storage code.
    """

    def __init__(self, message: str, *, storage: bool = False):
        super().__init__(message)
        self.storage = storage


class ImagesNotWritten(ReportError):
    """PNG/SVG were asked for but could not be rendered (no Chromium, or it failed).

    Every other format was written first; ``written`` lists those files.
    """

    def __init__(self, message: str, written: list[Path]):
        super().__init__(message)
        self.written = written
