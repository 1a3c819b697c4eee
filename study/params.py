"""Declared parameters: what a value may be, checked in one place.

Every setting the project validates -- a regularizer's options, a training configuration's
numbers, a solver's tolerances -- is checked by a *domain* (``Real``, ``Integer``, ``Choice``),
which also says in words what it accepts, so that the error names the bad value and what would
be accepted. An ``Option`` is a declared parameter: name, domain, default and one line of help;
regularizers declare theirs (``study.regularizers``) and everything else -- configuration keys,
command-line flags, experiment keys, Optuna parameter names, export columns -- is derived from
that declaration.

Values may arrive as strings (command-line flags, environment variables): domains convert them.
This module imports nothing heavy, so command-line help and validation stay fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):  # True/False are not numbers here
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


@dataclass(frozen=True)
class Real:
    """A finite real number in an interval; ``None`` leaves a side open. ``closed`` names the
    sides that belong to it: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def contains(self, number: float) -> bool:
        if not math.isfinite(number):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and not (number >= self.low if left else number > self.low):
            return False
        return self.high is None or (number <= self.high if right else number < self.high)

    def describe(self) -> str:
        if self.high is None and self.low == 0:
            return "a positive number" if self.closed in ("neither", "right") else \
                "a non-negative number"
        if self.low is None and self.high is None:
            return "a finite number"
        lo = "(" if self.closed in ("neither", "right") else "["
        hi = ")" if self.closed in ("neither", "left") else "]"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"a number in {lo}{low}, {high}{hi}"

    def check(self, name: str, value: Any) -> float:
        number = _as_float(name, value)
        if not self.contains(number):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return number


POSITIVE = Real(0, None, closed="neither")
NON_NEGATIVE = Real(0, None, closed="left")


@dataclass(frozen=True)
class Integer:
    """An integer of at least ``low`` (and at most ``high`` when given)."""

    low: int | None = None
    high: int | None = None

    def describe(self) -> str:
        if self.high is None:
            return "an integer" if self.low is None else f"an integer of at least {self.low}"
        return f"an integer in [{self.low}, {self.high}]"

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        try:
            number = float(value) if isinstance(value, (float, str)) else value
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {value!r}") from None
        if not math.isfinite(number) or number != int(number):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        number = int(number)
        if (self.low is not None and number < self.low) or (
                self.high is not None and number > self.high):
            raise ValueError(f"{name} must be {self.describe()}, got {value!r}")
        return number


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (strings, numbers or booleans); a string from the command line is
    converted to the matching value (``"3"`` -> ``3``, ``"true"`` -> ``True``)."""

    values: tuple

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def check(self, name: str, value: Any) -> Any:
        for accepted in self.values:
            if _same(value, accepted):
                return accepted
        raise ValueError(
            f"unknown {name} {value!r}: accepted are {', '.join(repr(v) for v in self.values)}"
        )


def _same(value: Any, accepted: Any) -> bool:
    if isinstance(accepted, bool) or isinstance(value, bool):
        if isinstance(value, str):
            return value.lower() == str(accepted).lower()
        return value is accepted
    if isinstance(value, str) and not isinstance(accepted, str):
        try:
            return type(accepted)(value) == accepted
        except ValueError:
            return False
    return type(value) in (int, float, str) and value == accepted


Domain = Real | Integer | Choice


@dataclass(frozen=True)
class Option:
    """A declared parameter: its ``name`` (the project's one name for it: flag, key, column),
    ``domain``, ``default`` and one line of ``help``."""

    name: str
    domain: Domain
    default: Any
    help: str

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"option name {self.name!r} must be a Python identifier")
        self.check(self.default)

    def check(self, value: Any) -> Any:
        return self.domain.check(self.name, value)

    @property
    def integer(self) -> bool:
        """Whether a searched range of this option is an integer range."""
        if isinstance(self.domain, Integer):
            return True
        return isinstance(self.domain, Choice) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in self.domain.values)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def positive(name: str, value: Any) -> float:
    """``value`` as a positive finite float, else a ``ValueError`` naming it."""
    return POSITIVE.check(name, value)


def non_negative(name: str, value: Any) -> float:
    """``value`` as a non-negative finite float, else a ``ValueError`` naming it."""
    return NON_NEGATIVE.check(name, value)


def integer(name: str, value: Any, *, minimum: int) -> int:
    """``value`` as an integer of at least ``minimum``, else a ``ValueError`` naming it."""
    return Integer(minimum).check(name, value)


def choice(name: str, value: Any, accepted: Sequence) -> Any:
    """``value`` if it is one of ``accepted`` (strings converted), else a ``ValueError``."""
    return Choice(tuple(accepted)).check(name, value)
