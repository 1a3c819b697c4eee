"""Neural differential equations with solver statistics and pluggable regularizers.

Public API: ``solve_ode``/``NeuralODE`` (torchdiffeq), ``SolveInfo``, the typed ``SolverError``s,
and ``METHODS`` (the adaptive methods). Regularizers come from ``study.regularizers``.
"""

from study.nde.errors import NonFiniteState, SolverError, StepBudgetExceeded, StepSizeUnderflow
from study.nde.hooks import Penalty, SolveContext, SolveHooks
from study.nde.info import SolveInfo
from study.nde.ode import METHODS, NeuralODE, solve_ode
from study.nde.tableau import Tableau, error_ratio, rk_step, stiffness_estimate

__all__ = [
    "METHODS",
    "NeuralODE",
    "NonFiniteState",
    "Penalty",
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
    "stiffness_estimate",
]
