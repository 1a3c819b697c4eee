"""``Regularizer``: a named ``SolveHooks`` with validated options, and the ``none`` baseline."""

from __future__ import annotations

from collections.abc import Iterable

from study.nde.hooks import SolveHooks
from study.nde.sde_hooks import SDEHooks


def choice(name: str, value, accepted: Iterable) -> object:
    """``value`` if it is one of ``accepted``, else a ``ValueError`` naming both."""
    accepted = tuple(accepted)
    if value not in accepted:
        raise ValueError(
            f"unknown {name} {value!r}: accepted are {', '.join(repr(a) for a in accepted)}"
        )
    return value


def positive(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


class Regularizer(SolveHooks):
    """Base of every regularizer. ``name`` is the registry name (CLI ``--regularizer``)."""

    name: str = ""

    def options(self) -> dict[str, object]:
        """The options this instance was made with (stored with every trial)."""
        return {}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"


class NoRegularizer(Regularizer, SDEHooks):
    """Vanilla training: every comparison is a ratio against it."""

    name = "none"
