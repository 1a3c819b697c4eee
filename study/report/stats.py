"""What the replicates say: bootstrap intervals over seeds and a verdict on local vs each baseline.

Every configuration is trained with the same seeds (``study.search.replicates``), so seeds are
resampled jointly: a bootstrap draw picks ``n`` of the ``n`` seeds with replacement and every
configuration's mean over the drawn seeds is taken, for every regularizer alike (a paired
bootstrap). From ``DRAWS`` draws, the 90 % percentile interval of

- each regularizer's normalised test hypervolume (a fraction of the reference box), and of local
  minus each baseline;
- local's test quality *at matched cost* minus the baseline's: the baseline's most accurate
  configuration (on validation) against local's most accurate configuration (on validation) that
  is at most as costly; signed so that above 0 means local is better.

A verdict says "local better" when the whole interval is above 0, "local worse" when below, else
"not distinguishable at this budget". With fewer than two seeds there is no interval and no
verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from study.report.comparison import LOCAL, TRAIN_SECONDS, Comparison, Config

DRAWS = 2000
LEVEL = 0.90
BOOTSTRAP_SEED = 0
NO_VERDICT = "no verdict (fewer than 2 seeds)"


@dataclass(frozen=True)
class Interval:
    """An estimate (from all seeds) and its bootstrap interval."""

    estimate: float
    low: float
    high: float
    seeds: int

    @property
    def verdict(self) -> str:
        if self.seeds < 2 or not math.isfinite(self.low):
            return NO_VERDICT
        if self.low > 0:
            return "local better"
        if self.high < 0:
            return "local worse"
        return "not distinguishable at this budget"

    def text(self, digits: int = 3) -> str:
        if self.seeds < 2:
            return f"{self.estimate:.{digits}g}"
        return f"{self.estimate:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


@dataclass(frozen=True)
class Versus:
    """Local against one baseline."""

    baseline: str
    hypervolume: Interval  # local - baseline, normalised test hypervolume
    baseline_config: Config | None
    local_config: Config | None  # None: local has no configuration at most this costly
    quality: Interval | None  # local - baseline test quality at matched cost, signed
    cost_ratio: float  # local / baseline mean cost
    train_ratio: float  # local / baseline mean training seconds


@dataclass(frozen=True)
class Analysis:
    seeds: list[int]
    hypervolumes: dict[str, Interval]  # normalised test hypervolume per regularizer
    versus: list[Versus] = field(default_factory=list)
    moved: dict[str, list[int]] = field(default_factory=dict)  # val front, not on test front


def analyse(comparison: Comparison, *, draws: int = DRAWS, seed: int = BOOTSTRAP_SEED
            ) -> Analysis:
    """Intervals and verdicts of ``comparison`` (see the module docstring)."""
    seeds = sorted({s for m in comparison.methods.values() for c in m.configs for s in c.seeds})
    rng = np.random.default_rng(seed)
    samples = [list(rng.choice(seeds, size=len(seeds))) for _ in range(draws)] \
        if len(seeds) > 1 else []
    box = comparison.box()

    def normalised(regularizer: str, chosen: list[int] | None) -> float:
        configs = comparison.methods[regularizer].configs
        return comparison.test_hypervolume(configs, chosen) / box if box else math.nan

    volumes = {r: _interval(lambda d, r=r: normalised(r, d), samples, len(seeds))
               for r in comparison.methods}
    versus = []
    if LOCAL in comparison.methods:
        for baseline in comparison.baselines:
            versus.append(_versus(comparison, baseline, samples, len(seeds), normalised))
    moved = {r: [t.number for t in m.front if all(c.trial.number != t.number
                                                    for c in m.test_front)]
             for r, m in comparison.methods.items()}
    return Analysis(seeds=seeds, hypervolumes=volumes, versus=versus, moved=moved)


def _interval(statistic, samples: list[list[int]], n_seeds: int) -> Interval:
    estimate = statistic(None)
    values = np.array([statistic(d) for d in samples], dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return Interval(estimate, math.nan, math.nan, n_seeds)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high), n_seeds)


def best_on_validation(comparison: Comparison, configs: list[Config]) -> Config | None:
    scored = [c for c in configs if math.isfinite(c.mean(comparison.quality_metric))]
    if not scored:
        return None
    pick = max if comparison.maximize_quality else min
    return pick(scored, key=lambda c: c.mean(comparison.quality_metric))


def _versus(comparison: Comparison, baseline: str, samples, n_seeds: int, normalised) -> Versus:
    volume = _interval(lambda d: normalised(LOCAL, d) - normalised(baseline, d), samples,
                       n_seeds)
    base = best_on_validation(comparison, comparison.methods[baseline].configs)
    if base is None:
        return Versus(baseline, volume, None, None, None, math.nan, math.nan)
    cost = base.mean(comparison.cost_metric)
    cheap = [c for c in comparison.methods[LOCAL].configs
             if c.mean(comparison.cost_metric) <= cost]
    local = best_on_validation(comparison, cheap)
    if local is None:
        return Versus(baseline, volume, base, None, None, math.nan, math.nan)
    sign = 1.0 if comparison.maximize_quality else -1.0
    metric = comparison.test_metric

    def gain(draw):
        return sign * (local.mean(metric, draw) - base.mean(metric, draw))

    return Versus(
        baseline, volume, base, local, _interval(gain, samples, n_seeds),
        cost_ratio=local.mean(comparison.cost_metric) / cost if cost else math.nan,
        train_ratio=_ratio(local.mean(TRAIN_SECONDS), base.mean(TRAIN_SECONDS)),
    )


def _ratio(a: float, b: float) -> float:
    return a / b if math.isfinite(a) and math.isfinite(b) and b else math.nan


def one_step_limit(comparison: Comparison) -> bool:
    """Whether every regularizer's test front sits on the warm-started one-step limit (one
    solver step per prediction: the front measures the solver's start-up, not the dynamics)."""
    if comparison.cost_metric != "predict_nfe_warm":
        return False
    from study.nde import METHODS, tableau  # loads torch: only when asked

    fronts = [c for m in comparison.methods.values() for c in m.test_front]
    if not fronts:
        return False
    for config in fronts:
        method = config.trial.user_attrs.get("config", {}).get("method")
        if method not in METHODS:
            return False
        if config.mean("predict_nfe_warm") > tableau(method).evaluations:
            return False
    return True
