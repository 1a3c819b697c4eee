"""Measuring the fronts again on the held-out test set, side by side in one process.

Workers record prediction timings on whatever node ran them; to compare methods, every front
trial's checkpoint is downloaded from the artifact store and evaluated here on one device with
``study.train.evaluate``, in rounds that take the trials in turn.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from optuna.artifacts import download_artifact
from optuna.trial import FrozenTrial

from study.report.comparison import Comparison
from study.report.errors import ReportError
from study.report.tables import Measurements

CHECKPOINT = "checkpoint"


def reevaluate_fronts(
    comparison: Comparison,
    artifact_store: Any,
    *,
    split: str = "test",
    device: str = "auto",
    rounds: int = 3,
) -> Measurements:
    """``evaluate()`` on ``split`` for every front trial, keyed by (regularizer, trial number).

    Every trial is evaluated once per round, the trials in turn, and each value is the median
    over the rounds: load on the machine that drifts during the export then touches every trial
    alike. A trial that cannot be measured (no checkpoint artifact, an evaluation error) gets
    the reason as a string instead of a record, so one broken trial does not hide the others.
    Every trial runs on ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) whatever it was
    trained on, so that timings compare and a GPU trial can be measured on a machine without one.
    """
    if not isinstance(rounds, int) or rounds < 1:
        raise ReportError(f"rounds must be a positive integer, got {rounds!r}")
    # torch and the tasks load only when measuring.
    from study.train import evaluate, resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    except RuntimeError:  # torch's own parse error
        raise ReportError(
            f"unknown device {device!r}: accepted are auto, cpu, cuda and cuda:N"
        ) from None
    jobs = [(r, t) for r, m in comparison.methods.items() for t in m.front]
    results: dict[tuple[str, int], dict[str, float] | str] = {}
    with tempfile.TemporaryDirectory(prefix="study-reevaluate-") as tmp:
        ready: list[tuple[str, FrozenTrial, dict, Path]] = []
        for r, t in jobs:
            try:
                path = _download_checkpoint(artifact_store, r, t, Path(tmp))
                config = _config(t, device)
            except LookupError as exc:
                results[(r, t.number)] = str(exc)
                continue
            ready.append((r, t, config, path))
        if ready:
            # A first evaluation pays one-off costs (imports, data loading, allocator warm-up)
            # that would otherwise count against whichever trial happens to come first.
            _, _, config, path = ready[0]
            _evaluate(evaluate, config, path, split)
        records: dict[tuple[str, int], list[dict[str, float] | str]] = {}
        for _ in range(rounds):
            for r, t, config, path in ready:
                records.setdefault((r, t.number), []).append(
                    _evaluate(evaluate, config, path, split)
                )
        results.update({key: _median(runs) for key, runs in records.items()})
    return results


def _median(runs: list[dict[str, float] | str]) -> dict[str, float] | str:
    failed = next((run for run in runs if isinstance(run, str)), None)
    if failed is not None:
        return failed
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _download_checkpoint(store: Any, regularizer: str, trial: FrozenTrial, tmp: Path) -> Path:
    artifact_id = (trial.user_attrs.get("artifacts") or {}).get(CHECKPOINT)
    if store is None or not artifact_id:
        raise LookupError("no checkpoint artifact")
    path = tmp / f"{regularizer}-{trial.number}.ckpt"
    try:
        download_artifact(artifact_store=store, file_path=str(path), artifact_id=artifact_id)
    except Exception as exc:  # any store backend: the row says why, the export goes on
        raise LookupError(f"checkpoint {artifact_id} unavailable ({type(exc).__name__})") from exc
    return path


def _config(trial: FrozenTrial, device: str) -> dict:
    config = trial.user_attrs.get("config")
    if not isinstance(config, dict):
        raise LookupError("no training config recorded")
    return {**config, "device": device}


def _evaluate(evaluate, config: dict, path: Path, split: str) -> dict[str, float] | str:
    try:
        return dict(evaluate(config, path, split=split))
    except Exception as exc:  # a broken checkpoint or config is reported in its row
        return f"evaluation failed ({type(exc).__name__}: {exc})"
