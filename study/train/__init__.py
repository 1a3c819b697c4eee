"""One training run: ``train(config) -> metrics record``, and ``evaluate`` for a checkpoint.

``TrainConfig`` holds one run's settings (its field names are the CLI flags, the search's
parameter names and the export's columns); ``train`` returns the record described in
``study.train.loop``; divergence raises ``TrainingDiverged``. Names are imported from their
submodule on first use: ``TrainConfig`` and ``TrainingDiverged`` load without torch.
"""

from study.imports import lazy_exports

_EXPORTS = {
    "TRAIN_MAX_STEPS": "config",
    "Budget": "loop",
    "Progress": "loop",
    "TrainConfig": "config",
    "TrainingDiverged": "errors",
    "evaluate": "loop",
    "field_names": "config",
    "resolve_budget": "loop",
    "resolve_device": "loop",
    "train": "loop",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
