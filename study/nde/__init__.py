"""Neural differential equations with solver statistics and pluggable regularizers.

Public API: ``solve_ode``/``NeuralODE`` (torchdiffeq), ``solve_sde``/``NeuralSDE`` (torchsde),
``SolveInfo``, the typed ``SolverError``s, ``METHODS``/``SDE_METHODS`` (the adaptive methods),
``ADJOINTS`` (the gradient methods), and the regularizer interface: ``SolveHooks``, which a solve
asks, and ``SolveContext``/``SolveSpec``/``Step``/``Penalty``, what it answers with. Regularizers
come from ``study.regularizers``.
"""

from study.nde.core import ADJOINTS, parse_adjoint
from study.nde.errors import NonFiniteState, SolverError, StepBudgetExceeded, StepSizeUnderflow
from study.nde.hooks import Penalty, SolveContext, SolveHooks, SolveSpec, Step
from study.nde.info import SolveInfo
from study.nde.ode import METHODS, NeuralODE, solve_ode, tableau
from study.nde.recorder import DEFAULT_MAX_STEPS
from study.nde.sde import SDE_METHODS, NeuralSDE, solve_sde
from study.nde.tableau import Tableau, error_ratio, rk_step, stiffness_estimate

__all__ = [
    "ADJOINTS",
    "DEFAULT_MAX_STEPS",
    "METHODS",
    "SDE_METHODS",
    "NeuralODE",
    "NeuralSDE",
    "NonFiniteState",
    "Penalty",
    "SolveContext",
    "SolveHooks",
    "SolveInfo",
    "SolveSpec",
    "SolverError",
    "Step",
    "StepBudgetExceeded",
    "StepSizeUnderflow",
    "Tableau",
    "error_ratio",
    "parse_adjoint",
    "rk_step",
    "solve_ode",
    "solve_sde",
    "stiffness_estimate",
    "tableau",
]
