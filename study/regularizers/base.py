"""``Regularizer``: a named ``SolveHooks`` that declares its options; and the ``none`` baseline.

A regularizer declares, as class attributes:

- ``name``: its registry name (``--regularizer``); a class given by import path is known by that
  path (``package.module:Class``);
- ``options``: its options as ``study.params.Option`` declarations (name, domain, default, one
  line of help). Everything else is derived from them: ``TrainConfig`` keys, ``study train``
  flags, experiment TOML keys under ``[search.<regularizer>]``, Optuna parameter names and the
  export's columns. The constructor takes exactly these options, validated;
- ``solves``: the kinds of solve it works on (``"ode"``, ``"sde"``);
- ``penalised``: whether it adds a penalty (a weight applies); ``default_weight``: the weight for
  tasks that name none for it (``None``: such a task needs an explicit weight).

It then overrides the ``SolveHooks`` it needs (``check``, ``end_time``, ``selector``,
``augment``, ``penalty``), reading the solve through the ``SolveContext`` it is given, and may
refuse a task before anything is loaded (``check_task``, given the task's ``TaskInfo``).

The project's regularizers import torch inside the methods that compute (``import torch`` in
``penalty``, ``augment``, ...), never at module level: their declarations are what the command
line, configuration checks and experiment validation read, and those load without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from study.nde.hooks import SolveHooks, SolveSpec
from study.params import Option

if TYPE_CHECKING:
    from study.tasks import TaskInfo


class Regularizer(SolveHooks):
    """Base of every regularizer (see the module docstring)."""

    name: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    solves: ClassVar[tuple[str, ...]] = ("ode",)
    penalised: ClassVar[bool] = True
    default_weight: ClassVar[float | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = f"{cls.__module__}:{cls.__qualname__}"

    def __init__(self, **values: Any):
        names = [option.name for option in self.options]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)} for regularizer {self.name!r}: "
                f"accepted are {', '.join(names) if names else 'none'}"
            )
        for option in self.options:
            setattr(self, option.name, option.check(values.get(option.name, option.default)))

    def option_values(self) -> dict[str, Any]:
        """The options this instance was made with, by name (stored with every trial)."""
        return {option.name: getattr(self, option.name) for option in self.options}

    def check(self, spec: SolveSpec) -> None:
        if spec.kind not in self.solves:
            raise ValueError(
                f"the {self.name} regularizer does not work on {spec.kind.upper()} solves "
                f"(method {spec.method!r})"
            )

    def check_task(self, task: TaskInfo) -> None:
        """Raise ``ValueError`` when this regularizer, with its options, cannot train on ``task``
        (what training knows before loading it: its solver, its time grid's ``min_last_gap``)."""

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.option_values().items())
        return f"{type(self).__name__}({opts})"


class NoRegularizer(Regularizer):
    """Vanilla training: every comparison is a ratio against it."""

    name = "none"
    solves = ("ode", "sde")
    penalised = False
