"""The interface between a solve and a regularizer.

A solve asks its regularizer, in this order: is this combination valid (``check``)? which end
time (``end_time``)? which accepted step to keep (``selector``)? extra integrated states
(``augment``)? and after the forward solve, the penalty (``penalty``). Every regularizer in
``study.regularizers`` is a ``SolveHooks``; a new one overrides only what it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from study.nde.recorder import Selector, StepRecorder
from study.nde.tableau import Tableau

# Augmented dynamics on the state tuple (y, *extra) and the initial extra states.
Augmentation = tuple[Callable[[torch.Tensor, tuple], tuple], tuple[torch.Tensor, ...]]


@dataclass
class SolveContext:
    """What a regularizer sees after the forward solve. Calls of ``field`` count as ``reg_nfe``."""

    field: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    tableau: Tableau
    rtol: float
    atol: float
    norm: Callable[[torch.Tensor], torch.Tensor]
    t: torch.Tensor
    ys: torch.Tensor
    extra: tuple[torch.Tensor, ...]
    recorder: StepRecorder


@dataclass
class Penalty:
    value: torch.Tensor
    time: float | None = None
    step: float | None = None
    state: torch.Tensor | None = None


class SolveHooks:
    """Default hooks: no check, the given end time, nothing kept, no extra state, no penalty."""

    #: keep every accepted step's stage evaluations (with their autograd graph)
    keep_stages: bool = False

    def check(self, *, method: str, adjoint: bool | str) -> None:
        """Raise ``ValueError`` when this regularizer cannot work with the solve's settings."""

    def end_time(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def selector(self, t0: float, t1: float) -> Selector | None:
        return None

    def augment(self, field: Callable, y0: torch.Tensor) -> Augmentation | None:
        return None

    def penalty(self, ctx: SolveContext) -> Penalty:
        return Penalty(ctx.ys.new_zeros(()))
