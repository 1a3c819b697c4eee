"""Regularizers by name, and penalty-weight schedules.

``make(name, **options)`` builds one; ``names()`` lists them. Training adds
``Schedule.at(step) * info.reg`` to the task loss. A new regularizer is one new module with a
``Regularizer`` subclass, added to ``_REGISTRY``.
"""

from __future__ import annotations

import inspect

from study.nde.sde_hooks import SDEHooks
from study.regularizers.base import NoRegularizer, Regularizer
from study.regularizers.global_estimates import GlobalError, GlobalStiffness
from study.regularizers.local import ESTIMATES, SAMPLINGS, Local
from study.regularizers.rnode import RNODE
from study.regularizers.schedule import Schedule
from study.regularizers.steer import STEER
from study.regularizers.taynode import ORDERS, TayNODE

_REGISTRY: dict[str, type[Regularizer]] = {
    cls.name: cls
    for cls in (NoRegularizer, Local, GlobalError, GlobalStiffness, TayNODE, RNODE, STEER)
}


def names() -> list[str]:
    """Registered regularizer names, vanilla (``none``) first."""
    return list(_REGISTRY)


def supports_sde(name: str) -> bool:
    """Whether regularizer ``name`` also works on SDE solves (``study.nde.solve_sde``)."""
    return issubclass(_lookup(name), SDEHooks)


def option_names(name: str) -> list[str]:
    """The options ``make(name, ...)`` accepts."""
    return [p for p in inspect.signature(_lookup(name)).parameters if p != "self"]


def _lookup(name: str) -> type[Regularizer]:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown regularizer {name!r}: accepted are {', '.join(names())}"
        ) from None


def make(name: str, **options) -> Regularizer:
    """The regularizer ``name`` with ``options``; ``ValueError`` names any bad value."""
    cls = _lookup(name)
    accepted = option_names(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        listed = ", ".join(accepted) if accepted else "none"
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for regularizer {name!r}: "
            f"accepted are {listed}"
        )
    return cls(**options)


__all__ = [
    "ESTIMATES",
    "ORDERS",
    "SAMPLINGS",
    "Regularizer",
    "Schedule",
    "make",
    "names",
    "option_names",
    "supports_sde",
]
