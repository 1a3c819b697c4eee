"""Two-objective Pareto arithmetic: hypervolume against a stated reference point.

Every study of an experiment has two objectives, validation quality and ``predict_nfe``. Values
are turned into losses (maximised objectives negated) before any dominance or volume is computed,
so one function serves ``val_accuracy`` (maximised) and ``val_loss`` (minimised) alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Point = tuple[float, float]


def to_losses(values: Sequence[float], maximize: Sequence[bool]) -> Point:
    """``values`` of both objectives as losses: maximised objectives are negated."""
    a, b = (-v if m else v for v, m in zip(values, maximize))
    return (float(a), float(b))


def hypervolume(points: Iterable[Point], reference: Point) -> float:
    """Area dominated by ``points`` and bounded by ``reference``, all in loss space (2-D).

    Points that do not strictly dominate the reference contribute nothing, so the reference can
    be stated once for every regularizer and the volumes compare.
    """
    rx, ry = reference
    inside = sorted((x, y) for x, y in points if x < rx and y < ry)
    area, best_y = 0.0, ry
    for x, y in inside:
        if y < best_y:
            area += (rx - x) * (best_y - y)
            best_y = y
    return area


def dominated(point: Point, others: Iterable[Point]) -> bool:
    """Whether some point of ``others`` is at least as good in both objectives and better in
    one (loss space)."""
    return any(o[0] <= point[0] and o[1] <= point[1] and o != point for o in others)


def hypervolume_history(points: Sequence[Point], reference: Point) -> list[float]:
    """Hypervolume of the first ``k`` points, for every ``k`` (points in trial order)."""
    return [hypervolume(points[: k + 1], reference) for k in range(len(points))]


def default_reference(points: Iterable[Point], margin: float = 0.1) -> Point:
    """The nadir of ``points`` (loss space) pushed out by ``margin`` of each objective's range.

    The margin lets the extreme trials of a front contribute volume; a zero range falls back to
    ``margin`` of the value's magnitude (or ``margin`` itself at zero).
    """
    pts = list(points)
    if not pts:
        raise ValueError("a reference point needs at least one complete trial")
    ref = []
    for coords in zip(*pts):
        lo, hi = min(coords), max(coords)
        span = hi - lo or abs(hi) or 1.0
        ref.append(hi + margin * span)
    return (ref[0], ref[1])


def is_finite(values: Sequence[float] | None) -> bool:
    return values is not None and all(math.isfinite(v) for v in values)
