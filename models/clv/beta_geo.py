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
from ._collapse import Collapsed, collapse
from ._optimize import minimize_log_params
from ._validation import check_horizon, check_rfm, coerce_columns, coerce_weights, dot

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class _BGData:
    """Collapsed, time-rescaled BG/NBD data laid out for fast likelihood evaluation.

    ``ln(alpha + T)`` and ``ln(alpha + t_x)`` are computed once per *distinct* value of
    ``T`` / ``t_x`` (a few hundred on a day grid) and gathered; terms that are linear in
    these logs are pre-aggregated per distinct ``T``; terms that depend on ``x`` only are
    aggregated per distinct ``x``. Only the log-sum-exp of the two likelihood branches
    (FHL 2005a eq. 6) is evaluated per distinct ``(x, t_x, T)`` row.
    """

    n: float  # total weight (customers)
    ux: FloatArray  # distinct frequencies (including 0)
    wx: FloatArray  # total weight per distinct frequency
    uT: FloatArray  # distinct ages
    wT0: FloatArray  # per distinct T: weight of x == 0 rows
    wT1: FloatArray  # per distinct T: weight of x > 0 rows
    wxT1: FloatArray  # per distinct T: sum of weight * x over x > 0 rows
    utx: FloatArray  # distinct recencies of x > 0 rows
    ix1: NDArray[np.intp]  # x > 0 rows: index into ux
    iT1: NDArray[np.intp]  # x > 0 rows: index into uT
    itx1: NDArray[np.intp]  # x > 0 rows: index into utx
    x1: FloatArray  # x > 0 rows: frequency
    w1: FloatArray  # x > 0 rows: weight
    sum_wx: float  # sum of weight * x (for the time-rescaling constant)
    n_rows: int  # distinct (x, t_x, T) rows with positive weight

    @classmethod
    def build(cls, col: Collapsed, scale: float) -> _BGData:
        """Lay out collapsed ``(x, t_x, T)`` rows; times are multiplied by ``scale``."""
        keep = col.weights > 0
        ix, itx, iT = (c[keep] for c in col.codes)
        lx, ltx, lT = col.levels
        w = col.weights[keep]
        x = lx[ix]
        rep = x > 0
        zero = ~rep
        nT = lT.shape[0]
        return cls(
            n=float(w.sum()),
            ux=lx,
            wx=np.bincount(ix, weights=w, minlength=lx.shape[0]),
            uT=lT * scale,
            wT0=np.bincount(iT[zero], weights=w[zero], minlength=nT),
            wT1=np.bincount(iT[rep], weights=w[rep], minlength=nT),
            wxT1=np.bincount(iT[rep], weights=(w * x)[rep], minlength=nT),
            utx=ltx * scale,
            ix1=ix[rep],
            iT1=iT[rep],
            itx1=itx[rep],
            x1=x[rep],
            w1=w[rep],
            sum_wx=dot(w, x),
            n_rows=int(w.shape[0]),
        )

    def log_likelihood(self, params: FloatArray, *, grad: bool) -> tuple[float, FloatArray]:
        """Total log-likelihood (FHL 2005a eq. 6, note 004 eq. 3) and its gradient.

        Per customer, with ``A = -(r+x) ln(alpha+T)`` and
        ``B = ln a - ln(b+x-1) - (r+x) ln(alpha+t_x)``::

            ln L = ln Gamma(r+x) - ln Gamma(r) + r ln alpha
                   + ln B(a, b+x) - ln B(a, b) + A + [x > 0] softplus(B - A)

        since ``logaddexp(A, B) = A + softplus(B - A)``.
        """
        r, alpha, a, b = params
        ux, wx, n = self.ux, self.wx, self.n
        # Terms that depend on x only: ln Gamma(r+x)/Gamma(r) + ln B(a, b+x)/B(a, b).
        gx = (
            gammaln(r + ux)
            - gammaln(r)
            + gammaln(a + b)
            + gammaln(b + ux)
            - gammaln(b)
            - gammaln(a + b + ux)
        )
        log_at = np.log(alpha + self.uT)
        log_atx = np.log(alpha + self.utx)
        # sum of A over all customers, aggregated per distinct T.
        coef_T = r * (self.wT0 + self.wT1) + self.wxT1
        ll = dot(wx, gx) + n * r * np.log(alpha) - dot(coef_T, log_at)
        # x > 0 rows: d = B - A = ln a - ln(b+x-1) + (r+x) (ln(alpha+T) - ln(alpha+t_x)).
        xs = np.maximum(ux, 1.0)
        inv_bx = 1.0 / (b + xs - 1.0)
        cx = np.log(a * inv_bx)
        rx = r + self.x1
        gap = log_at[self.iT1] - log_atx[self.itx1]
        d = cx[self.ix1] + rx * gap
        # Stable softplus(d) = ln(1 + e^d) and logistic(d), sharing one exp.
        e = np.exp(-np.abs(d))
        ll += dot(self.w1, (np.maximum(d, 0.0) + np.log1p(e)))
        if not grad:
            return ll, np.empty(0)
        # weight x share of the "dropped out after t_x" branch, logistic(d)
        wp = self.w1 * np.where(d >= 0.0, 1.0, e) / (1.0 + e)
        psi_ab = digamma(a + b)
        psi_abx = digamma(a + b + ux)
        inv_at = 1.0 / (alpha + self.uT)
        inv_atx = 1.0 / (alpha + self.utx)
        d_r = (
            dot(wx, (digamma(r + ux) - digamma(r)))
            + n * np.log(alpha)
            - dot(self.wT0 + self.wT1, log_at)
            + dot(wp, gap)
        )
        d_alpha = (
            n * r / alpha
            - dot(coef_T, inv_at)
            + dot(wp * rx, inv_at[self.iT1] - inv_atx[self.itx1])
        )
        wp_x = np.bincount(self.ix1, weights=wp, minlength=ux.shape[0])
        d_a = dot(wx, (psi_ab - psi_abx)) + float(wp_x.sum()) / a
        d_b = dot(wx, (psi_ab + digamma(b + ux) - digamma(b) - psi_abx)) - dot(wp_x, inv_bx)
        return ll, np.array([d_r, d_alpha, d_a, d_b])


#: Below this many rows, predictions are computed row by row instead of on distinct rows.
_COLLAPSE_MIN_ROWS = 20_000


def _purchases_if_alive(
    params: tuple[float, ...],
    t: FloatArray,
    x: FloatArray,
    T: FloatArray,
    *,
    distinct: bool = False,
) -> FloatArray:
    """Numerator of FHL 2005a eq. 10: expected purchases in ``(T, T+t]`` if alive at T.

    ``((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)`` equals
    ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)`` with ``z = t/(alpha+T+t)`` (Euler's
    transformation). The second form has small upper parameters, so it neither overflows
    nor loses precision for heavy buyers (large x). It depends on ``(x, T, t)`` only, so
    for many customers it is evaluated once per distinct ``(x, T, t)``.
    """
    r, alpha, a, b = params
    if not distinct and x.size >= _COLLAPSE_MIN_ROWS:
        col = collapse(x.ravel(), T.ravel(), t.ravel())
        ux, uT, ut = col.columns
        values = _purchases_if_alive(params, ut, ux, uT, distinct=True)
        return values[col.inverse].reshape(x.shape)
    z = t / (alpha + T + t)
    c = a + b + x - 1.0
    hyp = np.exp((a - 1.0) * np.log1p(-z)) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    return (c / (a - 1.0)) * (1.0 - hyp)


def _expected_purchases(
    params: tuple[float, ...], t: FloatArray, x: FloatArray, tx: FloatArray, T: FloatArray
) -> FloatArray:
    """FHL 2005a eq. 10: purchases-if-alive times P(alive)."""
    return _purchases_if_alive(params, t, x, T) * _probability_alive(params, x, tx, T)


def _probability_alive(
    params: tuple[float, ...], x: FloatArray, tx: FloatArray, T: FloatArray
) -> FloatArray:
    """P(alive | x, t_x, T) (Hardie note 021 eq. 5; denominator of FHL 2005a eq. 10)."""
    r, alpha, a, b = params
    log_odds_dead = (r + x) * np.log((alpha + T) / (alpha + tx))
    log_odds_dead += np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0)
    p_alive = np.asarray(expit(-log_odds_dead))
    p_alive[x == 0] = 1.0
    return p_alive


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

    The bracket is evaluated as a stable log-sum-exp (softplus). Customers with identical
    summaries are collapsed with weights, so the cost of one likelihood/gradient
    evaluation scales with the number of distinct summaries. Time is rescaled so that
    ``max(T) = 1`` during the optimisation (alpha is a scale parameter); reported values
    are in the input unit.

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
        col = collapse(x, tx, T_, weights=w, need_inverse=False)
        scale = 1.0 / t_max
        data = _BGData.build(col, scale)

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
            outcome, params, log_likelihood, data.n, data.n_rows, time.perf_counter() - start
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
        col = collapse(x, tx, T_, weights=w, need_inverse=False)
        return _BGData.build(col, 1.0).log_likelihood(params, grad=False)[0]

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
        ``_purchases_if_alive``); undefined at exactly ``a == 1``.

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
