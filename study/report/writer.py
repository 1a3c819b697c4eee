"""Writing an experiment's export: figures as HTML/PNG/SVG, trials, runs and hypervolumes as CSV,
the summary as markdown (and in the HTML page). File names start with the experiment name, so
several experiments can share one folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from study.report import render
from study.report.comparison import Comparison
from study.report.curves import Curves
from study.report.errors import ImagesNotWritten, ReportError
from study.report.figures import figures
from study.report.stats import Analysis
from study.report.tables import (
    html_tables,
    intro,
    markdown,
    summary_tables,
    write_history_csv,
    write_hypervolume_csv,
    write_runs_csv,
    write_trials_csv,
)
from study.report.timing import Timings

FORMATS = ("html", "png", "svg", "csv", "md")


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """``"html,png"`` or ``["html", "png"]`` -> ``("html", "png")``; unknown names refused."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        bad = ", ".join(repr(f) for f in unknown) if unknown else "none given"
        raise ReportError(f"unknown format {bad}: accepted are {', '.join(FORMATS)}")
    return chosen


def file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip(".") or "experiment"


def outputs(name: str, formats: Iterable[str], figure_keys: Iterable[str]) -> list[str]:
    """The file names an export of ``formats`` writes."""
    stem, formats = file_stem(name), tuple(formats)
    names = []
    if "csv" in formats:
        names += [f"{stem}-{kind}.csv" for kind in ("trials", "runs", "hypervolume", "history")]
    if "md" in formats:
        names.append(f"{stem}-summary.md")
    if "html" in formats:
        names.append(f"{stem}.html")
    names += [f"{stem}-{key}.{fmt}" for fmt in render.IMAGE_FORMATS if fmt in formats
              for key in figure_keys]
    return names


def write_export(comparison: Comparison, analysis: Analysis, out_dir: Path,
                 formats: Iterable[str] = FORMATS, *, cdn: bool = False,
                 timings: Timings | None = None,
                 curves: Mapping[str, Curves] | None = None) -> list[Path]:
    """Write the comparison to ``out_dir`` in ``formats``; the paths written, in order. PNG/SVG
    are written last: without Chromium ``ImagesNotWritten`` is raised after every other format
    has been written."""
    formats = parse_formats(formats)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the output folder {out_dir}: {exc.strerror}") from None
    stem = file_stem(comparison.name)
    figs = figures(comparison, analysis, curves)
    tables = summary_tables(comparison, analysis, timings)
    written: list[Path] = []
    try:
        if "csv" in formats:
            written += [
                write_trials_csv(comparison, out_dir / f"{stem}-trials.csv"),
                write_runs_csv(comparison, out_dir / f"{stem}-runs.csv"),
                write_hypervolume_csv(comparison, analysis, out_dir / f"{stem}-hypervolume.csv"),
                write_history_csv(comparison, out_dir / f"{stem}-history.csv"),
            ]
        if "md" in formats:
            path = out_dir / f"{stem}-summary.md"
            path.write_text(markdown(comparison, tables), encoding="utf-8")
            written.append(path)
        if "html" in formats:
            title = f"{comparison.name}: regularizers compared"
            written.append(render.write_html(figs, out_dir / f"{stem}.html", title=title,
                                             intro=intro(comparison),
                                             tables=html_tables(tables), cdn=cdn))
    except OSError as exc:
        raise ReportError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    images = {out_dir / f"{stem}-{key}.{fmt}": fig for fmt in render.IMAGE_FORMATS
              if fmt in formats for key, fig in figs.items()}
    return written + _write_images(images, formats, out_dir, written)


def _write_images(images: dict, formats: tuple[str, ...], out_dir: Path,
                  written: list[Path]) -> list[Path]:
    """PNG/SVG through Chromium; ``ImagesNotWritten`` names what was written before."""
    if not images:
        return []
    chromium = render.find_chromium()
    if chromium is None:
        kinds = "/".join(f.upper() for f in render.IMAGE_FORMATS if f in formats)
        raise ImagesNotWritten(
            f"{kinds} export needs Chromium, which was not found: {render.INSTALL_HINT}; "
            f"the other formats were written to {out_dir}",
            written,
        )
    try:
        return render.write_images(images, chromium)
    except Exception as exc:  # kaleido/Chromium failures come in many types
        raise ImagesNotWritten(
            f"PNG/SVG export through {chromium} failed ({type(exc).__name__}: {exc}); "
            f"the other formats were written to {out_dir}",
            written,
        ) from exc
