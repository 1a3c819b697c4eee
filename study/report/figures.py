"""The comparison's figures: overlaid Pareto fronts, hypervolumes, prediction NFE vs training time.

Each regularizer keeps one colour in every figure; trials on its front are drawn solid, dominated
trials faded, and hovering a point shows the trial's objectives and parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
from optuna.trial import FrozenTrial
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from study.report.comparison import NFE_METRIC, Comparison

FADED = 0.25
TRAIN_SECONDS = "train_seconds"
_LAYOUT = dict(template="plotly_white", width=900, height=560, hovermode="closest")

Axis = Callable[[FrozenTrial], float]


def colors(comparison: Comparison) -> dict[str, str]:
    palette = qualitative.Plotly
    return {r: palette[i % len(palette)] for i, r in enumerate(comparison.methods)}


def hover_text(comparison: Comparison, trial: FrozenTrial) -> str:
    quality, nfe = trial.values
    lines = [
        f"trial {trial.number}",
        f"{comparison.quality_metric} = {quality:.4g}",
        f"{NFE_METRIC} = {nfe:.4g}",
    ]
    if TRAIN_SECONDS in trial.user_attrs:
        lines.append(f"{TRAIN_SECONDS} = {_fmt(trial.user_attrs[TRAIN_SECONDS])}")
    lines += [f"{k} = {_fmt(v)}" for k, v in trial.params.items()]
    return "<br>".join(lines)


def pareto_figure(comparison: Comparison) -> go.Figure:
    """Validation quality vs prediction NFE of every regularizer, fronts as staircases."""
    fig = go.Figure()
    color = colors(comparison)
    for r, method in comparison.methods.items():
        _add_trials(
            fig,
            comparison,
            r,
            method.complete,
            method.on_front,
            color[r],
            x=_nfe,
            y=_quality,
            staircase=True,
        )
    fig.update_layout(
        title=f"{comparison.name}: Pareto fronts by regularizer (validation)",
        xaxis_title=f"prediction NFE ({NFE_METRIC}, lower is better)",
        yaxis_title=f"{comparison.quality_metric} ({_better(comparison)} is better)",
        legend_title="regularizer (front)",
        **_LAYOUT,
    )
    return fig


def hypervolume_figure(comparison: Comparison) -> go.Figure:
    """Final hypervolume per regularizer and its history over trials, one reference point."""
    color = colors(comparison)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.35, 0.65],
        subplot_titles=("hypervolume", "hypervolume over trials"),
    )
    for r, method in comparison.methods.items():
        bar = go.Bar(
            x=[r],
            y=[method.hypervolume],
            marker_color=color[r],
            name=r,
            legendgroup=r,
            showlegend=False,
            hovertemplate=f"{r}<br>hypervolume = %{{y:.4g}}<extra></extra>",
        )
        history = go.Scatter(
            x=[n for n, _ in method.history],
            y=[hv for _, hv in method.history],
            mode="lines+markers",
            line_shape="hv",
            marker_color=color[r],
            name=r,
            legendgroup=r,
            hovertemplate="trial %{x}<br>hypervolume = %{y:.4g}",
        )
        fig.add_trace(bar, row=1, col=1)
        fig.add_trace(history, row=1, col=2)
    fig.update_xaxes(title_text="trial number", row=1, col=2)
    fig.update_yaxes(title_text=f"{comparison.quality_metric} × {NFE_METRIC}", row=1, col=1)
    fig.update_layout(
        title=f"{comparison.name}: hypervolume<br><sup>reference point: "
        f"{comparison.describe_reference()}</sup>",
        legend_title="regularizer",
        **_LAYOUT,
    )
    return fig


def cost_figure(comparison: Comparison) -> go.Figure:
    """Prediction NFE against training time, front trials solid."""
    fig = go.Figure()
    color = colors(comparison)
    for r, method in comparison.methods.items():
        timed = [t for t in method.complete if _is_number(t.user_attrs.get(TRAIN_SECONDS))]
        _add_trials(fig, comparison, r, timed, method.on_front, color[r], x=_train_seconds, y=_nfe)
    fig.update_layout(
        title=f"{comparison.name}: prediction NFE vs training time",
        xaxis_title=f"training time ({TRAIN_SECONDS})",
        yaxis_title=f"prediction NFE ({NFE_METRIC})",
        legend_title="regularizer (front)",
        **_LAYOUT,
    )
    return fig


def figures(comparison: Comparison) -> dict[str, go.Figure]:
    """Every figure of an export, by the stem its files get."""
    return {
        "pareto": pareto_figure(comparison),
        "hypervolume": hypervolume_figure(comparison),
        "nfe-vs-train-time": cost_figure(comparison),
    }


def _add_trials(
    fig: go.Figure,
    comparison: Comparison,
    regularizer: str,
    trials: list[FrozenTrial],
    on_front: Callable[[FrozenTrial], bool],
    color: str,
    *,
    x: Axis,
    y: Axis,
    staircase: bool = False,
) -> None:
    """One regularizer's trials: dominated ones faded, its front solid (as a staircase, which
    is the boundary of what the front dominates, when ``staircase``)."""
    front = sorted((t for t in trials if on_front(t)), key=lambda t: (x(t), t.number))
    dominated = [t for t in trials if not on_front(t)]
    for group, style in (
        (
            dominated,
            dict(
                name=f"{regularizer} (dominated)", opacity=FADED, showlegend=False, mode="markers"
            ),
        ),
        (
            front,
            dict(
                name=regularizer, mode="lines+markers" if staircase else "markers", line_shape="hv"
            ),
        ),
    ):
        fig.add_trace(
            go.Scatter(
                x=[x(t) for t in group],
                y=[y(t) for t in group],
                legendgroup=regularizer,
                marker=dict(color=color, size=9),
                line=dict(color=color),
                text=[hover_text(comparison, t) for t in group],
                hovertemplate=f"%{{text}}<extra>{regularizer}</extra>",
                **style,
            )
        )


def _quality(trial: FrozenTrial) -> float:
    return trial.values[0]


def _nfe(trial: FrozenTrial) -> float:
    return trial.values[1]


def _train_seconds(trial: FrozenTrial) -> float:
    return trial.user_attrs[TRAIN_SECONDS]


def _better(comparison: Comparison) -> str:
    return "higher" if comparison.maximize_quality else "lower"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
