"""Discounted customer lifetime value from a BG/NBD and a Gamma-Gamma model.

Same construction as lifetimes' ``GammaGammaFitter.customer_lifetime_value`` (and
Fader, Hardie & Lee 2005b, section "CLV"): the horizon is cut into months; the expected
purchases in month ``k`` are ``E[Y(k)] - E[Y(k-1)]`` from BG/NBD eq. 10; each month's
purchases are valued at the Gamma-Gamma expected average value, multiplied by the margin
rate and discounted to today as a cash flow at the end of month ``k``::

    CLV = margin_rate * E[M | x, m] * sum_{k=1..H} (E[Y(k)] - E[Y(k-1)]) / (1 + d)^(k/12)

with ``d`` the annual discount rate. lifetimes takes a *monthly* rate ``d_m``; the two
agree when ``1 + d = (1 + d_m)^12``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._collapse import collapse
from .beta_geo import BetaGeoModel, _probability_alive, _purchases_if_alive
from .gamma_gamma import GammaGammaModel

#: Mean Gregorian month length in days (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12.0


def _check_schedule(
    horizon_months: int, annual_discount_rate: float, time_unit_days: float, days_per_month: float
) -> None:
    if int(horizon_months) != horizon_months or horizon_months < 1:
        raise ValueError(f"horizon_months must be a whole number >= 1, got {horizon_months}")
    if not (np.isfinite(annual_discount_rate) and annual_discount_rate >= 0):
        raise ValueError(
            f"annual_discount_rate must be finite and >= 0, got {annual_discount_rate}"
        )
    if not (np.isfinite(time_unit_days) and time_unit_days > 0):
        raise ValueError(f"time_unit_days must be finite and > 0, got {time_unit_days}")
    if not (np.isfinite(days_per_month) and days_per_month > 0):
        raise ValueError(f"days_per_month must be finite and > 0, got {days_per_month}")


def discounted_expected_purchases(
    transaction_model: BetaGeoModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    time_unit_days: float,
    days_per_month: float = DAYS_PER_MONTH,
) -> NDArray[np.float64]:
    """Present value (in purchases) of the expected repeat purchases over the horizon.

    ``sum_{k=1..H} (E[Y(k)] - E[Y(k-1)]) / (1 + d)^(k/12)`` with ``E[Y(k)]`` the BG/NBD
    conditional expectation (FHL 2005a eq. 10) at ``k`` months. The hypergeometric part
    of eq. 10 depends on ``(frequency, T)`` only and is evaluated once per distinct pair.

    Parameters
    ----------
    transaction_model : BetaGeoModel
        Fitted purchase model (time unit = ``time_unit_days`` days).
    frequency, recency, T : array_like
        Customer summaries in the model's time unit.
    horizon_months : int
        Number of months ``H`` (>= 1).
    annual_discount_rate : float
        Annual discount rate ``d`` (e.g. 0.1 for 10 %); 0 = no discounting.
    time_unit_days : float
        Length of the model's time unit in days (7 for weeks).
    days_per_month : float, default 365.25 / 12
        Month length in days; lifetimes uses 4.345 weeks = 30.415 days.

    Returns
    -------
    numpy.ndarray
        Discounted expected purchases per customer.
    """
    _check_schedule(horizon_months, annual_discount_rate, time_unit_days, days_per_month)
    params = transaction_model._params()
    x, tx, T_ = transaction_model._rfm(frequency, recency, T)
    # E[Y(t)] = P(alive | x, t_x, T) * N(t | x, T): discount N per distinct (x, T).
    col = collapse(x.ravel(), T_.ravel())
    ux, uT = col.columns
    periods_per_month = days_per_month / time_unit_days
    total = np.zeros_like(ux)
    previous = np.zeros_like(ux)
    for k in range(1, int(horizon_months) + 1):
        t = np.full_like(ux, k * periods_per_month)
        cumulative = _purchases_if_alive(params, t, ux, uT, distinct=True)
        total += (cumulative - previous) * (1.0 + annual_discount_rate) ** (-k / 12.0)
        previous = cumulative
    return total[col.inverse].reshape(x.shape) * _probability_alive(params, x, tx, T_)


def customer_lifetime_value(
    transaction_model: BetaGeoModel,
    spend_model: GammaGammaModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    margin_rate: float,
    time_unit_days: float,
    days_per_month: float = DAYS_PER_MONTH,
) -> NDArray[np.float64]:
    """Discounted expected margin over the next ``horizon_months`` months.

    ``margin_rate * E[M | x, m] * discounted_expected_purchases(...)``: BG/NBD expected
    purchases per month (FHL 2005a eq. 10) times the Gamma-Gamma expected average value
    (FHL 2005b eq. 5), times the margin rate, discounted monthly (see module docstring).

    Parameters
    ----------
    transaction_model : BetaGeoModel
        Fitted purchase model.
    spend_model : GammaGammaModel
        Fitted spend model.
    frequency, recency, T : array_like
        Customer summaries in the purchase model's time unit.
    monetary_value : array_like
        Mean repeat transaction value; ignored (population mean used) where
        ``frequency == 0``; must be > 0 where ``frequency > 0`` -- callers decide
        explicitly how to treat customers with non-positive spend (see docs/models.md).
    horizon_months : int
        Horizon ``H`` in months.
    annual_discount_rate : float
        Annual discount rate ``d``.
    margin_rate : float
        Share of revenue that is margin (1.0 = revenue CLV), >= 0.
    time_unit_days : float
        Length of the model's time unit in days (7 for weeks).
    days_per_month : float, default 365.25 / 12
        Month length in days.

    Returns
    -------
    numpy.ndarray
        CLV per customer, in the currency of ``monetary_value``.
    """
    if not (np.isfinite(margin_rate) and margin_rate >= 0):
        raise ValueError(f"margin_rate must be finite and >= 0, got {margin_rate}")
    value = spend_model.expected_average_value(frequency, monetary_value)
    purchases = discounted_expected_purchases(
        transaction_model,
        frequency,
        recency,
        T,
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        time_unit_days=time_unit_days,
        days_per_month=days_per_month,
    )
    return margin_rate * value * purchases
