"""The registered tasks, and what training knows about a task before loading it (``TaskInfo``).

Nothing here imports torch: configuration checks, experiments and the command line read a
registered task's quality metric, solver and time grid from this table without importing the
task's module or loading its data. A registered ``Task`` class takes these values as its class
attributes (``class Digits(ClassificationTask, registered="digits")``), so they are declared once,
here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from study.nde.methods import kind

#: Quality metrics and the direction a search optimises them in.
QUALITIES = {"accuracy": "maximize", "loss": "minimize"}
#: The solver of a task that names none (ODE tasks).
ODE_SOLVER: Mapping[str, Any] = {"method": "dopri5", "rtol": 1e-6, "atol": 1e-6}


@dataclass(frozen=True)
class TaskInfo:
    """A task as training sees it before loading it.

    ``quality`` is ``"accuracy"`` (maximised) or ``"loss"`` (minimised); ``solver_defaults`` the
    ``method``, ``rtol`` and ``atol`` a configuration uses unless it sets them (the method's kind
    is the task's: ``kind`` is ``"ode"`` or ``"sde"``); ``min_last_gap`` the smallest gap between
    the last two times of any solve of the task's model (STEER moves the end time by less than
    it), ``None`` where not known. ``target`` is the ``"module:Class"`` of a registered task.
    """

    name: str
    quality: str
    solver_defaults: Mapping[str, Any] = field(default_factory=lambda: dict(ODE_SOLVER))
    min_last_gap: float | None = None
    target: str | None = None

    @property
    def kind(self) -> str:
        return kind(self.solver_defaults["method"])

    def quality_objective(self) -> tuple[str, str]:
        """``(metric_name, direction)`` the search optimises, e.g. ``("val_accuracy",
        "maximize")``."""
        return f"val_{self.quality}", QUALITIES[self.quality]

    @classmethod
    def of(cls, task: Any, *, name: str) -> TaskInfo:
        """The info a built ``Task`` declares (a user's task is known only once built)."""
        return cls(name=name, quality=task.quality, solver_defaults=dict(task.solver_defaults),
                   min_last_gap=task.min_last_gap)


REGISTRY: dict[str, TaskInfo] = {info.name: info for info in (
    # The classifier integrates over t in [0, 1].
    TaskInfo("digits", "accuracy", min_last_gap=1.0, target="study.tasks.digits:Digits"),
    TaskInfo("mnist", "accuracy", min_last_gap=1.0, target="study.tasks.mnist:MNIST"),
    # The grid's last gap is at least 1 by construction (study.tasks.spiral).
    TaskInfo("spiral", "loss", min_last_gap=1.0, target="study.tasks.spiral:Spiral"),
    # Milstein (one drift and one diffusion call per step) with step doubling at tolerance 1e-2:
    # the error estimate, not the step-size ramp, sets the steps, and a run takes seconds on a
    # CPU.
    TaskInfo("spiral-sde", "loss", {"method": "milstein", "rtol": 1e-2, "atol": 1e-2},
             target="study.tasks.spiral_sde:SpiralSDE"),
    # Additive noise: Milstein is Euler-Maruyama there (one drift, one diffusion call per step,
    # no diffusion derivative), of strong order 1.
    TaskInfo("digits-sde", "accuracy", {"method": "milstein", "rtol": 1e-3, "atol": 1e-3},
             target="study.tasks.digits_sde:DigitsSDE"),
    # Frames at the integer times 0, 1, ..., 28.
    TaskInfo("vowels", "loss", min_last_gap=1.0, target="study.tasks.vowels:Vowels"),
)}
