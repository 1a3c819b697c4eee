"""Prediction timing that cannot contradict itself silently.

NFE is the primary, deterministic cost; seconds are noisy and depend on the machine. Timings are
therefore measured after the study, in this process, on one device (``--device``, whatever each
trial was trained on): the checkpoints of the configurations the verdicts compare are evaluated
on the test split with ``study.train.evaluate`` in interleaved rounds (every configuration once
per round, in turn, after one untimed warm-up), so that load drifting during the export touches
them alike. Per configuration: the median seconds per batch over the rounds, its interquartile
range, and seconds per NFE. A speed-up (baseline / local seconds) comes with the interval from
the quartiles, ``[q1_b / q3_l, q3_b / q1_l]``; one whose interval contains 1 is "not
distinguishable". A speed-up whose interval excludes the NFE ratio is flagged as disagreeing with
the NFE counts, with the machine's load average while it was measured.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.artifacts import download_artifact

from study.report.comparison import Config
from study.report.errors import ReportError

CHECKPOINT = "checkpoint"


@dataclass(frozen=True)
class Timing:
    """One configuration's prediction seconds per batch, one value per round, and its NFE."""

    seconds: list[float]
    nfe: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.seconds) < 2:
            return self.median, self.median
        q1, _, q3 = statistics.quantiles(self.seconds, n=4, method="inclusive")
        return q1, q3

    @property
    def per_nfe(self) -> float:
        return self.median / self.nfe if self.nfe else math.nan


@dataclass(frozen=True)
class Timings:
    """The timings of an export, by (regularizer, search trial number); a string says why a
    configuration could not be timed. ``load`` is the 1-minute load average before and after."""

    results: dict[tuple[str, int], Timing | str]
    load: tuple[float, float]
    device: str
    rounds: int
    warm: bool  # warm-started steps (the experiment's cost objective is predict_nfe_warm)

    def get(self, config: Config | None) -> Timing | str:
        if config is None:
            return "no configuration"
        return self.results.get((config.regularizer, config.trial.number), "not timed")


@dataclass(frozen=True)
class SpeedUp:
    """Baseline / local prediction seconds, and what the NFE counts say."""

    estimate: float
    low: float
    high: float
    nfe_ratio: float  # baseline / local NFE

    @property
    def verdict(self) -> str:
        if self.low > 1:
            return "local faster"
        if self.high < 1:
            return "local slower"
        return "not distinguishable"

    @property
    def disagrees(self) -> bool:
        """Whether the timing contradicts the NFE counts beyond its own noise."""
        return not self.low <= self.nfe_ratio <= self.high


def speed_up(baseline: Timing, local: Timing) -> SpeedUp:
    (b1, b3), (l1, l3) = baseline.quartiles, local.quartiles
    return SpeedUp(baseline.median / local.median, b1 / l3, b3 / l1,
                   baseline.nfe / local.nfe if local.nfe else math.nan)


def time_predictions(configs: Sequence[Config], store: Any, *, warm: bool, device: str = "auto",
                     rounds: int = 5, progress: Callable[[int, int], None] | None = None
                     ) -> Timings:
    """Time the checkpoints of ``configs`` (their search trials) as the module docstring says;
    ``progress(done, total)`` is called before the first evaluation and after every one."""
    if not isinstance(rounds, int) or rounds < 1:
        raise ReportError(f"rounds must be a positive integer, got {rounds!r}")
    # torch and the tasks load only when measuring.
    from study.train import evaluate, resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    except RuntimeError:  # torch's own parse error
        raise ReportError(f"unknown device {device!r}: accepted are auto, cpu, cuda and "
                          "cuda:N") from None
    suffix = "_warm" if warm else ""
    results: dict[tuple[str, int], Timing | str] = {}
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="study-timing-") as tmp:
        ready = []
        for config in configs:
            key = (config.regularizer, config.trial.number)
            if key in results or any(key == k for k, _, _ in ready):
                continue
            try:
                ready.append((key, *_prepare(config, store, device, Path(tmp))))
            except LookupError as exc:
                results[key] = str(exc)
        total, done = (rounds + 1) * len(ready), 0
        if progress is not None:
            progress(0, total)  # before the first evaluation, which also loads torch and data
        runs: dict[tuple[str, int], list[dict[str, float] | str]] = {}
        for round_ in range(rounds + 1):  # round 0 is the untimed warm-up
            for key, config, path in ready:
                run = _evaluate(evaluate, config, path)
                if round_:
                    runs.setdefault(key, []).append(run)
                done += 1
                if progress is not None:
                    progress(done, total)
    for key, measured in runs.items():
        failed = next((m for m in measured if isinstance(m, str)), None)
        results[key] = failed or Timing(
            [m[f"predict_seconds_per_batch{suffix}"] for m in measured],
            statistics.median(m[f"predict_nfe{suffix}"] for m in measured))
    return Timings(results, (before, os.getloadavg()[0]), device, rounds, warm)


def _prepare(config: Config, store: Any, device: str, tmp: Path) -> tuple[dict, Path]:
    trial = config.trial
    artifact_id = (trial.user_attrs.get("artifacts") or {}).get(CHECKPOINT)
    if store is None or not artifact_id:
        raise LookupError("no checkpoint artifact")
    values = trial.user_attrs.get("config")
    if not isinstance(values, dict):
        raise LookupError("no training config recorded")
    path = tmp / f"{config.regularizer.replace(':', '_')}-{trial.number}.ckpt"
    try:
        download_artifact(artifact_store=store, file_path=str(path), artifact_id=artifact_id)
    except Exception as exc:  # any store backend: the row says why, the export goes on
        raise LookupError(f"checkpoint {artifact_id} unavailable ({type(exc).__name__})") from exc
    return {**values, "device": device}, path


def _evaluate(evaluate, config: dict, path: Path) -> dict[str, float] | str:
    try:
        return dict(evaluate(config, path, split="test"))
    except Exception as exc:  # a broken checkpoint or config is reported in its row
        return f"evaluation failed ({type(exc).__name__}: {exc})"
