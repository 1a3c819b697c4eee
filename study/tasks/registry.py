"""The registered tasks, and what training knows about a task before loading it (``TaskInfo``).

Nothing here imports torch: configuration checks, experiments and the command line read a
registered task's quality metric and solver from this table without importing the
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
    is the task's: ``kind`` is ``"ode"`` or ``"sde"``). ``target`` is the ``"module:Class"`` of a
    registered task.
    """

    name: str
    quality: str
    solver_defaults: Mapping[str, Any] = field(default_factory=lambda: dict(ODE_SOLVER))
    target: str | None = None

    @property
    def kind(self) -> str:
        return kind(self.solver_defaults["method"])

    def quality_objective(self) -> tuple[str, str]:
        """``(metric_name, direction)`` the search optimises, e.g. ``("val_accuracy",
        "maximize")``."""
        return f"val_{self.quality}", QUALITIES[self.quality]


REGISTRY: dict[str, TaskInfo] = {info.name: info for info in (
    TaskInfo("digits", "accuracy", target="study.tasks.digits:Digits"),
    TaskInfo("mnist", "accuracy", target="study.tasks.mnist:MNIST"),
    TaskInfo("spiral", "loss", target="study.tasks.spiral:Spiral"),
    # Milstein (one drift and one diffusion call per step) with step doubling at tolerance 1e-2:
    # the error estimate, not the step-size ramp, sets the steps, and a run takes seconds on a
    # CPU.
    TaskInfo("spiral-sde", "loss", {"method": "milstein", "rtol": 1e-2, "atol": 1e-2},
             target="study.tasks.spiral_sde:SpiralSDE"),
    # Additive noise: Milstein is Euler-Maruyama there (one drift, one diffusion call per step,
    # no diffusion derivative), of strong order 1.
    TaskInfo("digits-sde", "accuracy", {"method": "milstein", "rtol": 1e-3, "atol": 1e-3},
             target="study.tasks.digits_sde:DigitsSDE"),
    TaskInfo("vowels", "loss", target="study.tasks.vowels:Vowels"),
)}
