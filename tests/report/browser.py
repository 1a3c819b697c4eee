"""Headless Chromium for the tests of what a person looks at: a page's DOM, console and pixels.

Tests that use it fail, not skip, when Chromium is missing: `make chromium` installs it.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from study.report.render import INSTALL_HINT, find_chromium

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]
_CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")


@dataclass(frozen=True)
class Visit:
    console: list[str]  # every console message and uncaught exception of the page
    dom: str  # the page's DOM after its scripts ran


def chromium() -> str:
    path = find_chromium()
    assert path is not None, f"headless Chromium is needed for this test: {INSTALL_HINT}"
    return path


def visit(
    url: str,
    *,
    screenshot: Path | None = None,
    size: tuple[int, int] = (1000, 800),
    wait_ms: int = 0,
    timeout: float = 60,
) -> Visit:
    """Load ``url`` and dump its DOM; also save a ``screenshot`` of ``size`` when given.

    ``wait_ms`` lets scripts run that long (virtual time) before the DOM is read, for pages that
    fetch their content after loading.
    """
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        if wait_ms:
            command.append(f"--virtual-time-budget={wait_ms}")
        if screenshot is not None:
            command += [f"--window-size={size[0]},{size[1]}", f"--screenshot={screenshot}"]
        command.append("--dump-dom")
        done = subprocess.run(
            [*command, url], capture_output=True, text=True, timeout=timeout, check=False
        )
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    console = [m.group(1) for m in map(_CONSOLE.search, done.stderr.splitlines()) if m]
    return Visit(console=console, dom=done.stdout)
