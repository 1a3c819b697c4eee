"""``solve_sde`` and ``NeuralSDE``: adaptive torchsde solves with statistics and a regularizer.

An SDE is any object in torchsde's convention: attributes ``noise_type`` and ``sde_type``, a
drift ``f(t, y)`` and a diffusion ``g(t, y)`` (``nn.Module`` to train it). The solve always steps
adaptively (torchsde's step doubling: a full step and two half steps per attempt, accepted when
the tolerance-scaled RMS of their difference is at most 1), and counts drift and diffusion calls.
Besides its per-step calls, torchsde calls the drift and the diffusion once each before
integrating, to check their shapes (and, without ``bm``, ``solve_sde`` calls the diffusion of a
non-diagonal SDE once for the noise size); those calls are part of ``nfe`` too.

Without ``bm`` the solve draws a ``BrownianInterval`` over ``[ts[0], ts[-1]]`` whose entropy comes
from torch's global generator, so ``torch.manual_seed`` makes SDE solves reproducible.
``first_step`` is ``None`` (an initial-step heuristic, below), a number, or ``"warm"``: like
``solve_ode``, the step size tried after the first accepted step of the previous solve of the same
SDE object (see ``study.nde.core``), and the heuristic while there is none.

The initial-step heuristic: torchsde starts every adaptive solve at ``dt = 1e-3`` whatever the
dynamics, and its controller grows a step at most 1.4x, so a solve that could take steps of 0.1
spends a dozen steps getting there (and every NFE comparison carries that fixed cost). Instead,
like adaptive ODE solvers and StochasticDiffEq.jl, ``solve_sde`` estimates the first step by
Hairer's rule (Hairer, Norsett & Wanner, *Solving ODEs I*, II.4) with the diffusion's 3-sigma
increment added to the drift: with ``|x|`` the RMS norm scaled by ``atol + rtol * |y0|``,
``d0 = |y0|``, ``d1 = |f0| + |3 g0|``, ``h0 = 0.01 d0 / d1``; after an Euler step of size ``h0``,
``d2 = (|f1 - f0| + |3 (g1 - g0)|) / h0`` and ``h1 = max(d1, d2) ** (-1 / (p + 1/2))`` for a
method of strong order ``p`` (its local error order); the first step is ``min(100 h0, h1,
t1 - t0)``. Hairer's rule aims the first step's error at a hundredth of the tolerance, which suits
controllers that grow steps up to 10x at once; with torchsde's 1.4x, ``h1`` aims at the tolerance
itself (a step that is too large is rejected and shrunk as usual). It costs two drift and two
diffusion calls.

Gradients: ``adjoint=False`` backpropagates through the solver; ``adjoint=True`` uses
``sdeint_adjoint`` with an adaptive backward solve at the same tolerances (torchsde's default
adjoint method for the SDE's type).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchsde
from torch import nn

from study.nde import _torchsde
from study.nde.core import WARM, DEBlock, check_hooks
from study.nde.errors import NonFiniteState
from study.nde.hooks import SolveContext, SolveHooks, SolveSpec, Step
from study.nde.info import FieldCalls, SolveInfo
from study.nde.methods import METHOD_SDE_TYPES, SDE_METHODS, check_solver
from study.nde.recorder import DEFAULT_MAX_STEPS, SDEStep, StepRecorder
from study.params import POSITIVE

DEFAULT_DT_MIN = 1e-5  # torchsde's default: smaller steps are accepted anyway (with a warning)


class _CountedSDE(nn.Module):
    """The user's SDE, counting drift and diffusion calls."""

    study_solve = True  # marks the SDEs of solve_sde for study.nde._torchsde

    def __init__(self, sde, drift: FieldCalls, diffusion: FieldCalls):
        super().__init__()
        self.sde = sde
        self.noise_type = sde.noise_type
        self.sde_type = sde.sde_type
        self.drift = drift
        self.diffusion = diffusion

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.drift.count()
        return self.sde.f(t, y)

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.diffusion.count()
        return self.sde.g(t, y)


@dataclass
class _SDEContext(SolveContext):
    """The ``SolveContext`` of a torchsde solve: linear interpolation between accepted steps,
    step-doubling attempts on the solve's own Brownian motion (kept by the ``watch``)."""

    watch: _torchsde.Watch = None
    strong_order: float = None

    def state_at(self, step: Step, t: torch.Tensor) -> torch.Tensor:
        t0, t1 = step.t0.detach(), step.t1.detach()
        return (t1 - t) / (t1 - t0) * step.y0 + (t - t0) / (t1 - t0) * step.y_half

    def retake(self, t: torch.Tensor, y: torch.Tensor, h: torch.Tensor,
               end: torch.Tensor | None = None) -> SDEStep:
        if end is None:
            end = torch.minimum(t + h, self.t[-1].detach().to(t.dtype))
        y_full, y_half = self.watch.doubling(t, end, y)
        return SDEStep(t0=t, t1=end, y0=y, y_full=y_full, y_half=y_half)

    def drift(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The SDE's drift ``f(t, y)`` (counted as a regularizer call), for penalties on the
        drift alone."""
        return self.watch.drift(t, y)

    def error_ratio(self, step: Step, norm: Callable | None = None) -> torch.Tensor:
        return _torchsde.error_ratio(step.y_full, step.y_half, self.spec.rtol, self.spec.atol,
                                     norm)

    def error_order(self) -> float:
        # A step of strong order p errs by O(h ** (p + 1/2)) locally; torchsde's controller
        # shrinks a rejected step by the same power (its factor ratio ** (-1 / 1.5) at p = 1).
        return self.strong_order + 0.5


def _check_sde(sde, spec: SolveSpec, dt_min, ts, y0) -> None:
    for attr in ("noise_type", "sde_type"):
        if not isinstance(getattr(sde, attr, None), str):
            raise ValueError(f"the SDE needs a string attribute {attr!r} (torchsde's convention)")
    for name in ("f", "g"):
        if not callable(getattr(sde, name, None)):
            raise ValueError(f"the SDE needs a method {name}(t, y) (drift f, diffusion g)")
    sde_types = METHOD_SDE_TYPES[spec.method]
    if sde.sde_type not in sde_types:
        raise ValueError(f"method {spec.method!r} integrates {' and '.join(sde_types)} SDEs, "
                         f"not {sde.sde_type!r}")
    noise = _torchsde.noise_types(spec.method, sde.sde_type)
    if sde.noise_type not in noise:
        raise ValueError(f"method {spec.method!r} does not support noise type "
                         f"{sde.noise_type!r}: it supports {', '.join(noise)}")
    POSITIVE.check("dt_min", dt_min)
    if not isinstance(y0, torch.Tensor) or not y0.is_floating_point() or y0.ndim != 2:
        raise ValueError("y0 must be a floating-point tensor of shape (batch, state)")
    if not isinstance(ts, torch.Tensor) or ts.ndim != 1 or len(ts) < 2:
        raise ValueError("ts must be a 1-D tensor of at least two time points")
    if not bool((ts[1:] > ts[:-1]).all()):
        raise ValueError("ts must be strictly increasing")


def _check(sde, method, rtol, atol, adjoint, first_step, dt_min, ts, y0,
           regularizer) -> tuple[SolveSpec, SolveHooks]:
    spec = check_solver("sde", SDE_METHODS, method, rtol, atol, adjoint, first_step)
    _check_sde(sde, spec, dt_min, ts, y0)
    hooks = check_hooks(regularizer, spec)
    if type(hooks).augment is not SolveHooks.augment or \
            type(hooks).end_time is not SolveHooks.end_time:
        raise ValueError(f"{hooks!r} changes the integrated states or end time, which SDE solves "
                         "do not support")
    return spec, hooks


def _noise_size(sde, ts: torch.Tensor, y0: torch.Tensor) -> int:
    if sde.noise_type == "diagonal":
        return y0.shape[1]
    if sde.noise_type == "scalar":
        return 1
    return sde.g(ts[0], y0).shape[-1]  # general/additive: (batch, state, noise)


def _noise_scale(g: torch.Tensor, noise_type: str) -> torch.Tensor:
    """Per state element, the standard deviation of the noise increment per unit sqrt(time)."""
    return g.abs() if noise_type == "diagonal" else g.pow(2).sum(dim=-1).sqrt()


def _initial_step(sde, t0: torch.Tensor, y0: torch.Tensor, rtol: float, atol: float,
                  order: float, span: float) -> float:
    """The first step of the module docstring's heuristic."""
    scale = (atol + rtol * y0.abs()).clamp_min(1e-7)  # torchsde's floor for the tolerance

    def norm(x: torch.Tensor) -> float:
        return float((x / scale).pow(2).mean().sqrt())

    def finite(*values: float) -> None:
        # A NaN first step would never end: torchsde's Brownian tree splits NaN times forever.
        if not all(math.isfinite(v) for v in values):
            raise NonFiniteState("non-finite state, drift or diffusion (NaN/inf) at "
                                 f"t={float(t0):.6g}, before the first step", time=float(t0))

    with torch.no_grad():
        f0 = sde.f(t0, y0)
        g0 = 3 * _noise_scale(sde.g(t0, y0), sde.noise_type)
        d0, d1 = norm(y0), norm(f0.abs() + g0)
        finite(d0, d1)
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        h0 = min(h0, span)
        t1 = t0 + h0
        f1 = sde.f(t1, y0 + h0 * f0)
        g1 = 3 * _noise_scale(sde.g(t1, y0 + h0 * f0), sde.noise_type)
        d2 = norm((f1 - f0).abs() + (g1 - g0).abs()) / h0
        finite(d2)
    largest = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if largest <= 1e-15 else largest ** (-1 / (order + 0.5))
    return min(100 * h0, h1, span)


def _integrate(counted: _CountedSDE, sde, y0: torch.Tensor, ts: torch.Tensor, spec: SolveSpec,
               settings: dict, recorder: StepRecorder) -> tuple[torch.Tensor, _torchsde.Watch]:
    with _torchsde.recording(recorder) as watch:
        if spec.adjoint:
            params = tuple(sde.parameters()) if isinstance(sde, nn.Module) else ()
            ys = torchsde.sdeint_adjoint(
                counted, y0, ts, adjoint_adaptive=True, adjoint_rtol=spec.rtol,
                adjoint_atol=spec.atol, adjoint_params=params, **settings)
        else:
            ys = torchsde.sdeint(counted, y0, ts, **settings)
    if not bool(torch.isfinite(ys[-1]).all()):
        raise NonFiniteState("non-finite state (NaN/inf) at the end of the solve",
                             time=float(ts[-1]))
    return ys, watch


def solve_sde(
    sde,
    y0: torch.Tensor,
    ts: torch.Tensor,
    *,
    method: str = "srk",
    rtol: float = 1e-5,
    atol: float = 1e-4,
    adjoint: bool = False,
    regularizer: SolveHooks | None = None,
    bm: torchsde.BrownianInterval | None = None,
    first_step: float | str | None = None,
    dt_min: float = DEFAULT_DT_MIN,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> tuple[torch.Tensor, SolveInfo]:
    """Solve the SDE from ``y0`` (shape ``(batch, state)``) at times ``ts`` adaptively.

    Returns ``(ys, info)``: ``ys`` of shape ``(len(ts), batch, state)`` as torchsde returns it
    (linear interpolation between accepted steps at times that are not step ends) and a
    ``SolveInfo`` whose ``nfe`` is drift plus diffusion calls (``nfe_drift``, ``nfe_diffusion``),
    ``steps``/``rejected`` accepted and rejected step-doubling attempts. ``method`` is one of
    ``SDE_METHODS`` (defaults to torchsde's choice for Ito SDEs, ``srk``; ``milstein`` costs one
    drift and one diffusion call per step). ``bm`` is the Brownian motion to integrate against
    (a ``BrownianInterval`` lets a regularizer re-query it exactly). ``regularizer`` must accept
    SDE solves (``study.regularizers``: ``none``, ``local``, ``global-error``).
    """
    spec, hooks = _check(sde, method, rtol, atol, adjoint, first_step, dt_min, ts, y0,
                         regularizer)
    drift, diffusion = FieldCalls(), FieldCalls()
    counted = _CountedSDE(sde, drift, diffusion)
    if bm is None:
        entropy = int(torch.randint(0, 2**31 - 1, ()))
        bm = _torchsde.brownian(method, sde.sde_type, float(ts[0]), float(ts[-1]),
                                (y0.shape[0], _noise_size(counted, ts, y0)), y0.dtype, y0.device,
                                entropy)
    span = float(ts[-1]) - float(ts[0])
    order = _torchsde.strong_order(method, sde.noise_type)
    dt = WARM.get(sde, spec, 1) if first_step == "warm" else first_step
    if dt is None:
        dt = _initial_step(counted, ts[0], y0, spec.rtol, spec.atol, order, span)
    recorder = StepRecorder(selector=hooks.selector(float(ts[0]), float(ts[-1])),
                            keep_steps=hooks.keep_steps, max_steps=max_steps)
    settings = dict(bm=bm, method=method, dt=dt, adaptive=True, rtol=spec.rtol, atol=spec.atol,
                    dt_min=dt_min)
    ys, watch = _integrate(counted, sde, y0, ts, spec, settings, recorder)

    drift.phase = diffusion.phase = "regularizer"
    ctx = _SDEContext(watch=watch, strong_order=order, spec=spec, t=ts, ys=ys, extra=(),
                      selected=recorder.selected, kept=recorder.kept)
    penalty = hooks.penalty(ctx)
    drift.phase = diffusion.phase = "backward"

    if first_step == "warm" and recorder.first_proposal is not None:
        WARM.put(sde, spec, 1, min(recorder.first_proposal, span))
    return ys, SolveInfo.collect(recorder, penalty, calls=drift, end_time=float(ts[-1]),
                                 diffusion=diffusion)


class NeuralSDE(DEBlock):
    """``forward(y0)`` integrates ``sde`` over ``t_span`` and returns the final state; with
    ``ts`` it returns the states at all times ``ts``, shape ``(len(ts), batch, state)``; ``bm``
    is passed on to ``solve_sde``. See ``study.nde.core.DEBlock``."""

    def __init__(
        self,
        sde: nn.Module,
        *,
        t_span: tuple[float, float] = (0.0, 1.0),
        method: str = "srk",
        rtol: float = 1e-5,
        atol: float = 1e-4,
        adjoint: bool = False,
        regularizer: SolveHooks | None = None,
        first_step: float | str | None = None,
        dt_min: float = DEFAULT_DT_MIN,
        max_steps: int = DEFAULT_MAX_STEPS,
    ):
        t0, t1 = (float(x) for x in t_span)
        if not t1 > t0:
            raise ValueError(f"t_span must be increasing, got {t_span!r}")
        _check(sde, method, rtol, atol, adjoint, first_step, dt_min, torch.tensor([t0, t1]),
               torch.zeros(1, 1), regularizer)
        super().__init__(t_span=(t0, t1), method=method, rtol=rtol, atol=atol, adjoint=adjoint,
                         regularizer=regularizer, first_step=first_step, max_steps=max_steps)
        self.sde = sde
        self.dt_min = dt_min

    def solve(self, y0, t, **kwargs):
        return solve_sde(self.sde, y0, t, dt_min=self.dt_min, **kwargs)
