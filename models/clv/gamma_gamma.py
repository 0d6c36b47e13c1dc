"""Gamma-Gamma model of the average value of a customer's repeat purchases.

Reference: Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "RFM and CLV: Using
Iso-Value Curves for Customer Base Analysis", *Journal of Marketing Research* 42(4),
415-430 (cited below as FHL 2005b), and the technical note
http://brucehardie.com/notes/025/ (likelihood, eq. 1a; conditional expectation, eq. 5).

Model: the value of each transaction of a customer is ``Gamma(shape=p, rate=nu)``; the
customer's ``nu`` is ``Gamma(shape=q, rate=gamma)`` across customers; spend is assumed
independent of the purchase process. A customer is summarised by ``(x, m)`` = (number of
repeat transactions, mean value of those transactions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from ._base import BaseCLVModel
from ._collapse import collapse, factorize
from ._optimize import minimize_log_params
from ._validation import check_spend, coerce_columns, coerce_weights, dot

FloatArray = NDArray[np.float64]

#: Collapse (x, m) rows only if that can remove at least this share of them.
_MIN_COLLAPSE_GAIN = 0.1


@dataclass(frozen=True)
class _GGData:
    """Collapsed Gamma-Gamma data with the parameter-free sums precomputed."""

    n: float
    w: FloatArray  # per distinct (x, m) row: weight
    wx: FloatArray  # weight * x
    mx: FloatArray  # m * x (total repeat spend)
    ux: FloatArray  # distinct x
    wux: FloatArray  # weight per distinct x
    sum_wx_logm: float  # sum w x ln m
    sum_w_logm: float  # sum w ln m
    sum_wx_logx: float  # sum w x ln x

    @classmethod
    def build(cls, x: FloatArray, m: FloatArray, w: FloatArray, scale: float) -> _GGData:
        """Lay out ``(x, m)`` rows with weights; money is divided by ``scale``."""
        keep = w > 0
        x, m, w = x[keep], m[keep] / scale, w[keep]
        lx, ix = factorize(x)
        log_m = np.log(m)
        wx = w * x
        return cls(
            n=float(w.sum()),
            w=w,
            wx=wx,
            mx=m * x,
            ux=lx,
            wux=np.bincount(ix, weights=w, minlength=lx.shape[0]),
            sum_wx_logm=dot(wx, log_m),
            sum_w_logm=dot(w, log_m),
            sum_wx_logx=dot(wx, np.log(x)),
        )

    @classmethod
    def from_rows(cls, x: FloatArray, m: FloatArray, w: FloatArray | None, scale: float) -> _GGData:
        """Collapse identical ``(x, m)`` rows first, when that removes enough of them.

        Mean spends are usually all distinct, in which case collapsing would cost a sort
        and save nothing: the number of distinct ``m`` (a cheap upper bound on the saving)
        decides.
        """
        ordered = np.sort(m)
        n_distinct_m = 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))
        if n_distinct_m > (1.0 - _MIN_COLLAPSE_GAIN) * m.shape[0]:
            return cls.build(x, m, np.ones_like(m) if w is None else w, scale)
        col = collapse(x, m, weights=w, need_inverse=False)
        return cls.build(col.columns[0], col.columns[1], col.weights, scale)

    def log_likelihood(self, params: FloatArray, *, grad: bool) -> tuple[float, FloatArray]:
        """Total log-likelihood (note 025 eq. 1a) and its gradient in (p, q, gamma).

        Per customer::

            ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln(gamma)
            + (px-1) ln(m) + px ln(x) - (px+q) ln(gamma + m x)
        """
        p, q, g = params
        ux, wux, n = self.ux, self.wux, self.n
        pux = p * ux
        g_mx = g + self.mx
        log_gmx = np.log(g_mx)
        s_wx_log = dot(self.wx, log_gmx)
        s_w_log = dot(self.w, log_gmx)
        ll = (
            dot(wux, gammaln(pux + q) - gammaln(pux))
            - n * gammaln(q)
            + n * q * np.log(g)
            + p * self.sum_wx_logm
            - self.sum_w_logm
            + p * self.sum_wx_logx
            - p * s_wx_log
            - q * s_w_log
        )
        if not grad:
            return ll, np.empty(0)
        psi_pxq = digamma(pux + q)
        d_p = dot(wux * ux, psi_pxq - digamma(pux)) + self.sum_wx_logm + self.sum_wx_logx - s_wx_log
        d_q = dot(wux, psi_pxq) - n * digamma(q) + n * np.log(g) - s_w_log
        inv = 1.0 / g_mx
        d_g = n * q / g - p * dot(self.wx, inv) - q * dot(self.w, inv)
        return ll, np.array([d_p, d_q, d_g])


class GammaGammaModel(BaseCLVModel):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005b).

    Parameters
    ----------
    penalizer_coef : float, default 0
        L2 penalty ``penalizer_coef * (p^2 + q^2 + gamma^2)`` on the *mean* negative
        log-likelihood (parameters in the input currency unit), as in lifetimes'
        ``GammaGammaFitter``. ``0`` gives the maximum-likelihood estimate.
    tol : float, default 1e-8
        Convergence tolerance: largest absolute gradient component of the mean negative
        log-likelihood with respect to the log-parameters.
    maxiter : int, default 2000
        Maximum L-BFGS-B iterations.
    initial_params : dict, optional
        Starting values ``{p, q, gamma}``. Default: ``p = q = 1``, ``gamma`` = mean of
        ``monetary_value``.
    min_customers : int, default 10
        Minimum number of (repeat) customers required to fit.

    Attributes
    ----------
    params_ : dict
        ``{"p", "q", "gamma"}`` (lifetimes calls gamma ``v``).
    standard_errors_, log_likelihood_, converged_, n_iter_, n_customers_, n_unique_, \
fit_seconds_
        As for :class:`~models.clv.BetaGeoModel`; ``n_unique_`` is the number of rows the
        likelihood was evaluated on: distinct ``(frequency, monetary_value)`` pairs, or all
        rows when collapsing would remove less than 10 % of them (mean spends are usually
        all distinct).

    Notes
    -----
    Only customers with at least one repeat purchase carry information about spend, and
    the likelihood needs ``monetary_value > 0``. ``fit`` therefore *rejects* (ValueError)
    rows with ``frequency == 0`` or ``monetary_value <= 0`` rather than dropping them: the
    caller decides explicitly, e.g. ``mask = (frequency > 0) & (monetary_value > 0)``.
    ``monetary_value`` is the mean of the repeat transactions only (the first purchase is
    excluded, as in FHL 2005b).

    The model assumes spend independent of purchase frequency; check the correlation
    between ``frequency`` and ``monetary_value`` of repeat customers before relying on it.
    """

    param_names = ("p", "q", "gamma")
    model_name = "gamma_gamma"

    def __init__(
        self,
        *,
        penalizer_coef: float = 0.0,
        tol: float = 1e-8,
        maxiter: int = 2000,
        initial_params: dict[str, float] | None = None,
        min_customers: int = 10,
    ) -> None:
        super().__init__(
            penalizer_coef=penalizer_coef, tol=tol, maxiter=maxiter, initial_params=initial_params
        )
        if int(min_customers) < 1:
            raise ValueError("min_customers must be >= 1")
        self.min_customers = int(min_customers)

    def fit(
        self,
        frequency: ArrayLike,
        monetary_value: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> GammaGammaModel:
        """Estimate ``p, q, gamma`` by maximum likelihood on repeat customers.

        Parameters
        ----------
        frequency : array_like
            Number of repeat transactions ``x`` (whole numbers >= 1).
        monetary_value : array_like
            Mean value of the repeat transactions ``m`` (> 0).
        weights : array_like, optional
            Number of customers each row stands for.

        Returns
        -------
        GammaGammaModel
            ``self``, fitted.

        Raises
        ------
        ValueError
            If any ``frequency == 0`` or ``monetary_value <= 0`` (filter them explicitly),
            on invalid values, or with fewer than ``min_customers`` customers.
        """
        start = time.perf_counter()
        x, m = coerce_columns(
            {"frequency": frequency, "monetary_value": monetary_value}, allow_scalars=False
        )
        check_spend(x, m, allow_zero_frequency=False)
        w = None if weights is None else coerce_weights(weights, x.shape[0])
        n_customers = float(x.shape[0] if w is None else w.sum())
        if n_customers < self.min_customers:
            raise ValueError(
                f"too few repeat customers to fit Gamma-Gamma: {n_customers:g}, "
                f"min_customers={self.min_customers}"
            )
        # Rescale money so that the mean spend is 1 (gamma is a scale parameter).
        scale = float(np.average(m, weights=w))
        data = _GGData.from_rows(x, m, w, scale)
        pen = self.penalizer_coef
        unscale = np.array([1.0, 1.0, scale])

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(theta)
            ll, g = data.log_likelihood(params, grad=True)
            user = params * unscale
            f = -ll / data.n + pen * float(user @ user)
            return f, -g * params / data.n + 2.0 * pen * user * user

        if self.initial_params is None:
            init = np.ones(3)
        else:
            init = np.array([self.initial_params[k] for k in self.param_names], dtype=float)
            init[2] /= scale
        outcome = minimize_log_params(objective, np.log(init), tol=self.tol, maxiter=self.maxiter)
        p_scaled = np.exp(outcome.theta)
        # Undo the money rescaling: each customer's density of m is in 1/currency.
        log_likelihood = data.log_likelihood(p_scaled, grad=False)[0] - data.n * np.log(scale)
        params = dict(zip(self.param_names, (p_scaled * unscale).tolist(), strict=True))
        self._store_fit(
            outcome,
            params,
            log_likelihood,
            data.n,
            int(data.w.shape[0]),
            time.perf_counter() - start,
        )
        return self

    def log_likelihood(
        self, frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
    ) -> float:
        """Total Gamma-Gamma log-likelihood (note 025 eq. 1a) at the current ``params_``.

        Parameters
        ----------
        frequency, monetary_value : array_like
            Repeat customers' summaries, as in :meth:`fit`.
        weights : array_like, optional
            Customer count per row.

        Returns
        -------
        float
        """
        params = np.array(self._params())
        x, m = coerce_columns(
            {"frequency": frequency, "monetary_value": monetary_value}, allow_scalars=False
        )
        check_spend(x, m, allow_zero_frequency=False)
        w = None if weights is None else coerce_weights(weights, x.shape[0])
        return _GGData.from_rows(x, m, w, 1.0).log_likelihood(params, grad=False)[0]

    def expected_population_average_value(self) -> float:
        """Mean transaction value of a randomly chosen customer, ``p gamma / (q - 1)``.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            If ``q <= 1`` (the population mean does not exist).
        """
        p, q, g = self._params()
        if q <= 1:
            raise ValueError(f"population mean spend is undefined for q = {q:.4g} <= 1")
        return p * g / (q - 1.0)

    def expected_average_value(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> NDArray[np.float64]:
        """Conditional expected average transaction value (FHL 2005b eq. 5).

        .. math::

            E[M | p, q, \\gamma, m_x, x] = \\frac{(\\gamma + m_x x) p}{p x + q - 1}
            = \\frac{q - 1}{p x + q - 1} \\frac{p \\gamma}{q - 1}
              + \\frac{p x}{p x + q - 1} m_x

        a weighted average of the population mean and the customer's observed mean
        (lifetimes: ``conditional_expected_average_profit``).

        Parameters
        ----------
        frequency : float or array_like
            Number of repeat transactions ``x``. ``x == 0`` is allowed here: such a
            customer gets the population mean ``p gamma / (q - 1)`` and its
            ``monetary_value`` is ignored (may be 0).
        monetary_value : float or array_like
            Mean repeat transaction value; must be > 0 where ``x > 0``.

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ValueError
            On invalid input, or if ``p x + q - 1 <= 0`` for some row (fitted ``q <= 1``).
        """
        p, q, g = self._params()
        x, m = coerce_columns(
            {"frequency": frequency, "monetary_value": monetary_value}, allow_scalars=True
        )
        check_spend(x, m, allow_zero_frequency=True)
        denom = p * x + q - 1.0
        if np.any(denom <= 0):
            raise ValueError(
                f"expected average value is undefined where p*x + q - 1 <= 0 (q = {q:.4g})"
            )
        m_obs = np.where(x > 0, m, 0.0)
        return (g + m_obs * x) * p / denom
