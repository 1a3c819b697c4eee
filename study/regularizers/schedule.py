"""Penalty weights over training: constant, or exponential decay from ``weight`` to
``weight_final`` (``weight * exp(-k * ln(weight / weight_final) / N)`` at step ``k`` of ``N``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from study.params import non_negative


@dataclass(frozen=True)
class Schedule:
    """``Schedule(weight)`` is constant; with ``weight_final`` it decays exponentially over
    ``total_steps`` optimisation steps. ``at(step)`` is the weight to use at ``step``."""

    weight: float
    weight_final: float | None = None
    total_steps: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", non_negative("weight", self.weight))
        if self.weight_final is not None:
            final = non_negative("weight_final", self.weight_final)
            object.__setattr__(self, "weight_final", final)
            if (final == 0) != (self.weight == 0):
                raise ValueError(
                    "an exponential schedule needs weight and weight_final both positive "
                    f"(got weight={self.weight}, weight_final={final}); omit weight_final for a "
                    "constant weight"
                )
        if int(self.total_steps) < 1:
            raise ValueError(f"total_steps must be at least 1, got {self.total_steps!r}")

    @property
    def kind(self) -> str:
        constant = self.weight_final is None or self.weight_final == self.weight
        return "constant" if constant else "exponential"

    def at(self, step: int) -> float:
        if self.kind == "constant":
            return self.weight
        fraction = min(max(step, 0), self.total_steps) / self.total_steps
        return self.weight * math.exp(-fraction * math.log(self.weight / self.weight_final))
