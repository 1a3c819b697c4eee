"""The solvers by name and the checks of a solve's settings, without importing torch.

``METHODS`` are the adaptive ODE methods (torchdiffeq's Runge-Kutta pairs), ``SDE_METHODS`` the
adaptive SDE methods (torchsde's, with the SDE types each supports in ``METHOD_SDE_TYPES``),
``ADJOINTS`` the gradient methods. Training configurations and the command line validate against
them without loading the solvers (``study.nde.ode``, ``study.nde.sde``).
"""

from __future__ import annotations

from typing import Any

from study.nde.hooks import SolveSpec
from study.params import NON_NEGATIVE, POSITIVE

METHODS = ("dopri5", "bosh3", "adaptive_heun", "fehlberg2", "dopri8")
# Methods whose step keeps no state between steps (step doubling re-takes any step from (t, y)),
# with the SDE types each supports.
METHOD_SDE_TYPES: dict[str, tuple[str, ...]] = {
    "euler": ("ito",),
    "milstein": ("ito", "stratonovich"),
    "srk": ("ito",),
    "midpoint": ("stratonovich",),
    "heun": ("stratonovich",),
    "euler_heun": ("stratonovich",),
}
SDE_METHODS = tuple(METHOD_SDE_TYPES)

#: Gradient methods: backpropagation through the solver, the continuous adjoint, and the adjoint
#: with seminorm step control (ODE solves only).
ADJOINTS = (False, True, "seminorm")


def kind(method: str) -> str:
    """``"sde"`` for an SDE method, else ``"ode"``."""
    return "sde" if method in SDE_METHODS else "ode"


def parse_adjoint(value: Any) -> bool | str:
    """``False``, ``True`` or ``"seminorm"``, also from the strings ``false``/``true``."""
    if isinstance(value, str) and value.lower() in ("false", "true", "seminorm"):
        return {"false": False, "true": True}.get(value.lower(), "seminorm")
    if value is False or value is True or value == "seminorm":
        return value
    raise ValueError(f"unknown adjoint {value!r}: accepted are false, true and seminorm")


def check_solver(kind: str, methods: tuple[str, ...], method: str, rtol: Any, atol: Any,
                 adjoint: Any, first_step: Any) -> SolveSpec:
    """The checked settings of a solve, as a ``SolveSpec``; ``ValueError`` names a bad one."""
    if method not in methods:
        noun = "SDE method" if kind == "sde" else "method"
        raise ValueError(f"unknown {noun} {method!r}: adaptive methods are {', '.join(methods)}")
    rtol = POSITIVE.check("rtol", rtol)
    atol = NON_NEGATIVE.check("atol", atol)
    if adjoint not in ADJOINTS or type(adjoint) not in (bool, str):
        raise ValueError(f"unknown adjoint {adjoint!r}: accepted are False, True and 'seminorm'")
    if kind == "sde" and adjoint == "seminorm":
        raise ValueError(f"adjoint must be True or False for SDE solves, got {adjoint!r}")
    if first_step is not None and first_step != "warm":
        POSITIVE.check("first_step", first_step)
    return SolveSpec(kind=kind, method=method, adjoint=adjoint, rtol=rtol, atol=atol)
