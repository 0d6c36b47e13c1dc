"""BG/NBD (beta-geometric / negative binomial distribution) purchase model.

Reference: Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "'Counting Your
Customers' the Easy Way: An Alternative to the Pareto/NBD Model", *Marketing Science*
24(2), 275-284 (cited below as FHL 2005a), with the technical notes
http://brucehardie.com/notes/004/ (likelihood and its implementation) and
http://brucehardie.com/notes/021/ (P(alive)).

Model (per customer, time measured from the first purchase):

* while active, repeat purchases follow a Poisson process with rate ``lambda``;
  ``lambda ~ Gamma(shape=r, rate=alpha)`` across customers;
* after every purchase the customer drops out with probability ``p``;
  ``p ~ Beta(a, b)`` across customers.

A customer is summarised by ``(x, t_x, T)`` = (frequency: number of repeat purchases,
recency: time of the last repeat purchase, T: age), all in one time unit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, expit, gammaln, hyp2f1

from ._base import BaseCLVModel
from ._collapse import collapse
from ._optimize import minimize_log_params
from ._validation import check_horizon, check_rfm, coerce_columns, coerce_weights

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _BGData:
    """Collapsed, time-rescaled BG/NBD data, split by ``x == 0`` / ``x > 0``."""

    n: float  # total weight (customers)
    ux: FloatArray  # distinct frequencies
    wx: FloatArray  # total weight per distinct frequency
    T0: FloatArray  # ages of rows with x == 0
    w0: FloatArray
    x1: FloatArray  # rows with x > 0
    tx1: FloatArray
    T1: FloatArray
    w1: FloatArray
    sum_wx: float  # sum of weight * x (for the time-rescaling constant)

    @classmethod
    def build(cls, x: FloatArray, tx: FloatArray, T: FloatArray, w: FloatArray) -> _BGData:
        ux, x_idx = np.unique(x, return_inverse=True)
        zero = x == 0
        rep = ~zero
        return cls(
            n=float(w.sum()),
            ux=ux,
            wx=np.bincount(x_idx, weights=w, minlength=ux.shape[0]),
            T0=T[zero],
            w0=w[zero],
            x1=x[rep],
            tx1=tx[rep],
            T1=T[rep],
            w1=w[rep],
            sum_wx=float(w @ x),
        )

    def log_likelihood(self, params: FloatArray, *, grad: bool) -> tuple[float, FloatArray]:
        """Total log-likelihood (FHL 2005a eq. 6, note 004 eq. 3) and its gradient."""
        r, alpha, a, b = params
        ux, wx = self.ux, self.wx
        # Terms that depend on x only: ln Gamma(r+x)/Gamma(r) + ln B(a, b+x)/B(a, b).
        gx = (
            gammaln(r + ux)
            - gammaln(r)
            + gammaln(a + b)
            + gammaln(b + ux)
            - gammaln(b)
            - gammaln(a + b + ux)
        )
        ll = float(wx @ gx) + self.n * r * np.log(alpha)
        # x == 0: only the "still alive at T" term, ln (alpha / (alpha + T))^r -> -r ln(alpha+T).
        log_aT0 = np.log(alpha + self.T0)
        ll -= r * float(self.w0 @ log_aT0)
        # x > 0: ln[ (alpha+T)^-(r+x) + a/(b+x-1) (alpha+t_x)^-(r+x) ] via logaddexp.
        x1, w1 = self.x1, self.w1
        rx = r + x1
        log_aT1 = np.log(alpha + self.T1)
        log_atx = np.log(alpha + self.tx1)
        bx1 = b + x1 - 1.0
        a3 = -rx * log_aT1
        a4 = np.log(a) - np.log(bx1) - rx * log_atx
        lse = np.logaddexp(a3, a4)
        ll += float(w1 @ lse)
        if not grad:
            return ll, np.empty(0)
        p4 = np.exp(a4 - lse)  # share of the "dropped out after t_x" term
        p3 = 1.0 - p4
        w1p4 = w1 * p4
        psi_ab = digamma(a + b)
        psi_abx = digamma(a + b + ux)
        d_r = (
            float(wx @ (digamma(r + ux) - digamma(r)))
            + self.n * np.log(alpha)
            - float(self.w0 @ log_aT0)
            - float(w1 @ (p3 * log_aT1))
            - float(w1p4 @ log_atx)
        )
        d_alpha = (
            self.n * r / alpha
            - r * float(self.w0 @ (1.0 / (alpha + self.T0)))
            - float(w1 @ (rx * (p3 / (alpha + self.T1) + p4 / (alpha + self.tx1))))
        )
        d_a = float(wx @ (psi_ab - psi_abx)) + float(w1p4.sum()) / a
        d_b = float(wx @ (psi_ab + digamma(b + ux) - digamma(b) - psi_abx)) - float(
            w1p4 @ (1.0 / bx1)
        )
        return ll, np.array([d_r, d_alpha, d_a, d_b])


def _expected_purchases(
    params: tuple[float, ...], t: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray
) -> FloatArray:
    """FHL 2005a eq. 10, with the hypergeometric term Euler-transformed.

    ``((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)`` equals
    ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)`` with ``z = t/(alpha+T+t)`` (Euler's
    transformation). The second form has small upper parameters, so it neither overflows
    nor loses precision for heavy buyers (large x).
    """
    r, alpha, a, b = params
    z = t / (alpha + T + t)
    c = a + b + x - 1.0
    hyp = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    numerator = (c / (a - 1.0)) * (1.0 - hyp)
    return numerator * _probability_alive(params, x, tx, T)


def _probability_alive(
    params: tuple[float, ...], x: FloatArray, tx: FloatArray, T: FloatArray
) -> FloatArray:
    """P(alive | x, t_x, T) (Hardie note 021 eq. 5; denominator of FHL 2005a eq. 10)."""
    r, alpha, a, b = params
    xm = np.maximum(x, 1.0)
    log_odds_dead = (
        np.log(a) - np.log(b + xm - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    )
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


class BetaGeoModel(BaseCLVModel):
    """BG/NBD model of repeat-purchase counts (Fader, Hardie & Lee 2005a).

    Parameters
    ----------
    penalizer_coef : float, default 0
        L2 penalty ``penalizer_coef * (r^2 + alpha_s^2 + a^2 + b^2)`` added to the *mean*
        negative log-likelihood, where ``alpha_s = alpha / max(T)`` is alpha in rescaled
        time. This is exactly the penalty of lifetimes' ``BetaGeoFitter``, so penalizer
        values carry over. ``0`` gives the maximum-likelihood estimate.
    tol : float, default 1e-8
        Convergence tolerance: largest absolute gradient component of the mean negative
        log-likelihood with respect to the log-parameters.
    maxiter : int, default 2000
        Maximum L-BFGS-B iterations.
    initial_params : dict, optional
        Starting values ``{r, alpha, a, b}`` in the data's time unit. Default: all 1 with
        alpha = max(T).
    min_repeat_customers : int, default 10
        Minimum number of customers with ``frequency > 0`` required to fit; with fewer the
        dropout parameters (a, b) are not identified and ``fit`` raises ``ValueError``.

    Attributes
    ----------
    params_ : dict
        ``{"r", "alpha", "a", "b"}`` (alpha in the data's time unit).
    standard_errors_ : dict
        Asymptotic standard errors from the observed information (NaN if not converged).
    log_likelihood_ : float
        Total log-likelihood at ``params_`` (FHL 2005a eq. 6 summed over customers,
        penalty excluded). CDNOW: -9582.4.
    converged_ : bool
        Gradient below ``tol`` and Hessian positive definite.
    n_iter_ : int
        Optimiser iterations (L-BFGS-B plus Newton polish steps).
    n_customers_ : float
        Customers used (sum of weights).
    n_unique_ : int
        Distinct ``(frequency, recency, T)`` rows the likelihood was evaluated on.
    fit_seconds_ : float
        Wall time of ``fit`` including validation and collapsing.

    Notes
    -----
    The per-customer likelihood (FHL 2005a eq. 6) is

    .. math::

        L = \\frac{B(a, b+x)}{B(a, b)} \\frac{\\Gamma(r+x) \\alpha^r}{\\Gamma(r)}
            \\left[ \\frac{1}{(\\alpha+T)^{r+x}}
            + \\delta_{x>0} \\frac{a}{b+x-1} \\frac{1}{(\\alpha+t_x)^{r+x}} \\right]

    The bracket is evaluated with ``logaddexp``. Customers with identical summaries are
    collapsed with weights, so the cost of one likelihood/gradient evaluation scales with
    the number of distinct summaries. Time is rescaled so that ``max(T) = 1`` during the
    optimisation (alpha is a scale parameter); reported values are in the input unit.

    Examples
    --------
    >>> bg = BetaGeoModel().fit(frequency, recency, T)  # doctest: +SKIP
    >>> bg.params_  # doctest: +SKIP
    {'r': 0.2426, 'alpha': 4.4136, 'a': 0.7929, 'b': 2.4258}
    """

    param_names = ("r", "alpha", "a", "b")
    model_name = "bg_nbd"

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        tol: float = 1e-8,
        maxiter: int = 2000,
        initial_params: dict[str, float] | None = None,
        min_repeat_customers: int = 10,
    ) -> None:
        super().__init__(
            penalizer_coef=penalizer_coef, tol=tol, maxiter=maxiter, initial_params=initial_params
        )
        if int(min_repeat_customers) < 1:
            raise ValueError("min_repeat_customers must be >= 1")
        self.min_repeat_customers = int(min_repeat_customers)

    # -- fitting ----------------------------------------------------------------------
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> BetaGeoModel:
        """Estimate ``r, alpha, a, b`` by maximum likelihood.

        Parameters
        ----------
        frequency : array_like
            Number of repeat purchases ``x`` (whole numbers >= 0).
        recency : array_like
            Time of the last repeat purchase since the first purchase, ``t_x``; 0 when
            ``x == 0``.
        T : array_like
            Customer age: time since the first purchase at the end of the observation
            window (``T >= recency``).
        weights : array_like, optional
            Number of customers each row stands for (pre-aggregated input).

        Returns
        -------
        BetaGeoModel
            ``self``, fitted.

        Raises
        ------
        ValueError
            On invalid summaries (see :func:`check_rfm`), fewer than
            ``min_repeat_customers`` repeat customers, or ``max(T) == 0``.
        """
        start = time.perf_counter()
        x, tx, T_ = coerce_columns(
            {"frequency": frequency, "recency": recency, "T": T}, allow_scalars=False
        )
        check_rfm(x, tx, T_)
        w = None if weights is None else coerce_weights(weights, x.shape[0])
        n_repeat = float(np.sum(x > 0) if w is None else w[x > 0].sum())
        if n_repeat < self.min_repeat_customers:
            raise ValueError(
                f"too few repeat customers to fit BG/NBD: {n_repeat:g} with frequency > 0, "
                f"min_repeat_customers={self.min_repeat_customers}"
            )
        t_max = float(T_.max())
        if t_max <= 0:
            raise ValueError("T must be > 0 for at least one customer")
        col = collapse(x, tx, T_, weights=w)
        keep = col.weights > 0
        ux, utx, uT = (c[keep] for c in col.columns)
        uw = col.weights[keep]
        scale = 1.0 / t_max
        data = _BGData.build(ux, utx * scale, uT * scale, uw)

        pen = self.penalizer_coef

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(theta)
            ll, g = data.log_likelihood(params, grad=True)
            f = -ll / data.n + pen * float(params @ params)
            return f, -g * params / data.n + 2.0 * pen * params * params

        if self.initial_params is None:
            init = np.ones(4)
        else:
            init = np.array([self.initial_params[k] for k in self.param_names], dtype=float)
            init[1] *= scale
        outcome = minimize_log_params(objective, np.log(init), tol=self.tol, maxiter=self.maxiter)
        p_scaled = np.exp(outcome.theta)
        ll_scaled = data.log_likelihood(p_scaled, grad=False)[0]
        # Undo the time rescaling: each repeat purchase contributes a density in 1/time.
        log_likelihood = ll_scaled + data.sum_wx * np.log(scale)
        params = dict(zip(self.param_names, p_scaled.tolist(), strict=True))
        params["alpha"] = params["alpha"] / scale
        self._store_fit(
            outcome, params, log_likelihood, data.n, int(uw.shape[0]), time.perf_counter() - start
        )
        return self

    def log_likelihood(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> float:
        """Total BG/NBD log-likelihood of a data set at the current ``params_``.

        Parameters
        ----------
        frequency, recency, T : array_like
            Customer summaries, as in :meth:`fit`.
        weights : array_like, optional
            Customer count per row.

        Returns
        -------
        float
            Sum over customers of the log of FHL 2005a eq. 6.
        """
        params = np.array(self._params())
        x, tx, T_ = coerce_columns(
            {"frequency": frequency, "recency": recency, "T": T}, allow_scalars=False
        )
        check_rfm(x, tx, T_)
        w = None if weights is None else coerce_weights(weights, x.shape[0])
        col = collapse(x, tx, T_, weights=w)
        return _BGData.build(*col.columns, col.weights).log_likelihood(params, grad=False)[0]

    # -- prediction -------------------------------------------------------------------
    def _rfm(self, frequency: Any, recency: Any, T: Any, **extra: Any) -> list[FloatArray]:
        cols = coerce_columns(
            {"frequency": frequency, "recency": recency, "T": T, **extra}, allow_scalars=True
        )
        check_rfm(*cols[:3])
        return cols

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Conditional expected number of repeat purchases in the next ``t`` periods.

        FHL 2005a eq. 10 (lifetimes:
        ``conditional_expected_number_of_purchases_up_to_time``):

        .. math::

            E[Y(t) | x, t_x, T] = \\frac{a+b+x-1}{a-1}
            \\frac{1 - \\left(\\frac{\\alpha+T}{\\alpha+T+t}\\right)^{r+x}
            {}_2F_1\\left(r+x, b+x; a+b+x-1; \\frac{t}{\\alpha+T+t}\\right)}
            {1 + \\delta_{x>0} \\frac{a}{b+x-1}
            \\left(\\frac{\\alpha+T}{\\alpha+t_x}\\right)^{r+x}}

        The hypergeometric term is evaluated after Euler's transformation (see
        ``_expected_purchases``); undefined at exactly ``a == 1``.

        Parameters
        ----------
        t : float or array_like
            Horizon length(s), in the fitted time unit (>= 0).
        frequency, recency, T : float or array_like
            Customer summaries; scalars broadcast against arrays.

        Returns
        -------
        numpy.ndarray
            Expected repeat purchases in ``(T, T + t]``.
        """
        params = self._params()
        x, tx, T_, t_ = self._rfm(frequency, recency, T, t=t)
        check_horizon("t", t_)
        return _expected_purchases(params, t_, x, tx, T_)

    def probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Probability that a customer is still active at age ``T``.

        Hardie note 021 (lifetimes: ``conditional_probability_alive``):

        .. math::

            P(\\text{alive} | x, t_x, T) = \\left[1 + \\delta_{x>0} \\frac{a}{b+x-1}
            \\left(\\frac{\\alpha+T}{\\alpha+t_x}\\right)^{r+x}\\right]^{-1}

        Customers without repeat purchases are alive with probability 1 under BG/NBD
        (drop-out only happens right after a purchase).

        Parameters
        ----------
        frequency, recency, T : float or array_like
            Customer summaries; scalars broadcast against arrays.

        Returns
        -------
        numpy.ndarray
            Probabilities in (0, 1].
        """
        params = self._params()
        x, tx, T_ = self._rfm(frequency, recency, T)
        return _probability_alive(params, x, tx, T_)

    def expected_purchases_new_customer(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases of a new customer in ``(0, t]`` (FHL 2005a eq. 9).

        .. math::

            E[X(t)] = \\frac{a+b-1}{a-1} \\left[1 - \\left(\\frac{\\alpha}{\\alpha+t}\\right)^r
            {}_2F_1\\left(r, b; a+b-1; \\frac{t}{\\alpha+t}\\right)\\right]

        This is eq. 10 with ``x = t_x = T = 0``.

        Parameters
        ----------
        t : float or array_like
            Time(s) since the first purchase (>= 0).

        Returns
        -------
        numpy.ndarray
        """
        params = self._params()
        (t_,) = coerce_columns({"t": t}, allow_scalars=True)
        check_horizon("t", t_)
        zero = np.zeros_like(t_)
        return _expected_purchases(params, t_, zero, zero, zero)
