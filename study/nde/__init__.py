"""Neural differential equations with solver statistics and pluggable regularizers.

Public API: ``solve_ode``/``NeuralODE`` (torchdiffeq), ``solve_sde``/``NeuralSDE`` (torchsde),
``SolveInfo``, the typed ``SolverError``s, ``METHODS``/``SDE_METHODS`` (the adaptive methods),
``ADJOINTS`` (the gradient methods), and the regularizer interface: ``SolveHooks``, which a solve
asks, and ``SolveContext``/``SolveSpec``/``Step``/``Penalty``, what it answers with. Regularizers
come from ``study.regularizers``.

Names are imported from their submodule on first use: the method names, the checks and the
regularizer interface (``study.nde.methods``, ``study.nde.hooks``) load without torch.
"""

from study.imports import lazy_exports

_EXPORTS = {
    "ADJOINTS": "methods",
    "DEFAULT_MAX_STEPS": "recorder",
    "METHODS": "methods",
    "SDE_METHODS": "methods",
    "NeuralODE": "ode",
    "NeuralSDE": "sde",
    "NonFiniteState": "errors",
    "Penalty": "hooks",
    "SolveContext": "hooks",
    "SolveHooks": "hooks",
    "SolveInfo": "info",
    "SolveSpec": "hooks",
    "SolverError": "errors",
    "Step": "hooks",
    "StepBudgetExceeded": "errors",
    "StepSizeUnderflow": "errors",
    "Tableau": "runge_kutta",
    "error_ratio": "runge_kutta",
    "parse_adjoint": "methods",
    "rk_step": "runge_kutta",
    "solve_ode": "ode",
    "solve_sde": "sde",
    "stiffness_estimate": "runge_kutta",
    "tableau": "ode",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
