"""``TrainConfig``: one training run's settings, validated.

Field names are the project's single names for these concepts: the ``study train`` flags (with
``-`` for ``_``), the experiment keys, the Optuna parameter names and the export's columns. The
chosen regularizer's options are not fields of their own: they are declared by the regularizer
(``study.regularizers``) and held in ``options``, filled with their declared defaults and
validated by their declarations; ``TrainConfig(regularizer="taynode", order=3)`` and
``from_dict`` accept them as flat keys, ``to_dict`` writes them flat (``order``, ``sampling``,
``b``...), and an option the regularizer does not declare is an error naming those it does.

``None`` for ``weight``, ``weight_final``, ``epochs``, ``batch_size`` and ``lr`` means "the task's
default"; ``None`` for ``method``, ``rtol`` and ``atol`` is replaced by the task's solver
(``dopri5`` at ``1e-6`` for ODE tasks; SDE tasks name an SDE method). The schedule: with neither
``weight`` nor ``weight_final`` given, the task's default schedule for the regularizer is used;
with ``weight`` alone the weight is constant; ``weight_final`` alone decays from the task's
default weight to it. A regularizer that adds no penalty (``none``, ``steer``) takes no weight.

Validation is training's own and loads no torch and no data: a registered task's declaration
(``study.tasks.info``) tells its solver's kind, so an SDE method on an ODE task (or the reverse)
is refused, and the regularizer checks its options against the task (``check_task``: STEER's
``b`` against the task's last time gap). A user's task function is known only when called:
training checks the task it returns the same way (``check_task``) before building its model.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from study import regularizers, tasks
from study.nde.methods import METHODS, SDE_METHODS, check_solver, kind, parse_adjoint
from study.params import NON_NEGATIVE, POSITIVE, Choice, Integer

#: The solver step budget of a training solve: exceeding it means the run diverged.
TRAIN_MAX_STEPS = 2000
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, init=False)
class TrainConfig:
    """One training run. See the module docstring for the options and the ``None`` defaults."""

    task: str = field(default="digits", metadata=_help(
        "a registered task or package.module:function, a function of the seed returning a "
        "study.tasks.Task"))
    regularizer: str = field(default="none", metadata=_help(
        "a registered regularizer or package.module:Class, a subclass of "
        "study.regularizers.Regularizer"))
    options: Mapping[str, Any] = field(default_factory=dict, metadata=_help(
        "the regularizer's declared options, by name"))
    weight: float | None = field(default=None, metadata=_help(
        "penalty weight (constant unless --weight-final is given)"))
    weight_final: float | None = field(default=None, metadata=_help(
        "decay the weight exponentially to this over training (with --weight alone: constant)"))
    method: str | None = field(default=None, metadata=_help(
        "adaptive solver, of the task's kind"))
    rtol: float | None = field(default=None, metadata=_help("relative tolerance"))
    atol: float | None = field(default=None, metadata=_help("absolute tolerance"))
    adjoint: bool | str = field(default=False, metadata=_help(
        "gradients: false (backpropagation), true (continuous adjoint) or seminorm"))
    warm_steps: bool = field(default=False, metadata=_help(
        "start each training solve from the step size the previous batch's solve proposed "
        "(true) instead of the solver's own first step (false)"))
    epochs: int | None = field(default=None, metadata=_help("training epochs"))
    batch_size: int | None = field(default=None, metadata=_help(
        "batch size, also for prediction"))
    lr: float | None = field(default=None, metadata=_help("Adam learning rate"))
    seed: int = field(default=0, metadata=_help(
        "seed of the data split, initialisation and training"))
    device: str = field(default="auto", metadata=_help(
        "auto, cpu, cuda or cuda:N (auto: CUDA when available)"))
    data_dir: str | None = field(default=None, metadata=_help(
        "directory of the task's data files (mnist: the IDX files)"))
    max_steps: int = field(default=TRAIN_MAX_STEPS, metadata=_help(
        "solver step budget per solve; exceeding it means the run diverged"))

    def __init__(self, **values: Any):
        core = set(field_names())
        options = dict(values.pop("options", None) or {})
        options.update({k: values.pop(k) for k in list(values) if k not in core})
        for f in dataclasses.fields(self):
            if f.name in values:
                value = values[f.name]
            else:
                value = f.default_factory() if f.default is dataclasses.MISSING else f.default
            object.__setattr__(self, f.name, value)
        object.__setattr__(self, "options", options)
        self._validate()

    def _put(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _validate(self) -> None:
        self._put("task", tasks.check_spec(self.task))
        cls = regularizers.resolve(self.regularizer)
        self._put("options", _checked_options(cls, self.regularizer, self.options))
        for name in ("weight", "weight_final"):
            if getattr(self, name) is not None:
                if not cls.penalised:
                    raise ValueError(f"regularizer {self.regularizer!r} adds no penalty: "
                                     f"{name} does not apply")
                self._put(name, NON_NEGATIVE.check(name, getattr(self, name)))
        solver = tasks.solver_defaults(self.task)
        for name in ("method", "rtol", "atol"):
            if getattr(self, name) is None:
                self._put(name, solver[name])
        self._put("method", Choice(METHODS + SDE_METHODS).check("method", self.method))
        task = tasks.info(self.task)
        if task is not None:
            self.check_task(task)
        self._put("adjoint", parse_adjoint(self.adjoint))
        self._put("warm_steps", Choice((False, True)).check("warm_steps", self.warm_steps))
        solves = kind(self.method)
        spec = check_solver(solves, SDE_METHODS if solves == "sde" else METHODS, self.method,
                            self.rtol, self.atol, self.adjoint, None)
        self._put("rtol", spec.rtol)
        self._put("atol", spec.atol)
        for name in ("epochs", "batch_size"):
            if getattr(self, name) is not None:
                self._put(name, Integer(1).check(name, getattr(self, name)))
        if self.lr is not None:
            self._put("lr", POSITIVE.check("lr", self.lr))
        self._put("seed", Integer(0).check("seed", self.seed))
        if not isinstance(self.device, str) or not _DEVICE.match(self.device):
            raise ValueError(
                f"unknown device {self.device!r}: accepted are auto, cpu, cuda and cuda:N"
            )
        if self.data_dir is not None:
            self._put("data_dir", str(self.data_dir))
        self._put("max_steps", Integer(1).check("max_steps", self.max_steps))
        # Combinations the regularizer refuses (global-error with the adjoint, ...) fail now.
        self.make_regularizer().check(spec)

    def check_task(self, task: tasks.TaskInfo) -> None:
        """Refuse what cannot train on ``task``: a method of the other kind (ODE or SDE) than the
        task's solver, or options the regularizer refuses for it (``Regularizer.check_task``)."""
        if kind(self.method) != task.kind:
            accepted = SDE_METHODS if task.kind == "sde" else METHODS
            raise ValueError(
                f"method {self.method!r} solves {kind(self.method).upper()}s and task "
                f"{self.task!r} is an {task.kind.upper()} task: accepted are "
                f"{', '.join(accepted)}"
            )
        self.make_regularizer().check_task(task)

    def make_regularizer(self) -> regularizers.Regularizer:
        return regularizers.make(self.regularizer, **self.options)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-able, the regularizer's options as flat keys."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        options = values.pop("options")
        at = list(values).index("regularizer") + 1
        items = list(values.items())
        return dict(items[:at] + list(options.items()) + items[at:])

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """A config from a mapping of setting names, options flat (missing ones take their
        defaults)."""
        if isinstance(values, TrainConfig):
            return values
        if not isinstance(values, Mapping):
            raise ValueError(f"a training configuration must be a mapping, got {values!r}")
        return cls(**values)


def _checked_options(cls: type[regularizers.Regularizer], name: str,
                     given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` checked against what regularizer ``cls`` declares, with its defaults filled."""
    declared = {option.name: option for option in cls.options}
    unknown = [key for key in given if key not in declared]
    if unknown:
        owners = {r: regularizers.option_names(r) for r in regularizers.names()}
        elsewhere = [r for r, names in owners.items() if set(unknown) <= set(names)]
        listed = ", ".join(declared) or "none"
        if elsewhere:
            raise ValueError(
                f"{', '.join(unknown)}: not an option of regularizer {name!r} (an option of "
                f"{', '.join(elsewhere)}); the options of {name!r} are: {listed}"
            )
        raise ValueError(
            f"unknown configuration field(s) {', '.join(unknown)}: accepted are "
            f"{', '.join(f for f in field_names() if f != 'options')} and the options of "
            f"regularizer {name!r}: {listed}"
        )
    return {key: option.check(given.get(key, option.default)) for key, option in declared.items()}


def field_names() -> list[str]:
    """``TrainConfig``'s own settings, in order (the regularizer's options come on top)."""
    return [f.name for f in dataclasses.fields(TrainConfig)]


def setting_help(name: str) -> str:
    """The one-line help of setting ``name`` (for command-line flags)."""
    return TrainConfig.__dataclass_fields__[name].metadata["help"]
