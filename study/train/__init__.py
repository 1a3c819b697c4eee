"""One training run: ``train(config) -> metrics record``, and ``evaluate`` for a checkpoint.

``TrainConfig`` holds one run's settings (its field names are the CLI flags, the search's
parameter names and the export's columns); ``train`` returns the record described in
``study.train.loop``; divergence raises ``TrainingDiverged``.
"""

from study.train.config import TRAIN_MAX_STEPS, TrainConfig, field_names
from study.train.errors import TrainingDiverged
from study.train.loop import Budget, Progress, evaluate, resolve_budget, resolve_device, train

__all__ = [
    "TRAIN_MAX_STEPS",
    "Budget",
    "Progress",
    "TrainConfig",
    "TrainingDiverged",
    "evaluate",
    "field_names",
    "resolve_budget",
    "resolve_device",
    "train",
]
