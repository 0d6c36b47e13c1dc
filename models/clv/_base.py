"""Common plumbing of the CLV models: hyperparameters, fitted state, run summary."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ._optimize import OptimizeOutcome
from ._validation import check_positive_params


class NotFittedError(ValueError):
    """Raised when a prediction method is called before ``fit`` or ``set_params``."""


class ConvergenceWarning(RuntimeWarning):
    """Warned by ``fit`` when the optimiser did not reach a proper maximum.

    The fitted attributes are still set (``converged_`` is False, the reason is in
    ``optimizer_message_``); callers should not publish scores from such a fit.
    """


class BaseCLVModel:
    """Base class: estimator conventions in the style of scikit-learn / lifetimes.

    Hyperparameters are set in ``__init__``; ``fit`` returns ``self``; everything learned
    from data ends in an underscore.
    """

    #: Parameter names, in the order used by the optimiser (the papers' notation).
    param_names: ClassVar[tuple[str, ...]] = ()
    #: Name used in summaries.
    model_name: ClassVar[str] = ""

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        tol: float = 1e-8,
        maxiter: int = 2000,
        initial_params: Mapping[str, float] | None = None,
    ) -> None:
        if not (np.isfinite(penalizer_coef) and penalizer_coef >= 0):
            raise ValueError("penalizer_coef must be finite and >= 0")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError("tol must be finite and > 0")
        if int(maxiter) < 1:
            raise ValueError("maxiter must be >= 1")
        if initial_params is not None:
            check_positive_params(initial_params, self.param_names)
        self.penalizer_coef = float(penalizer_coef)
        self.tol = float(tol)
        self.maxiter = int(maxiter)
        self.initial_params = None if initial_params is None else dict(initial_params)

    # -- fitted state ---------------------------------------------------------------
    params_: dict[str, float]
    standard_errors_: dict[str, float]
    log_likelihood_: float
    converged_: bool
    n_iter_: int
    n_customers_: float
    n_unique_: int
    fit_seconds_: float
    optimizer_message_: str

    def set_params(self, params: Mapping[str, float]) -> BaseCLVModel:
        """Use known parameters instead of fitting (e.g. published or stored values).

        Parameters
        ----------
        params : mapping
            Values for every name in ``param_names``, all finite and > 0.

        Returns
        -------
        self
        """
        check_positive_params(params, self.param_names)
        self.params_ = {name: float(params[name]) for name in self.param_names}
        return self

    def _params(self) -> tuple[float, ...]:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted; call fit() or set_params() first"
            )
        return tuple(self.params_[name] for name in self.param_names)

    def _store_fit(
        self,
        outcome: OptimizeOutcome,
        params: dict[str, float],
        log_likelihood: float,
        n_customers: float,
        n_unique: int,
        seconds: float,
    ) -> None:
        self.params_ = params
        self.log_likelihood_ = float(log_likelihood)
        self.converged_ = outcome.converged
        self.n_iter_ = outcome.n_iter
        self.n_customers_ = float(n_customers)
        self.n_unique_ = int(n_unique)
        self.fit_seconds_ = float(seconds)
        self.optimizer_message_ = outcome.message
        if not outcome.converged:
            warnings.warn(
                f"{type(self).__name__} did not converge: {outcome.message}. Parameters "
                f"{params} may sit on a boundary (degenerate or too little data).",
                ConvergenceWarning,
                stacklevel=3,
            )
        # Observed information of the (mean) objective on the log scale -> delta method.
        self.standard_errors_ = {name: float("nan") for name in self.param_names}
        if outcome.hessian is not None and outcome.converged:
            try:
                cov_log = np.linalg.inv(outcome.hessian) / n_customers
                se_log = np.sqrt(np.clip(np.diag(cov_log), 0.0, None))
                self.standard_errors_ = {
                    name: float(params[name] * s)
                    for name, s in zip(self.param_names, se_log, strict=True)
                }
            except np.linalg.LinAlgError:
                pass

    def summary(self) -> dict[str, Any]:
        """Fit diagnostics as a plain dict (e.g. for a ``model_runs`` table).

        Returns
        -------
        dict
            ``model``, ``params``, ``standard_errors``, ``log_likelihood``, ``converged``,
            ``n_iter``, ``n_customers``, ``n_unique``, ``fit_seconds``,
            ``penalizer_coef``, ``message``.
        """
        self._params()
        if not hasattr(self, "log_likelihood_"):
            raise NotFittedError(f"{type(self).__name__} has parameters but was not fitted")
        return {
            "model": self.model_name,
            "params": dict(self.params_),
            "standard_errors": dict(self.standard_errors_),
            "log_likelihood": self.log_likelihood_,
            "converged": self.converged_,
            "n_iter": self.n_iter_,
            "n_customers": self.n_customers_,
            "n_unique": self.n_unique_,
            "fit_seconds": self.fit_seconds_,
            "penalizer_coef": self.penalizer_coef,
            "message": self.optimizer_message_,
        }

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner})"
        return f"{type(self).__name__}(penalizer_coef={self.penalizer_coef}, tol={self.tol})"
