"""``SolveInfo``: what one solve cost and what its regularizer measured."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class FieldCalls:
    """Counts calls of the learned vector field, by phase of the computation."""

    forward: int = 0
    regularizer: int = 0
    backward: int = 0
    phase: str = "forward"

    def count(self) -> None:
        setattr(self, self.phase, getattr(self, self.phase) + 1)


@dataclass
class SolveInfo:
    """Statistics of one solve.

    ``nfe`` counts vector-field calls of the forward solve only; the regularization step's calls
    are ``reg_nfe``. ``nfe_backward`` counts the calls the continuous adjoint makes during
    ``loss.backward()`` (it is read live, so look at it after the backward pass); backpropagation
    through the solver differentiates the recorded graph and makes no calls, so it stays 0 there.
    ``steps`` and ``rejected`` are accepted and rejected step attempts of the forward solve;
    ``step_starts``/``step_sizes`` list the accepted steps. ``reg`` is the regularization penalty
    (a 0-dim tensor, zero without a regularizer); ``reg_time``/``reg_step``/``reg_state`` are the
    sampled time ``t_s``, step size ``h`` and (detached) state ``y_s`` of the local regularizer's
    recomputed step. ``first_step`` is the step size the solver tried first (its own heuristic, a
    given value, or the warm start).

    SDE solves (``solve_sde``) count drift calls in ``calls`` and diffusion calls in ``diffusion``;
    there ``nfe``, ``reg_nfe`` and ``nfe_backward`` are drift plus diffusion calls, split as
    ``nfe_drift``/``nfe_diffusion``, and a step is one step-doubling attempt (a full step and two
    half steps). For ODE solves ``diffusion`` is ``None`` and ``nfe_drift == nfe``.
    """

    reg: torch.Tensor
    steps: int = 0
    rejected: int = 0
    reg_time: float | None = None
    reg_step: float | None = None
    reg_state: torch.Tensor | None = field(default=None, repr=False)
    first_step: float | None = None
    step_starts: list[float] = field(default_factory=list, repr=False)
    step_sizes: list[float] = field(default_factory=list, repr=False)
    calls: FieldCalls = field(default_factory=FieldCalls, repr=False)
    end_time: float | None = None
    diffusion: FieldCalls | None = field(default=None, repr=False)

    @classmethod
    def collect(cls, recorder, penalty, *, calls: FieldCalls, end_time: float,
                diffusion: FieldCalls | None = None) -> SolveInfo:
        """The info of a finished solve, from its step recorder and its regularizer's penalty."""
        return cls(
            reg=penalty.value,
            steps=len(recorder.step_starts),
            rejected=recorder.rejected,
            reg_time=penalty.time,
            reg_step=penalty.step,
            reg_state=penalty.state,
            first_step=recorder.first_step,
            step_starts=recorder.step_starts,
            step_sizes=recorder.step_sizes,
            calls=calls,
            end_time=end_time,
            diffusion=diffusion,
        )

    def _calls(self, phase: str) -> int:
        extra = 0 if self.diffusion is None else getattr(self.diffusion, phase)
        return getattr(self.calls, phase) + extra

    @property
    def nfe(self) -> int:
        return self._calls("forward")

    @property
    def reg_nfe(self) -> int:
        return self._calls("regularizer")

    @property
    def nfe_backward(self) -> int:
        return self._calls("backward")

    @property
    def nfe_drift(self) -> int:
        return self.calls.forward

    @property
    def nfe_diffusion(self) -> int:
        return 0 if self.diffusion is None else self.diffusion.forward

    def summary(self) -> dict[str, float | int | None]:
        """Plain numbers, for logs and JSON (SDE solves add ``nfe_drift``/``nfe_diffusion``)."""
        split = {} if self.diffusion is None else {
            "nfe_drift": self.nfe_drift, "nfe_diffusion": self.nfe_diffusion,
        }
        return {
            "nfe": self.nfe,
            **split,
            "reg_nfe": self.reg_nfe,
            "nfe_backward": self.nfe_backward,
            "steps": self.steps,
            "rejected": self.rejected,
            "reg": float(self.reg.detach()),
            "reg_time": self.reg_time,
            "reg_step": self.reg_step,
            "first_step": self.first_step,
        }
