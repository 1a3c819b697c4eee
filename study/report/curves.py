"""Learning curves: per epoch, the training loss, the validation quality and the training NFE of
a configuration, as the median and range over its seeds.

Workers store each run's curves as a JSON artifact (``curves``: ``loss``, ``val_<quality>``,
``nfe`` per epoch); this module reads them back from the artifact store.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.artifacts import download_artifact

from study.report.comparison import Config

CURVES = "curves"


@dataclass(frozen=True)
class Band:
    """One curve over epochs: the median and the range over seeds."""

    median: list[float]
    low: list[float]
    high: list[float]


@dataclass(frozen=True)
class Curves:
    """The learning curves of one configuration over its seeds (``seeds`` runs read)."""

    config: Config
    seeds: int
    bands: dict[str, Band]  # by curve name: loss, val_<quality>, nfe


def read_curves(config: Config, store: Any) -> Curves | None:
    """The curves of every complete run of ``config``; ``None`` when none could be read."""
    runs: list[dict[str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="study-curves-") as tmp:
        for run in config.complete:
            artifact_id = (run.trial.user_attrs.get("artifacts") or {}).get(CURVES)
            if store is None or not artifact_id:
                continue
            path = Path(tmp) / f"{run.trial._trial_id}.json"
            try:
                download_artifact(artifact_store=store, file_path=str(path),
                                  artifact_id=artifact_id)
                runs.append(json.loads(path.read_text()))
            except Exception:  # a missing artifact leaves that seed out of the band
                continue
    if not runs:
        return None
    bands = {}
    for name in runs[0]:
        series = [r[name] for r in runs if name in r]
        length = min(len(s) for s in series)
        columns = [[s[i] for s in series] for i in range(length)]
        bands[name] = Band([statistics.median(c) for c in columns], [min(c) for c in columns],
                           [max(c) for c in columns])
    return Curves(config, len(runs), bands)
