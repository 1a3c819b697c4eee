"""Everything that touches torchsde's private internals (pinned: torchsde==0.2.6).

torchsde's adaptive stepping (``adaptive=True``) is step doubling inside the private
``BaseSDESolver.integrate`` loop: each attempt from ``(t0, y0)`` with ``t1 = min(t0 + dt, ts[-1])``
calls the solver's ``step`` three times -- the full step ``t0 -> t1``, then the half steps
``t0 -> t_mid -> t1`` with ``t_mid = 0.5 * (t0 + t1)`` -- and accepts when the tolerance-scaled RMS
of the difference is at most 1 (or the step is at ``dt_min``). No public hook sees those steps, so
while a ``recording`` context is active, solver construction (``torchsde._core.methods.select``, the
function ``sdeint``/``sdeint_adjoint`` build their solver with) returns a solver whose ``step``
reports each attempt. An attempt is known accepted when the next one starts later (a rejected
attempt is retried from the same time) or when the solve ends (the loop only ends on an accepted
step). The solver itself is kept, so a regularizer can re-take a step-doubling attempt later
with the same step function on the same Brownian path. torchsde reports a NaN error estimate by
an ``AssertionError``: the solvers built for ``solve_sde`` (the adjoint's backward solve included)
raise the typed ``SolverError``s instead. ``tests/nde/test_torchsde_internals.py`` pins this
behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torchsde
from torchsde._core import adaptive_stepping, methods

from study.nde.errors import NonFiniteState, SolverError
from study.nde.methods import METHOD_SDE_TYPES
from study.nde.recorder import SDEStep, StepRecorder
from study.nde.runge_kutta import safe_sqrt

EXPECTED_VERSION = "0.2.6"
if torchsde.__version__ != EXPECTED_VERSION:  # pragma: no cover - guarded by the exact pin
    raise ImportError(
        f"study.nde needs torchsde=={EXPECTED_VERSION} (found {torchsde.__version__}); "
        "it relies on that version's solver internals"
    )

_SELECT = methods.select  # torchsde's own solver lookup (replaced below by ``_select``)

# torchsde's compute_error clamps the tolerance and the RMS from below by this constant.
_EPS = 1e-7


def strong_order(method: str, noise_type: str) -> float:
    """The strong order torchsde's ``method`` has for ``noise_type`` (its solver's
    ``strong_order``, which some solvers only set when built)."""
    if method == "euler":
        return 1.0 if noise_type == "additive" else 0.5
    if method in ("midpoint", "heun", "euler_heun"):
        return 0.5 if noise_type == "general" else 1.0
    return float(_SELECT(method=method, sde_type=METHOD_SDE_TYPES[method][0]).strong_order)


def noise_types(method: str, sde_type: str) -> tuple[str, ...]:
    """The noise types ``method`` integrates for an SDE of ``sde_type``."""
    return tuple(_SELECT(method=method, sde_type=sde_type).noise_types)


def brownian(method: str, sde_type: str, t0: float, t1: float, size: tuple[int, int],
             dtype: torch.dtype, device: torch.device, entropy: int) -> torchsde.BrownianInterval:
    """The Brownian motion ``sdeint`` would make for ``method`` (the cheapest Levy-area
    approximation the method accepts), with a given ``entropy`` instead of numpy's global RNG."""
    accepted = tuple(_SELECT(method=method, sde_type=sde_type).levy_area_approximations)
    levy_area = "none" if "none" in accepted else accepted[0]
    return torchsde.BrownianInterval(t0=t0, t1=t1, size=size, dtype=dtype, device=device,
                                     entropy=entropy, levy_area_approximation=levy_area)


def error_ratio(y_full: torch.Tensor, y_half: torch.Tensor, rtol: float,
                atol: float, norm: Callable | None = None) -> torch.Tensor:
    """torchsde's step-doubling acceptance ratio (``<= 1`` accepts), differentiable:
    ``rms((y_full - y_half) / (atol + rtol * max(|y_full|, |y_half|)))`` (``norm`` instead of
    the RMS over all elements when given)."""
    tol = (rtol * torch.maximum(y_full.abs(), y_half.abs()) + atol).clamp_min(_EPS)
    scaled = (y_full - y_half) / tol
    size = safe_sqrt(scaled.pow(2).mean()) if norm is None else norm(scaled)
    return size.clamp_min(_EPS)


def solver_error_ratio(y_full: torch.Tensor, y_half: torch.Tensor, rtol: float,
                       atol: float) -> float:
    """The ratio exactly as torchsde's controller computes it (a float; for tests)."""
    return adaptive_stepping.compute_error(y_full, y_half, rtol, atol)


def typed_error(exc: AssertionError, time: float | None) -> SolverError:
    """The typed failure that torchsde's assertion ``exc`` reports."""
    where = f" in the step from t={time:.6g}" if time is not None else ""
    if "nan" in str(exc).lower():
        return NonFiniteState(f"non-finite error estimate (NaN/inf in the dynamics){where}",
                              time=time)
    return SolverError(f"solver failed{where}: {exc}", time=time)


def _typed_errors(solver, time: Callable[[], float | None]) -> None:
    """Make ``solver.integrate`` raise typed errors instead of torchsde's assertions."""
    integrate = solver.integrate

    def guarded(y0, ts, extra0):
        try:
            return integrate(y0, ts, extra0)
        except AssertionError as exc:
            raise typed_error(exc, time()) from exc

    solver.integrate = guarded


class Watch:
    """Watches one solver's ``step`` calls and reports attempts to a ``StepRecorder``.

    After the solve, ``doubling(t0, t1, y0)`` re-takes an attempt with the solver's own step on its
    Brownian path (reported nowhere)."""

    def __init__(self, recorder: StepRecorder):
        self.recorder = recorder
        self.solver = None
        self._step: Callable | None = None
        self._calls: list[tuple] = []
        self._pending: SDEStep | None = None

    @property
    def time(self) -> float | None:
        """Start time of the latest attempt (for error messages)."""
        if self._calls:
            return float(self._calls[0][0])
        return None if self._pending is None else float(self._pending.t0)

    def attach(self, solver) -> None:
        self.solver = solver
        # SRK binds its step per noise type in __init__, so wrap the bound step of the instance.
        self._step = solver.step
        solver.step = self._watched_step
        integrate = solver.integrate

        def watched_integrate(y0, ts, extra0):
            out = integrate(y0, ts, extra0)
            self._resolve(None)
            return out

        solver.integrate = watched_integrate
        _typed_errors(solver, lambda: self.time)

    def _watched_step(self, t0, t1, y0, extra0):
        y1, extra1 = self._step(t0, t1, y0, extra0)
        self._calls.append((t0, t1, y0, y1))
        if len(self._calls) == 3:
            (s0, s1, start, full), _, (_, _, _, half) = self._calls
            self._calls = []
            self._resolve(SDEStep(t0=s0, t1=s1, y0=start, y_full=full, y_half=half))
        return y1, extra1

    def _resolve(self, new: SDEStep | None) -> None:
        """The previous attempt is accepted when the next starts later or the solve ends (a
        rejected attempt is retried from the same time)."""
        pending, self._pending = self._pending, new
        if pending is None:
            return
        recorder = self.recorder
        t0, t1 = float(pending.t0), float(pending.t1)
        recorder.attempt(t0, t1 - t0)
        if recorder.first_proposal is None and recorder.step_starts:
            recorder.first_proposal = t1 - t0
        if new is not None and float(new.t0) == t0:
            recorder.reject()
        else:
            recorder.accept(t0, t1, lambda: pending)

    def drift(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The solved SDE's drift at ``(t, y)``, through the solver (so it is counted)."""
        if self.solver is None:
            raise RuntimeError("no solver was built in this recording")
        return self.solver.sde.f(t, y)

    def doubling(self, t0: torch.Tensor, t1: torch.Tensor,
                 y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y_full, y_half)`` of the attempt ``t0 -> t1`` from ``y0``, as the solver takes it."""
        if self._step is None:
            raise RuntimeError("no solver was built in this recording")
        y_full, _ = self._step(t0, t1, y0, ())
        t_mid = 0.5 * (t0 + t1)
        y_mid, extra = self._step(t0, t_mid, y0, ())
        y_half, _ = self._step(t_mid, t1, y_mid, extra)
        return y_full, y_half


_ACTIVE: ContextVar[Watch | None] = ContextVar("study_torchsde_watch", default=None)


def _ours(sde) -> bool:
    """Whether ``sde`` (torchsde's wrapper, or the adjoint's) integrates a ``solve_sde`` SDE."""
    for _ in range(4):
        if getattr(sde, "study_solve", False):
            return True
        sde = getattr(sde, "forward_sde", None) or getattr(sde, "_base_sde", None)
        if sde is None:
            return False
    return False


def _select(method, sde_type):
    cls = _SELECT(method=method, sde_type=sde_type)
    watch = _ACTIVE.get()

    def build(**kwargs):
        solver = cls(**kwargs)
        if watch is not None and watch.solver is None:
            watch.attach(solver)
        elif _ours(kwargs.get("sde")):
            # The adjoint's backward solve of a solve_sde SDE: typed errors, nothing recorded.
            _typed_errors(solver, lambda: None)
        return solver

    return build


methods.select = _select


@contextmanager
def recording(recorder: StepRecorder) -> Iterator[Watch]:
    """Within the block, the first solver ``sdeint``/``sdeint_adjoint`` builds reports each
    attempt to ``recorder``; the yielded ``Watch`` keeps that solver."""
    watch = Watch(recorder)
    token = _ACTIVE.set(watch)
    try:
        yield watch
    finally:
        _ACTIVE.reset(token)
