"""Everything that touches torchdiffeq's private internals (pinned: torchdiffeq==0.2.5).

torchdiffeq exposes no hook that sees a solver's accepted steps together with their dense output
(its public ``callback_*`` hooks fire before the step's interpolant exists) or its Butcher
tableaus, and it reports failing dynamics by ``AssertionError``. This module adds, for each
adaptive Runge-Kutta method, a subclass that reports every step attempt to a
``study.nde.recorder.StepRecorder`` and raises the typed ``SolverError``s instead of assertions,
registers it in torchdiffeq's solver table under a private name (used for the forward solve and
the adjoint's backward solve alike), and reads the tableaus and the dense output.
``tests/nde/test_torchdiffeq_internals.py`` pins this behaviour.
"""

from __future__ import annotations

import torch
import torchdiffeq
from torchdiffeq._impl.interp import _interp_evaluate
from torchdiffeq._impl.misc import _rms_norm
from torchdiffeq._impl.odeint import SOLVERS

from study.nde.errors import NonFiniteState, SolverError, StepBudgetExceeded, StepSizeUnderflow
from study.nde.methods import METHODS
from study.nde.recorder import ODEStep, StepRecorder
from study.nde.runge_kutta import Tableau

EXPECTED_VERSION = "0.2.5"
if torchdiffeq.__version__ != EXPECTED_VERSION:  # pragma: no cover - guarded by the exact pin
    raise ImportError(
        f"study.nde needs torchdiffeq=={EXPECTED_VERSION} (found {torchdiffeq.__version__}); "
        "it relies on that version's solver internals"
    )

_PREFIX = "study:"

rms_norm = _rms_norm


def interpolate(step: ODEStep, t: torch.Tensor) -> torch.Tensor:
    """A step's dense output (torchdiffeq's quartic interpolant) at ``t``, from its detached
    coefficients."""
    coefficients = [c.detach() for c in step.interp]
    return _interp_evaluate(coefficients, step.t0.detach(), step.t1.detach(), t)


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


def typed_error(exc: AssertionError, time: float | None) -> SolverError:
    """The typed failure that torchdiffeq's assertion ``exc`` reports."""
    message = str(exc)
    where = f" at t={time:.6g}" if time is not None else ""
    if "underflow" in message:
        return StepSizeUnderflow(f"step size underflow{where}", time=time)
    if "non-finite" in message:
        return NonFiniteState(f"non-finite state (NaN/inf){where}", time=time)
    if "max_num_steps" in message:
        return StepBudgetExceeded(f"the solver exceeded its step budget{where}", time=time)
    return SolverError(f"solver failed{where}: {message}", time=time)


def _recording(base: type) -> type:
    class Recording(base):
        """``base`` reporting each step attempt (and, when steps are kept, its stage calls) to a
        recorder, with typed errors."""

        def __init__(self, *args, recorder: StepRecorder, **kwargs):
            super().__init__(*args, **kwargs)
            self._recorder = recorder
            recorder.norm = self.norm

        def integrate(self, t):
            try:
                return super().integrate(t)
            except AssertionError as exc:
                raise typed_error(exc, self._recorder.time) from exc

        def _adaptive_step(self, rk_state):
            recorder = self._recorder
            recorder.attempt(float(rk_state.t1.detach()), float(rk_state.dt.detach()))
            new = super()._adaptive_step(rk_state)
            stages = recorder.stages()
            if not bool(torch.isfinite(new.dt)):
                raise NonFiniteState(
                    "non-finite error estimate (NaN/inf in the dynamics) in the step from "
                    f"t={recorder.time:.6g}", time=recorder.time)
            if not bool(new.t1 > rk_state.t1):
                recorder.reject()
                return new
            if recorder.first_proposal is None:
                recorder.first_proposal = float(new.dt.detach())

            def step() -> ODEStep:
                return ODEStep(t0=new.t0, t1=new.t1, y0=rk_state.y1, y1=new.y1,
                               interp=new.interp_coeff,
                               ys=[rk_state.y1] + [y for y, _ in stages],
                               ks=[rk_state.f1] + [k for _, k in stages])

            recorder.accept(float(new.t0.detach()), float(new.t1.detach()), step)
            return new

    Recording.__name__ = f"Recording{base.__name__}"
    return Recording


for _method in METHODS:
    SOLVERS[_PREFIX + _method] = _recording(SOLVERS[_method])


def recording_method(method: str) -> str:
    """The private solver name under which ``method`` reports to a ``StepRecorder``."""
    return _PREFIX + method
