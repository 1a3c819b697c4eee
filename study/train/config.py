"""``TrainConfig``: one training run's settings, validated.

Field names are the project's single names for these concepts: the ``study train`` flags (with
``-`` for ``_``), the Optuna parameter names and the export's columns. ``None`` for ``weight``,
``weight_final``, ``epochs``, ``batch_size`` and ``lr`` means "the task's default"; ``None`` for
``method``, ``rtol`` and ``atol`` is replaced by the task's solver (``dopri5`` at ``1e-6`` for ODE
tasks; SDE tasks name an SDE method, see ``study.nde.SDE_METHODS``). The schedule:
with neither ``weight`` nor ``weight_final`` given, the task's default schedule for the
regularizer is used; with ``weight`` alone the weight is constant; ``weight_final`` alone decays
from the task's default weight to it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from study import regularizers, tasks
from study.nde import METHODS, SDE_METHODS, SDEHooks

ADJOINTS = (False, True, "seminorm")
DEFAULT_MAX_STEPS = 2000
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def _number(name: str, value, *, positive: bool, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        value = "bool"  # True/False are not numbers here
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    ok = number > 0 if positive else number >= 0
    if not ok or math.isinf(number):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {kind} finite number, got {value!r}")
    return number


def _integer(name: str, value, *, minimum: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        number = int(value) if not isinstance(value, float) else value
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number != int(number) or int(number) < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(number)


def _choice(name: str, value, accepted) -> Any:
    if value not in accepted or isinstance(value, bool) != isinstance(accepted[0], bool):
        raise ValueError(
            f"unknown {name} {value!r}: accepted are {', '.join(repr(a) for a in accepted)}"
        )
    return value


def parse_adjoint(value) -> bool | str:
    """``False``, ``True`` or ``"seminorm"``, also from the strings ``false``/``true``."""
    if isinstance(value, str) and value.lower() in ("false", "true", "seminorm"):
        return {"false": False, "true": True}.get(value.lower(), "seminorm")
    if value is False or value is True or value == "seminorm":
        return value
    raise ValueError(f"unknown adjoint {value!r}: accepted are false, true and seminorm")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. See the module docstring for how ``None`` defaults resolve."""

    task: str = "digits"
    regularizer: str = "none"
    sampling: str = "unbiased"
    estimate: str = "error"
    order: int = 2
    kinetic: float = 1.0
    jacobian: float = 1.0
    b: float = 0.5
    weight: float | None = None
    weight_final: float | None = None
    method: str | None = None
    rtol: float | None = None
    atol: float | None = None
    adjoint: bool | str = False
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None
    max_steps: int = DEFAULT_MAX_STEPS

    def __post_init__(self) -> None:
        def put(name: str, value) -> None:
            object.__setattr__(self, name, value)

        put("task", tasks.check_spec(self.task))
        if self.regularizer not in regularizers.names():
            raise ValueError(
                f"unknown regularizer {self.regularizer!r}: accepted are "
                f"{', '.join(regularizers.names())}"
            )
        put("sampling", _choice("sampling", self.sampling, regularizers.SAMPLINGS))
        put("estimate", _choice("estimate", self.estimate, regularizers.ESTIMATES))
        put("order", _choice("order", _integer("order", self.order, minimum=0),
                             regularizers.ORDERS))
        put("kinetic", _number("kinetic", self.kinetic, positive=False))
        put("jacobian", _number("jacobian", self.jacobian, positive=False))
        put("b", _number("b", self.b, positive=True))
        put("weight", _number("weight", self.weight, positive=False, allow_none=True))
        put("weight_final",
            _number("weight_final", self.weight_final, positive=False, allow_none=True))
        solver = tasks.solver_defaults(self.task)
        for name in ("method", "rtol", "atol"):
            if getattr(self, name) is None:
                put(name, solver[name])
        put("method", _choice("method", self.method, METHODS + SDE_METHODS))
        put("rtol", _number("rtol", self.rtol, positive=True))
        put("atol", _number("atol", self.atol, positive=False))
        put("adjoint", parse_adjoint(self.adjoint))
        put("epochs", _integer("epochs", self.epochs, minimum=1, allow_none=True))
        put("batch_size", _integer("batch_size", self.batch_size, minimum=1, allow_none=True))
        put("lr", _number("lr", self.lr, positive=True, allow_none=True))
        put("seed", _integer("seed", self.seed, minimum=0))
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ValueError(
                f"unknown device {self.device!r}: accepted are auto, cpu, cuda and cuda:N"
            )
        if self.data_dir is not None:
            put("data_dir", str(self.data_dir))
        put("max_steps", _integer("max_steps", self.max_steps, minimum=1))
        # Combinations the regularizer refuses (global-error with the adjoint, ...) fail now.
        regularizer = self.make_regularizer()
        if self.method not in SDE_METHODS:
            regularizer.check(method=self.method, adjoint=self.adjoint)
        elif not isinstance(regularizer, SDEHooks):
            raise ValueError(
                f"the {self.regularizer} regularizer does not work on SDE solves (method "
                f"{self.method!r}): accepted there are "
                f"{', '.join(n for n in regularizers.names() if regularizers.supports_sde(n))}"
            )
        elif self.adjoint == "seminorm":
            raise ValueError("SDE solves accept adjoint false or true, not seminorm")
        else:
            regularizer.check_sde(method=self.method, adjoint=self.adjoint)

    def regularizer_options(self) -> dict[str, Any]:
        """The fields that are options of the chosen regularizer, by name."""
        return {name: getattr(self, name) for name in regularizers.option_names(self.regularizer)}

    def make_regularizer(self) -> regularizers.Regularizer:
        return regularizers.make(self.regularizer, **self.regularizer_options())

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-able."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """A config from a mapping of field names (missing fields take their defaults)."""
        if isinstance(values, TrainConfig):
            return values
        if not isinstance(values, Mapping):
            raise ValueError(f"a training configuration must be a mapping, got {values!r}")
        unknown = sorted(set(values) - set(field_names()))
        if unknown:
            raise ValueError(
                f"unknown configuration field(s) {', '.join(unknown)}: accepted are "
                f"{', '.join(field_names())}"
            )
        return cls(**values)


def field_names() -> list[str]:
    """``TrainConfig``'s field names, in order."""
    return [f.name for f in dataclasses.fields(TrainConfig)]
