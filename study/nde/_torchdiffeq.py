"""Everything that touches torchdiffeq's private internals (pinned: torchdiffeq==0.2.5).

torchdiffeq exposes no hook that sees a solver's accepted steps together with their dense output
(its public ``callback_*`` hooks fire before the step's interpolant exists) or its Butcher
tableaus. This module adds, for each adaptive Runge-Kutta method, a subclass that reports every
step attempt to a ``StepRecorder``, registers it in torchdiffeq's solver table under a private
name, and reads the tableaus. ``tests/nde/test_torchdiffeq_internals.py`` pins this behaviour.
"""

from __future__ import annotations

import torch
import torchdiffeq
from torchdiffeq._impl.interp import _interp_evaluate
from torchdiffeq._impl.misc import _rms_norm
from torchdiffeq._impl.odeint import SOLVERS

from study.nde.tableau import Tableau

EXPECTED_VERSION = "0.2.5"
if torchdiffeq.__version__ != EXPECTED_VERSION:  # pragma: no cover - guarded by the exact pin
    raise ImportError(
        f"study.nde needs torchdiffeq=={EXPECTED_VERSION} (found {torchdiffeq.__version__}); "
        "it relies on that version's solver internals"
    )

ADAPTIVE_METHODS = ("dopri5", "bosh3", "adaptive_heun", "fehlberg2", "dopri8")
_PREFIX = "study:"

rms_norm = _rms_norm


def interpolate(coefficients: list[torch.Tensor], t0: torch.Tensor, t1: torch.Tensor,
                t: torch.Tensor) -> torch.Tensor:
    """Evaluate a step's dense output (torchdiffeq's quartic interpolant) at ``t``."""
    return _interp_evaluate(coefficients, t0, t1, t)


def tableau(method: str) -> Tableau:
    """The embedded Runge-Kutta pair that ``method`` steps with, as float64 tensors."""
    cls = SOLVERS[method]
    tab = cls.tableau
    return Tableau(
        name=method,
        order=cls.order,
        c=tab.alpha.to(torch.float64),
        a=[row.to(torch.float64) for row in tab.beta],
        b=tab.c_sol.to(torch.float64),
        e=tab.c_error.to(torch.float64),
    )


def _recording(base: type) -> type:
    class Recording(base):
        """``base`` reporting each step attempt (and, on demand, its stage calls) to a recorder."""

        def __init__(self, *args, recorder, **kwargs):
            super().__init__(*args, **kwargs)
            self._recorder = recorder
            recorder.norm = self.norm

        def _before_integrate(self, t):
            super()._before_integrate(t)
            self._recorder.begin(self.rk_state.dt)

        def _adaptive_step(self, rk_state):
            recorder = self._recorder
            with recorder.step_attempt(rk_state.t1):
                new = super()._adaptive_step(rk_state)
            accepted = bool(new.t1 > rk_state.t1)
            recorder.attempted(rk_state, new, accepted)
            return new

    Recording.__name__ = f"Recording{base.__name__}"
    return Recording


for _method in ADAPTIVE_METHODS:
    SOLVERS[_PREFIX + _method] = _recording(SOLVERS[_method])


def recording_method(method: str) -> str:
    """The private solver name under which ``method`` reports to a ``StepRecorder``."""
    return _PREFIX + method
