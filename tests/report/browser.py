"""Headless Chromium for the tests of what a person looks at: a page's DOM, console and pixels.

Tests that use it fail, not skip, when Chromium is missing: `make chromium` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


@contextmanager
def _profile() -> Iterator[str]:
    """A fresh ``--user-data-dir``, removed once nothing writes into it any more."""
    profile = tempfile.mkdtemp(prefix="study-chromium-")
    try:
        yield profile
    finally:
        # Chromium's helper processes can still be writing into the profile for a moment after
        # the browser is gone (every one of them is killed first: _stop): retry until it is
        # removed, on the condition rather than a fixed sleep.
        deadline = time.monotonic() + 30
        while True:
            shutil.rmtree(profile, ignore_errors=True)
            if not os.path.exists(profile) or time.monotonic() > deadline:
                break
            time.sleep(0.05)


def _start(command: list[str], **kwargs) -> subprocess.Popen:
    """Chromium in a process group of its own, so that _stop reaches its helpers too."""
    return subprocess.Popen(command, start_new_session=True, **kwargs)


def _stop(browser: subprocess.Popen) -> None:
    """Stop the browser, then kill every process left in its group (renderers, crash handler)."""
    if browser.poll() is None:
        browser.terminate()
        try:
            browser.wait(timeout=30)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
    with suppress(ProcessLookupError):  # the group is empty: nothing left to stop
        os.killpg(browser.pid, signal.SIGKILL)


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
    with _profile() as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        if wait_ms:
            command.append(f"--virtual-time-budget={wait_ms}")
        if screenshot is not None:
            command += [f"--window-size={size[0]},{size[1]}", f"--screenshot={screenshot}"]
        command.append("--dump-dom")
        browser = _start([*command, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        try:
            stdout, stderr = browser.communicate(timeout=timeout)
        finally:
            _stop(browser)
    assert browser.returncode == 0, f"chromium failed ({browser.returncode}): {stderr[-2000:]}"
    console = [m.group(1) for m in map(_CONSOLE.search, stderr.splitlines()) if m]
    return Visit(console=console, dom=stdout)


def evaluate(url: str, script: str, *, size: tuple[int, int] = (1200, 900),
             timeout: float = 90) -> object:
    """Open ``url`` in headless Chromium and evaluate the JavaScript expression ``script`` in it
    (through the DevTools protocol) until it returns something other than ``null``; that value.

    For checks that need the page's layout (where an element is drawn), which a DOM dump cannot
    show. Fails when ``script`` never returns a value within ``timeout``.
    """
    import json
    import urllib.request

    import websocket

    with _profile() as profile:
        command = [chromium(), *FLAGS, f"--user-data-dir={profile}",
                   f"--window-size={size[0]},{size[1]}", "--remote-debugging-port=0",
                   "--remote-allow-origins=*", "about:blank"]
        browser = _start(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            port_file = Path(profile) / "DevToolsActivePort"
            while not port_file.exists() or not port_file.read_text().strip():
                assert time.monotonic() < deadline, "chromium did not open its DevTools port"
                assert browser.poll() is None, f"chromium exited with {browser.returncode}"
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
                page = next(t for t in json.load(r) if t["type"] == "page")
            ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
            counter = iter(range(1, 1_000_000))

            def call(method: str, **params) -> dict:
                ident = next(counter)
                ws.send(json.dumps({"id": ident, "method": method, "params": params}))
                while True:
                    message = json.loads(ws.recv())
                    if message.get("id") == ident:
                        return message.get("result", {})

            call("Page.navigate", url=url)
            while True:
                result = call("Runtime.evaluate", expression=script, returnByValue=True)
                value = result.get("result", {}).get("value")
                if value is not None:
                    ws.close()
                    return value
                assert time.monotonic() < deadline, f"{script[:80]}... gave nothing in time"
                time.sleep(0.25)
        finally:
            _stop(browser)
