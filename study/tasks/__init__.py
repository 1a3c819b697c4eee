"""Tasks (data sets and their models) by name, and user tasks from ``package.module:function``.

``names()`` lists the registered tasks; ``get(spec, seed=...)`` builds one: ``spec`` is a
registered name or ``"package.module:function"``, a function that takes the seed and returns a
``Task`` (for example a ``ClassificationTask`` of the user's tensors). ``info(spec)`` is what
training knows about a registered task before loading it (``TaskInfo``: quality metric, solver,
time grid), read without importing torch; ``quality(spec)`` is the quality metric the search
optimises and its direction.

A new task is one new module with a ``Task`` subclass that has a ``load(*, seed, data_dir)``
classmethod and names its entry (``registered="name"``), plus one ``TaskInfo`` in
``study.tasks.registry``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING

from study.debug import describe
from study.imports import is_path, lazy_exports, load
from study.tasks.registry import ODE_SOLVER, QUALITIES, REGISTRY, TaskInfo

if TYPE_CHECKING:
    from study.tasks.base import Task

# Imported on first use: the registry and its functions load no torch, no data and no sklearn.
_EXPORTS = {
    "SPLITS": "base",
    "ClassificationTask": "classification",
    "Defaults": "base",
    "ODEClassifier": "classification",
    "SolverSettings": "base",
    "Task": "base",
    "TaskModel": "base",
    "split_indices": "base",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


class TaskError(ValueError):
    """A user's task function raised; the message names the task and the exception, and the
    exception is the cause (``--debug`` shows its traceback)."""


def names() -> list[str]:
    """Registered task names."""
    return list(REGISTRY)


def check_spec(spec: str) -> str:
    """``spec`` if it is a registered name or has the form ``package.module:function``, else a
    ``ValueError`` naming the accepted forms (nothing is imported)."""
    if isinstance(spec, str) and (spec in REGISTRY or is_path(spec)):
        return spec
    raise ValueError(
        f"unknown task {spec!r}: accepted are {', '.join(names())} or "
        "'package.module:function' (a function that takes a seed and returns a task)"
    )


def _attribute(spec: str, target: str):
    return load(target, label=f"task {spec!r}")


def get(spec: str, *, seed: int, data_dir: str | Path | None = None) -> Task:
    """The task ``spec`` with its splits for ``seed`` (deterministic for a seed).

    ``data_dir`` is where tasks that read files (``mnist``) find them; a user function receives it
    only if it has a ``data_dir`` parameter.
    """
    from study.tasks.base import Task

    check_spec(spec)
    if spec in REGISTRY:
        return _attribute(spec, REGISTRY[spec].target).load(seed=seed, data_dir=data_dir)
    function = _attribute(spec, spec)
    if not callable(function):
        raise ValueError(f"task {spec!r} is not a function")
    try:
        accepts_dir = "data_dir" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        accepts_dir = False
    try:
        task = function(seed, data_dir=data_dir) if accepts_dir else function(seed)
    except Exception as exc:  # the user's code: say what it raised, in one line
        raise TaskError(f"task {spec!r} raised {describe(exc)}") from exc
    if not isinstance(task, Task):
        raise ValueError(
            f"task {spec!r} returned {type(task).__name__}, not a study.tasks.Task (for example "
            "study.tasks.ClassificationTask(train=(X, y), val=(X, y), test=(X, y)))"
        )
    return task


def info(spec: str) -> TaskInfo | None:
    """What training knows about task ``spec`` before loading it (``TaskInfo``): a registered
    task's declaration, read without importing torch; ``None`` for a user function, whose task
    is known only once built (``TaskInfo.of``)."""
    check_spec(spec)
    return REGISTRY.get(spec)


def quality(spec: str) -> tuple[str, str]:
    """``(metric_name, direction)``: ``("val_accuracy", "maximize")`` or ``("val_loss",
    "minimize")``. Registered tasks answer without loading data; a user function is called with
    seed 0 to find its task's class."""
    declared = info(spec)
    if declared is not None:
        return declared.quality_objective()
    return get(spec, seed=0).quality_objective()


def solver_defaults(spec: str) -> dict[str, object]:
    """``{"method", "rtol", "atol"}`` a configuration of task ``spec`` uses unless it sets them:
    the registered task's own (read without loading data); the ODE default for a user
    function."""
    declared = info(spec)
    return dict(declared.solver_defaults if declared is not None else ODE_SOLVER)


__all__ = [
    "QUALITIES",
    "SPLITS",
    "ClassificationTask",
    "Defaults",
    "ODEClassifier",
    "SolverSettings",
    "Task",
    "TaskError",
    "TaskInfo",
    "TaskModel",
    "check_spec",
    "get",
    "info",
    "names",
    "quality",
    "solver_defaults",
    "split_indices",
]
