"""What ODE and SDE solves share: the regularizer's check, warm-started steps and the
``nn.Module`` base (the settings' checks, which need no torch, are in ``study.nde.methods``).

Warm-started steps (``first_step="warm"``): an adaptive solver's own start is cautious (the ODE
solvers' initial-step heuristic costs two evaluations and starts small, then grows steps at most
10x each; torchsde grows them at most 1.4x), so even dynamics that one step integrates within
tolerance take several steps. A warm start instead tries first the step size that the controller
proposed after the first accepted step of the previous solve of the same dynamics, capped at the
length of the integration interval. The memory is kept per dynamics object and separately for
each (training mode, method, rtol, atol, direction), so a validation pass does not disturb the
training solves and vice versa; it lives only in memory (not in ``state_dict``). Tolerances still
hold: a step that is too large is rejected and shrunk like any other step.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import nn

from study.nde.hooks import SolveHooks, SolveSpec
from study.nde.info import SolveInfo
from study.nde.recorder import DEFAULT_MAX_STEPS


def check_hooks(regularizer: SolveHooks | None, spec: SolveSpec) -> SolveHooks:
    """The regularizer's hooks after it accepted ``spec`` (no regularizer: the defaults)."""
    if regularizer is None:
        return SolveHooks()
    if not isinstance(regularizer, SolveHooks):
        raise ValueError(f"a regularizer must be a study.nde.SolveHooks (study.regularizers), "
                         f"got {type(regularizer).__name__}")
    regularizer.check(spec)
    return regularizer


class WarmSteps:
    """Per-dynamics memory of the step size to try first (see the module docstring)."""

    def __init__(self) -> None:
        self._memory: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @staticmethod
    def _key(dynamics, spec: SolveSpec, direction: int) -> tuple:
        training = bool(getattr(dynamics, "training", False))
        return (training, spec.kind, spec.method, spec.rtol, spec.atol, direction)

    def get(self, dynamics, spec: SolveSpec, direction: int) -> float | None:
        try:
            return self._memory.get(dynamics, {}).get(self._key(dynamics, spec, direction))
        except TypeError as exc:
            raise ValueError(
                f"first_step='warm' needs dynamics that can be weakly referenced (an nn.Module "
                f"or a function), got {type(dynamics).__name__}"
            ) from exc

    def put(self, dynamics, spec: SolveSpec, direction: int, value: float) -> None:
        self._memory.setdefault(dynamics, {})[self._key(dynamics, spec, direction)] = value


WARM = WarmSteps()


class DEBlock(nn.Module):
    """Base of ``NeuralODE`` and ``NeuralSDE``: a differential equation over ``t_span`` as a
    module. ``forward(y0)`` returns the final state, ``forward(y0, t)`` the states at every time
    of the grid ``t``. The last call's ``SolveInfo`` is kept on ``.info``. The regularizer is
    applied in training mode only: in ``eval()`` mode no regularization cost is paid."""

    def __init__(self, *, t_span: tuple[float, float], method: str, rtol: float, atol: float,
                 adjoint: bool | str, regularizer: SolveHooks | None,
                 first_step: float | str | None, max_steps: int = DEFAULT_MAX_STEPS):
        super().__init__()
        self.t_span = tuple(float(x) for x in t_span)
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.adjoint = adjoint
        self.regularizer = regularizer
        self.first_step = first_step
        self.max_steps = max_steps
        self.info: SolveInfo | None = None

    def settings(self) -> dict[str, Any]:
        """The keyword arguments of this block's solve function."""
        return {"method": self.method, "rtol": self.rtol, "atol": self.atol,
                "adjoint": self.adjoint, "first_step": self.first_step,
                "max_steps": self.max_steps,
                "regularizer": self.regularizer if self.training else None}

    def solve(self, y0: torch.Tensor, t: torch.Tensor, **kwargs: Any
              ) -> tuple[torch.Tensor, SolveInfo]:
        raise NotImplementedError

    def forward(self, y0: torch.Tensor, t: torch.Tensor | None = None,
                **kwargs: Any) -> torch.Tensor:
        grid = t is not None
        times = t if grid else torch.tensor(self.t_span, dtype=y0.dtype, device=y0.device)
        ys, self.info = self.solve(y0, times, **self.settings(), **kwargs)
        return ys if grid else ys[-1]


