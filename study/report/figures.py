"""The comparison's figures: validation fronts, test fronts with their spread, hypervolumes,
prediction cost vs training time, and learning curves.

Each regularizer keeps one colour in every figure. Front points are solid; points off the front
are faded (the legend says so). The quality axis is focused on the fronts: a point far outside
them is drawn at the edge as a triangle pointing the way it lies, its value in the hover text,
so that one diverged trial does not squash every front into a line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from study.report.comparison import TRAIN_SECONDS, Comparison, Config
from study.report.curves import Curves
from study.report.stats import Analysis

FADED = 0.25
SIZE = {"width": 900, "height": 560}  # of the PNG/SVG files
# Margins that leave room for the axis titles and a two-line title at any width.
MARGIN = {"l": 80, "r": 30, "t": 90, "b": 80}
_LAYOUT = dict(template="plotly_white", hovermode="closest", margin=MARGIN, **SIZE)

Point = tuple[float, float, str]  # x, y, hover text


def colors(comparison: Comparison) -> dict[str, str]:
    palette = qualitative.Plotly
    return {r: palette[i % len(palette)] for i, r in enumerate(comparison.methods)}


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _params(trial) -> list[str]:
    return [f"{k} = {_fmt(v)}" for k, v in trial.params.items()]


def _focus(front: Sequence[float]) -> tuple[float, float] | None:
    """An axis range around the front's values, with room on both sides."""
    values = [v for v in front if math.isfinite(v)]
    if not values:
        return None
    low, high = min(values), max(values)
    span = (high - low) or abs(high) * 0.05 or 0.05
    return low - 0.3 * span, high + 0.3 * span


def _add(fig: go.Figure, points: Sequence[Point], *, name: str, color: str, front: bool,
         focus: tuple[float, float] | None, group: str, staircase: bool = False,
         error: tuple[list[float], list[float]] | None = None, row=None, col=None) -> None:
    """One group of points; points beyond ``focus`` are drawn on its edge as triangles."""
    xs, ys, texts, symbols = [], [], [], []
    for x, y, text in points:
        symbol = "circle"
        if focus is not None and y < focus[0]:
            y, symbol, text = focus[0], "triangle-down", f"{text}<br>(below the axis)"
        elif focus is not None and y > focus[1]:
            y, symbol, text = focus[1], "triangle-up", f"{text}<br>(above the axis)"
        xs.append(x)
        ys.append(y)
        texts.append(text)
        symbols.append(symbol)
    style = {"mode": "lines+markers" if staircase else "markers", "line_shape": "hv"} if front \
        else {"mode": "markers", "opacity": FADED, "showlegend": False}
    extra = {}
    if error is not None:
        extra = {"error_y": {"type": "data", "array": error[1], "visible": True},
                 "error_x": {"type": "data", "array": error[0], "visible": True}}
    fig.add_trace(go.Scatter(
        x=xs, y=ys, name=name if front else f"{name} (off the front)", legendgroup=group,
        marker={"color": color, "size": 9, "symbol": symbols}, line={"color": color},
        text=texts, hovertemplate=f"%{{text}}<extra>{group}</extra>", **style, **extra),
        row=row, col=col)


def _legend_notes(fig: go.Figure) -> None:
    """Legend entries that say what faded points and edge triangles are."""
    for name, symbol, opacity in (("faded: off the front", "circle", FADED),
                                  ("▲▼ beyond the quality axis", "triangle-up", 1.0)):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker={"color": "grey", "size": 9, "symbol": symbol},
                                 opacity=opacity, hoverinfo="skip"))


def _better(comparison: Comparison) -> str:
    return "higher" if comparison.maximize_quality else "lower"


def pareto_figure(comparison: Comparison) -> go.Figure:
    """Validation quality vs cost of every search trial, each front as a staircase."""
    fig = go.Figure()
    color = colors(comparison)
    focus = _focus([t.values[0] for m in comparison.methods.values() for t in m.front])
    for r, method in comparison.methods.items():
        for front in (False, True):
            trials = [t for t in method.complete if method.on_front(t) == front]
            trials.sort(key=lambda t: (t.values[1], t.number))
            points = [(t.values[1], t.values[0], "<br>".join(
                [f"trial {t.number}", f"{comparison.quality_metric} = {t.values[0]:.4g}",
                 f"{comparison.cost_metric} = {t.values[1]:.4g}", *_params(t)]))
                for t in trials]
            _add(fig, points, name=r, color=color[r], front=front, focus=focus, group=r,
                 staircase=True)
    _legend_notes(fig)
    fig.update_layout(
        title=f"{comparison.name}: validation fronts by regularizer (search trials, one seed "
        "each)", xaxis_title=f"prediction NFE ({comparison.cost_metric}, lower is better)",
        yaxis_title=f"{comparison.quality_metric} ({_better(comparison)} is better)",
        legend_title="regularizer", **_LAYOUT)
    if focus is not None:
        fig.update_yaxes(range=list(focus))
    return fig


def _config_hover(comparison: Comparison, config: Config) -> str:
    test, cost = comparison.test_metric, comparison.cost_metric
    return "<br>".join([
        f"trial {config.trial.number}, {len(config.complete)} seed(s)",
        f"{test} = {config.mean(test):.4g} ± {_fmt(config.std(test))}",
        f"{cost} = {config.mean(cost):.4g} ± {_fmt(config.std(cost))}",
        f"{TRAIN_SECONDS} = {_fmt(config.mean(TRAIN_SECONDS))}", *_params(config.trial)])


def test_front_figure(comparison: Comparison) -> go.Figure:
    """Mean test quality vs mean cost of every front configuration, standard deviations over
    seeds as error bars, each regularizer's front of means as a staircase."""
    fig = go.Figure()
    color = colors(comparison)
    test, cost = comparison.test_metric, comparison.cost_metric
    focus = _focus([c.mean(test) + sign * _zero(c.std(test))
                    for m in comparison.methods.values() for c in m.test_front
                    for sign in (-1, 1)])
    for r, method in comparison.methods.items():
        on = {c.trial.number for c in method.test_front}
        for front in (False, True):
            configs = [c for c in method.configs if (c.trial.number in on) == front
                       and math.isfinite(c.mean(test))]
            configs.sort(key=lambda c: c.mean(cost))
            points = [(c.mean(cost), c.mean(test), _config_hover(comparison, c))
                      for c in configs]
            spread = ([_zero(c.std(cost)) for c in configs], [_zero(c.std(test))
                                                              for c in configs])
            _add(fig, points, name=r, color=color[r], front=front, focus=focus, group=r,
                 staircase=True, error=spread)
    _legend_notes(fig)
    fig.update_layout(
        title=f"{comparison.name}: test fronts (means over seeds, bars: one standard deviation)",
        xaxis_title=f"prediction NFE ({cost}, mean, lower is better)",
        yaxis_title=f"{test} (mean, {_better(comparison)} is better)",
        legend_title="regularizer", **_LAYOUT)
    if focus is not None:
        fig.update_yaxes(range=list(focus))
    return fig


def _zero(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def hypervolume_figure(comparison: Comparison, analysis: Analysis) -> go.Figure:
    """Normalised test hypervolume per regularizer with its 90 % interval, and the validation
    hypervolume over the search trials, all against one reference point."""
    color = colors(comparison)
    box = comparison.box() or 1.0
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6], horizontal_spacing=0.12,
                        subplot_titles=("test (means over seeds), 90 % interval",
                                        "validation, over the search trials"))
    for r, method in comparison.methods.items():
        hv = analysis.hypervolumes[r]
        err = [_zero(hv.high - hv.estimate)], [_zero(hv.estimate - hv.low)]
        fig.add_trace(go.Bar(
            x=[r], y=[hv.estimate], marker_color=color[r], name=r, legendgroup=r,
            showlegend=False, error_y={"type": "data", "array": err[0], "arrayminus": err[1]},
            hovertemplate=f"{r}<br>normalised hypervolume = %{{y:.4g}}<extra></extra>"),
            row=1, col=1)
        fig.add_trace(go.Scatter(
            x=[n for n, _ in method.history], y=[hv_ / box for _, hv_ in method.history],
            mode="lines+markers", line_shape="hv", marker_color=color[r], name=r,
            legendgroup=r, hovertemplate="trial %{x}<br>normalised = %{y:.4g}"), row=1, col=2)
    fig.update_xaxes(title_text="regularizer", row=1, col=1)
    fig.update_xaxes(title_text="search trial number", row=1, col=2)
    fig.update_yaxes(title_text="hypervolume / reference box", row=1, col=1)
    fig.update_layout(
        title=f"{comparison.name}: hypervolume<br><sup>reference point: "
        f"{comparison.describe_reference()}</sup>", legend_title="regularizer", **_LAYOUT)
    return fig


def cost_figure(comparison: Comparison) -> go.Figure:
    """Cost against training time of every search trial, front trials solid."""
    fig = go.Figure()
    color = colors(comparison)
    for r, method in comparison.methods.items():
        timed = [t for t in method.complete if _is_number(t.user_attrs.get(TRAIN_SECONDS))]
        for front in (False, True):
            points = [(t.user_attrs[TRAIN_SECONDS], t.values[1], "<br>".join(
                [f"trial {t.number}", f"{TRAIN_SECONDS} = {t.user_attrs[TRAIN_SECONDS]:.4g}",
                 f"{comparison.cost_metric} = {t.values[1]:.4g}", *_params(t)]))
                for t in timed if method.on_front(t) == front]
            _add(fig, points, name=r, color=color[r], front=front, focus=None, group=r)
    _legend_notes(fig)
    fig.update_layout(
        title=f"{comparison.name}: prediction NFE vs training time (search trials)",
        xaxis_title=f"training time ({TRAIN_SECONDS})",
        yaxis_title=f"prediction NFE ({comparison.cost_metric})",
        legend_title="regularizer", **_LAYOUT)
    return fig


def curves_figure(comparison: Comparison, curves: Mapping[str, Curves]) -> go.Figure:
    """Per epoch: training loss, validation quality and training NFE of each regularizer's most
    accurate configuration, median over seeds with the range shaded."""
    names = ("loss", comparison.quality_metric, "nfe")
    titles = ("training loss", f"validation quality ({comparison.quality_metric})",
              "training NFE per batch")
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=titles)
    color = colors(comparison)
    for r, found in curves.items():
        for row, name in enumerate(names, start=1):
            band = found.bands.get(name)
            if band is None:
                continue
            epochs = list(range(1, len(band.median) + 1))
            fig.add_trace(go.Scatter(
                x=epochs + epochs[::-1], y=band.high + band.low[::-1], fill="toself",
                fillcolor=color[r], opacity=0.2, line={"width": 0}, legendgroup=r,
                showlegend=False, hoverinfo="skip"), row=row, col=1)
            fig.add_trace(go.Scatter(
                x=epochs, y=band.median, mode="lines+markers", line={"color": color[r]},
                marker={"size": 4},
                name=f"{r} (trial {found.config.trial.number}, {found.seeds} seed(s))",
                legendgroup=r, showlegend=row == 1,
                hovertemplate=f"{r}<br>epoch %{{x}}<br>{name} = %{{y:.4g}}<extra></extra>"),
                row=row, col=1)
    fig.update_xaxes(title_text="epoch", row=3, col=1)
    layout = {**_LAYOUT, "height": 820}
    fig.update_layout(
        title=f"{comparison.name}: learning curves (median over seeds, range shaded)",
        legend_title="regularizer (configuration)", **layout)
    return fig


#: The stems of every figure an export can write.
FIGURE_KEYS = ("pareto", "test-front", "hypervolume", "nfe-vs-train-time", "learning-curves")


def figures(comparison: Comparison, analysis: Analysis,
            curves: Mapping[str, Curves] | None = None) -> dict[str, go.Figure]:
    """Every figure of an export, by the stem its files get."""
    made: dict[str, Callable[[], go.Figure]] = {
        "pareto": lambda: pareto_figure(comparison),
        "test-front": lambda: test_front_figure(comparison),
        "hypervolume": lambda: hypervolume_figure(comparison, analysis),
        "nfe-vs-train-time": lambda: cost_figure(comparison),
    }
    if curves:
        made["learning-curves"] = lambda: curves_figure(comparison, curves)
    return {key: build() for key, build in made.items()}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
