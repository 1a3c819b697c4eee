"""Regularizers by name or import path, their declared options, and penalty-weight schedules.

``make(spec, **options)`` builds one: ``spec`` is a registered name (``names()``) or
``"package.module:Class"``, a user's subclass of ``Regularizer``. ``resolve(spec)`` is the class,
whose ``options`` declare what ``make`` accepts (``Option`` with a ``Real``, ``Integer`` or
``Choice`` domain, re-exported here from ``study.params``). Training adds
``Schedule.at(step) * info.reg`` to the task loss. A new regularizer is one new module with a
``Regularizer`` subclass, plus one line in ``_REGISTRY``; a user's needs no edit of the project.
"""

from __future__ import annotations

from typing import Any

from study.imports import is_path, load
from study.params import NON_NEGATIVE, POSITIVE, Choice, Integer, Option, Real
from study.regularizers.base import NoRegularizer, Regularizer
from study.regularizers.global_estimates import GlobalError, GlobalStiffness
from study.regularizers.local import Local
from study.regularizers.rnode import RNODE
from study.regularizers.schedule import Schedule
from study.regularizers.steer import STEER
from study.regularizers.taynode import TayNODE

_REGISTRY: dict[str, type[Regularizer]] = {
    cls.name: cls
    for cls in (NoRegularizer, Local, GlobalError, GlobalStiffness, TayNODE, RNODE, STEER)
}


def names() -> list[str]:
    """Registered regularizer names, vanilla (``none``) first."""
    return list(_REGISTRY)


def is_spec(spec: Any) -> bool:
    """Whether ``spec`` names a regularizer (registered, or an import path), without importing."""
    return spec in _REGISTRY or is_path(spec)


def resolve(spec: str) -> type[Regularizer]:
    """The class ``spec`` names: a registered name or ``package.module:Class``."""
    if isinstance(spec, str) and spec in _REGISTRY:
        return _REGISTRY[spec]
    if not is_path(spec):
        raise ValueError(
            f"unknown regularizer {spec!r}: accepted are {', '.join(names())} or "
            "'package.module:Class' (a subclass of study.regularizers.Regularizer)"
        )
    cls = load(spec, label=f"regularizer {spec!r}")
    if not (isinstance(cls, type) and issubclass(cls, Regularizer)):
        raise ValueError(f"regularizer {spec!r} is not a subclass of "
                         "study.regularizers.Regularizer")
    return cls


def options(spec: str) -> tuple[Option, ...]:
    """The options regularizer ``spec`` declares."""
    return resolve(spec).options


def option_names(spec: str) -> list[str]:
    """The names of the options ``make(spec, ...)`` accepts."""
    return [option.name for option in options(spec)]


def supports_sde(spec: str) -> bool:
    """Whether regularizer ``spec`` also works on SDE solves (``study.nde.solve_sde``)."""
    return "sde" in resolve(spec).solves


def make(spec: str, **values: Any) -> Regularizer:
    """The regularizer ``spec`` with its options; ``ValueError`` names any bad value."""
    return resolve(spec)(**values)


__all__ = [
    "NON_NEGATIVE",
    "POSITIVE",
    "Choice",
    "Integer",
    "Local",
    "NoRegularizer",
    "Option",
    "Real",
    "Regularizer",
    "Schedule",
    "is_spec",
    "make",
    "names",
    "option_names",
    "options",
    "resolve",
    "supports_sde",
]
