"""Tasks (data sets and their models) by name, and user tasks from ``package.module:function``.

``names()`` lists the registered tasks; ``get(spec, seed=...)`` builds one: ``spec`` is a
registered name or ``"package.module:function"``, a function that takes the seed and returns a
``Task`` (for example a ``ClassificationTask`` of the user's tensors). ``quality(spec)`` is the
quality metric the search optimises and its direction, read without loading data for registered
names.

A new task is one new module with a ``Task`` subclass that has a ``load(*, seed, data_dir)``
classmethod, plus one line in ``_REGISTRY``.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from study._imports import is_path, load
from study.tasks.base import (
    QUALITIES,
    SPLITS,
    Defaults,
    SolverSettings,
    Task,
    TaskModel,
    split_indices,
)
from study.tasks.classification import ClassificationTask, ODEClassifier

# name -> "module:class"; imported on first use, so listing tasks loads no data and no sklearn.
_REGISTRY: dict[str, str] = {
    "digits": "study.tasks.digits:Digits",
    "mnist": "study.tasks.mnist:MNIST",
    "spiral": "study.tasks.spiral:Spiral",
    "spiral-sde": "study.tasks.spiral_sde:SpiralSDE",
    "digits-sde": "study.tasks.digits_sde:DigitsSDE",
    "vowels": "study.tasks.vowels:Vowels",
}



def names() -> list[str]:
    """Registered task names."""
    return list(_REGISTRY)


def check_spec(spec: str) -> str:
    """``spec`` if it is a registered name or has the form ``package.module:function``, else a
    ``ValueError`` naming the accepted forms (nothing is imported)."""
    if isinstance(spec, str) and (spec in _REGISTRY or is_path(spec)):
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
    check_spec(spec)
    if spec in _REGISTRY:
        return _attribute(spec, _REGISTRY[spec]).load(seed=seed, data_dir=data_dir)
    function = _attribute(spec, spec)
    if not callable(function):
        raise ValueError(f"task {spec!r} is not a function")
    try:
        accepts_dir = "data_dir" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        accepts_dir = False
    task = function(seed, data_dir=data_dir) if accepts_dir else function(seed)
    if not isinstance(task, Task):
        raise ValueError(
            f"task {spec!r} returned {type(task).__name__}, not a study.tasks.Task (for example "
            "study.tasks.ClassificationTask(train=(X, y), val=(X, y), test=(X, y)))"
        )
    return task


def quality(spec: str) -> tuple[str, str]:
    """``(metric_name, direction)``: ``("val_accuracy", "maximize")`` or ``("val_loss",
    "minimize")``. Registered tasks answer without loading data; a user function is called with
    seed 0 to find its task's class."""
    check_spec(spec)
    if spec in _REGISTRY:
        return _attribute(spec, _REGISTRY[spec]).quality_objective()
    return get(spec, seed=0).quality_objective()


def solver_defaults(spec: str) -> dict[str, object]:
    """``{"method", "rtol", "atol"}`` a configuration of task ``spec`` uses unless it sets them:
    the registered task's own (read without loading data); ``Task``'s ODE default for a user
    function."""
    check_spec(spec)
    cls = _attribute(spec, _REGISTRY[spec]) if spec in _REGISTRY else Task
    return dict(cls.solver_defaults)


__all__ = [
    "QUALITIES",
    "SPLITS",
    "ClassificationTask",
    "Defaults",
    "ODEClassifier",
    "SolverSettings",
    "Task",
    "TaskModel",
    "check_spec",
    "get",
    "names",
    "quality",
    "solver_defaults",
    "split_indices",
]
