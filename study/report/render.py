"""Writing figures: HTML (offline unless asked for the CDN), PNG/SVG through kaleido and Chromium.

kaleido 1.x drives a Chromium found on the machine; it is never downloaded from here. MathJax is
off because kaleido would otherwise fetch it from a CDN, which hangs an offline machine.
"""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go

IMAGE_FORMATS = ("png", "svg")
INSTALL_HINT = (
    "install it with `sudo apt-get install chromium` (Debian/Ubuntu; `make chromium` does the "
    "same) or point BROWSER_PATH at a Chrome/Chromium executable"
)
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """The Chromium (or Chrome) to render with: ``BROWSER_PATH``, else the first on ``PATH``."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


_STYLE = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
section.figure { margin: 1em 0 2em; }
"""


def write_html(figures: Mapping[str, go.Figure], path: Path, *, title: str, intro: str = "",
               tables: str = "", cdn: bool = False) -> Path:
    """One page: the ``intro`` and the summary ``tables`` (HTML), then every figure at the
    page's width, interactive; plotly.js embedded once (offline) unless ``cdn``, which makes a
    small page that needs the internet."""
    parts = []
    for i, (key, fig) in enumerate(figures.items()):
        # The first figure carries plotly.js; the others reuse it.
        include = ("cdn" if cdn else True) if i == 0 else False
        wide = go.Figure(fig).update_layout(width=None, autosize=True)
        parts.append(wide.to_html(full_html=False, include_plotlyjs=include,
                                  include_mathjax=False, div_id=f"figure-{key}",
                                  default_width="100%", config={"responsive": True}))
    body = "\n".join(f'<section class="figure">{part}</section>' for part in parts)
    path.write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n<p>{html.escape(intro)}</p>\n{tables}\n"
        f"{body}\n</body></html>\n",
        encoding="utf-8",
    )
    return path


def write_images(figures: Mapping[Path, go.Figure], chromium: str) -> list[Path]:
    """Render every figure to its path (format from the suffix) in one Chromium session."""
    import kaleido  # loads its browser driver: only when images are asked for

    specs = [
        {
            "fig": fig.to_dict(),
            "path": path,
            "opts": {
                "format": path.suffix.lstrip("."),
                "width": fig.layout.width,
                "height": fig.layout.height,
                "scale": 1,
            },
        }
        for path, fig in figures.items()
    ]
    kaleido.write_fig_from_object_sync(specs, kopts={"mathjax": False, "path": chromium})
    return list(figures)
