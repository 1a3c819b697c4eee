"""Neural differential equations with solver statistics and pluggable regularizers.

Public API: ``solve_ode``/``NeuralODE`` (torchdiffeq), ``solve_sde``/``NeuralSDE`` (torchsde),
``SolveInfo``, the typed ``SolverError``s, and ``METHODS``/``SDE_METHODS`` (the adaptive methods).
Regularizers come from ``study.regularizers``.
"""

from study.nde.errors import NonFiniteState, SolverError, StepBudgetExceeded, StepSizeUnderflow
from study.nde.hooks import Penalty, SolveContext, SolveHooks
from study.nde.info import SolveInfo
from study.nde.ode import METHODS, NeuralODE, solve_ode
from study.nde.sde import SDE_METHODS, NeuralSDE, solve_sde
from study.nde.sde_hooks import SDEHooks, SDESolveContext
from study.nde.tableau import Tableau, error_ratio, rk_step, stiffness_estimate

__all__ = [
    "METHODS",
    "SDE_METHODS",
    "NeuralODE",
    "NeuralSDE",
    "NonFiniteState",
    "Penalty",
    "SDEHooks",
    "SDESolveContext",
    "SolveContext",
    "SolveHooks",
    "SolveInfo",
    "SolverError",
    "StepBudgetExceeded",
    "StepSizeUnderflow",
    "Tableau",
    "error_ratio",
    "rk_step",
    "solve_ode",
    "solve_sde",
    "stiffness_estimate",
]
