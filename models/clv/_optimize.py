"""Maximum-likelihood optimiser shared by the CLV models.

Parameters are optimised on the log scale (all model parameters are positive), with the
analytic gradient, by L-BFGS-B; the optimum is then polished with a few Newton steps that
use a Hessian obtained by central differences of the analytic gradient. The polish makes
the estimates reproducible to ~1e-10 relative regardless of the quasi-Newton path, and the
Hessian doubles as the observed information matrix for standard errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

Objective = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]

_MAX_NEWTON_STEPS = 10
_MAX_HESSIANS = 3
# L-BFGS-B only has to get close: the Newton polish converges quadratically from there.
_LBFGS_GTOL = 1e-6
_LBFGS_FTOL = 1e-12
_FD_STEP = 1e-5


@dataclass(frozen=True)
class OptimizeOutcome:
    """Result of :func:`minimize_log_params`.

    Attributes
    ----------
    theta : numpy.ndarray
        Log-parameters at the optimum.
    fun : float
        Objective at ``theta``.
    grad : numpy.ndarray
        Gradient of the objective at ``theta``.
    hessian : numpy.ndarray or None
        Finite-difference Hessian of the objective at ``theta`` (None without polish).
    converged : bool
        True when the gradient is below the tolerance and the Hessian is positive definite.
    n_iter : int
        L-BFGS-B iterations plus Newton steps.
    message : str
        Human-readable status.
    """

    theta: NDArray[np.float64]
    fun: float
    grad: NDArray[np.float64]
    hessian: NDArray[np.float64] | None
    converged: bool
    n_iter: int
    message: str


def fd_hessian(objective: Objective, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Symmetric Hessian by central differences of an analytic gradient."""
    k = theta.shape[0]
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = _FD_STEP
        g_plus = objective(theta + step)[1]
        g_minus = objective(theta - step)[1]
        hess[i] = (g_plus - g_minus) / (2.0 * _FD_STEP)
    return 0.5 * (hess + hess.T)


def minimize_log_params(
    objective: Objective,
    theta0: NDArray[np.float64],
    *,
    tol: float,
    maxiter: int,
    polish: bool = True,
) -> OptimizeOutcome:
    """Minimise ``objective`` (value and gradient) over unconstrained log-parameters.

    Parameters
    ----------
    objective : callable
        ``theta -> (f, grad)``; ``f`` should be O(1) (a mean negative log-likelihood).
    theta0 : numpy.ndarray
        Starting log-parameters.
    tol : float
        Convergence tolerance on the largest absolute gradient component.
    maxiter : int
        Maximum L-BFGS-B iterations.
    polish : bool
        Run Newton polishing steps after L-BFGS-B.

    Returns
    -------
    OptimizeOutcome
    """
    # Parameters that run off towards a boundary (degenerate data) overflow harmlessly
    # inside the objective; convergence is judged on the gradient and Hessian instead.
    with np.errstate(all="ignore"):
        return _minimize(objective, theta0, tol=tol, maxiter=maxiter, polish=polish)


def _minimize(
    objective: Objective,
    theta0: NDArray[np.float64],
    *,
    tol: float,
    maxiter: int,
    polish: bool,
) -> OptimizeOutcome:
    res = minimize(
        objective,
        np.asarray(theta0, dtype=np.float64),
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": maxiter,
            "ftol": _LBFGS_FTOL if polish else 1e-15,
            "gtol": max(_LBFGS_GTOL, tol) if polish else tol,
            "maxcor": 20,
        },
    )
    theta = np.asarray(res.x, dtype=np.float64)
    fun, grad = objective(theta)
    n_iter = int(res.nit)
    message = str(res.message)
    hessian: NDArray[np.float64] | None = None
    positive_definite = True
    if polish and np.isfinite(fun) and np.all(np.isfinite(grad)):
        # A finite-difference Hessian, then chord-Newton steps with it: near the optimum the
        # Hessian is ~constant, so this reaches machine precision in a few evaluations.
        # The Hessian is refreshed (at most _MAX_HESSIANS times) if that was not enough.
        for _ in range(_MAX_HESSIANS):
            hessian = fd_hessian(objective, theta)
            try:
                chol = np.linalg.cholesky(hessian)
            except np.linalg.LinAlgError:
                positive_definite = False
                message += "; Hessian not positive definite at the optimum"
                break
            for _ in range(_MAX_NEWTON_STEPS):
                step = -np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
                if np.max(np.abs(step)) < 1e-10:
                    break
                f_cand, g_cand = objective(theta + step)
                if not (np.isfinite(f_cand) and f_cand <= fun + 1e-12 * max(1.0, abs(fun))):
                    break
                improved = np.max(np.abs(g_cand)) < np.max(np.abs(grad))
                theta, fun, grad = theta + step, f_cand, g_cand
                n_iter += 1
                if not improved:
                    break
            if np.max(np.abs(grad)) <= tol:
                break
    max_grad = float(np.max(np.abs(grad))) if np.all(np.isfinite(grad)) else float("inf")
    converged = bool(np.isfinite(fun) and max_grad <= tol and positive_definite)
    if not converged:
        message += f"; not converged (max |gradient| = {max_grad:.3g}, tol = {tol:.3g})"
    return OptimizeOutcome(
        theta=theta,
        fun=float(fun),
        grad=grad,
        hessian=hessian,
        converged=converged,
        n_iter=n_iter,
        message=message,
    )
