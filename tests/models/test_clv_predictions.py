"""Predictions cross-checked against lifetimes (same parameters) and a direct series."""

from __future__ import annotations

import math

import lifetimes
import numpy as np
import pandas as pd
import pytest

from models.clv import (
    BetaGeoModel,
    GammaGammaModel,
    customer_lifetime_value,
    discounted_expected_purchases,
)


@pytest.fixture(scope="module")
def lt_models(bg, gg, lifetimes_with_params):
    return (
        lifetimes_with_params(lifetimes.BetaGeoFitter, bg.params_),
        lifetimes_with_params(lifetimes.GammaGammaFitter, gg.params_),
    )


@pytest.mark.parametrize("t", [0.5, 1.0, 10.0, 39.0, 52.0, 260.0])
def test_expected_purchases_matches_lifetimes(bg, lt_models, cdnow, t):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = bg.expected_purchases(t, f, r, T)
    theirs = lt_models[0].conditional_expected_number_of_purchases_up_to_time(t, f, r, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)


def test_expected_purchases_collapsed_path_matches_rowwise(bg, cdnow):
    """Large inputs are evaluated on distinct (x, T, t); compare with small batches."""
    f, r, T = (np.tile(cdnow[k], 10) for k in ("frequency", "recency", "T"))
    t = np.linspace(1, 52, f.size)  # all distinct: more distinct rows than the threshold
    big = bg.expected_purchases(t, f, r, T)
    small = np.concatenate(
        [
            bg.expected_purchases(
                t[i : i + 1000], f[i : i + 1000], r[i : i + 1000], T[i : i + 1000]
            )
            for i in range(0, len(f), 1000)
        ]
    )
    np.testing.assert_allclose(big, small, rtol=1e-14)


def test_probability_alive_matches_lifetimes(bg, lt_models, cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = bg.probability_alive(f, r, T)
    theirs = lt_models[0].conditional_probability_alive(f, r, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert np.all(ours[f == 0] == 1.0)


def test_expected_purchases_new_customer_matches_lifetimes(bg, lt_models):
    t = np.array([0.0, 1.0, 10.0, 39.0, 78.0, 520.0])
    ours = bg.expected_purchases_new_customer(t)
    theirs = lt_models[0].expected_number_of_purchases_up_to_time(t)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-15)


def _hyp2f1_series(a: float, b: float, c: float, z: float) -> float:
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-17 * abs(total):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        n += 1
    return total


@pytest.mark.parametrize(
    ("x", "tx", "T", "t"),
    [
        (0, 0.0, 38.0, 10.0),
        (2, 30.4, 38.9, 39.0),
        (25, 37.0, 38.9, 52.0),
        (200, 100.0, 104.0, 10.0),
    ],
)
def test_expected_purchases_matches_textbook_formula(bg, x, tx, T, t):
    """FHL 2005a eq. 10 with 2F1 summed directly (no Euler transform, no scipy, no lifetimes).

    x = 200 is a heavy buyer, where the textbook 2F1 term is ~1e8 and lifetimes needs
    its overflow fallback.
    """
    r, alpha, a, b = (bg.params_[k] for k in ("r", "alpha", "a", "b"))
    z = t / (alpha + T + t)
    hyp = _hyp2f1_series(r + x, b + x, a + b + x - 1, z)
    numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    denominator = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x)
    expected = numerator / denominator
    assert float(bg.expected_purchases(t, x, tx, T)) == pytest.approx(expected, rel=1e-9)
    assert math.isfinite(expected)


def test_expected_average_value_matches_lifetimes(gg, lt_models, cdnow):
    f, m = cdnow["frequency"], cdnow["monetary_value"]
    ours = gg.expected_average_value(f, m)
    theirs = lt_models[1].conditional_expected_average_profit(f, m)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    # One-time buyers get the population mean p * gamma / (q - 1).
    assert np.allclose(ours[f == 0], gg.expected_population_average_value(), rtol=1e-14)
    p, q, g = (gg.params_[k] for k in ("p", "q", "gamma"))
    assert gg.expected_population_average_value() == pytest.approx(p * g / (q - 1), rel=1e-14)


def test_clv_matches_lifetimes(bg, gg, lt_models, cdnow):
    f, r, T, m = (cdnow[k] for k in ("frequency", "recency", "T", "monetary_value"))
    monthly = 0.01
    theirs = (
        lt_models[1]
        .customer_lifetime_value(
            lt_models[0],
            pd.Series(f),
            pd.Series(r),
            pd.Series(T),
            pd.Series(m),
            time=12,
            discount_rate=monthly,
            freq="W",
        )
        .to_numpy()
    )
    ours = customer_lifetime_value(
        bg,
        gg,
        f,
        r,
        T,
        m,
        horizon_months=12,
        annual_discount_rate=(1 + monthly) ** 12 - 1,
        margin_rate=1.0,
        time_unit_days=7.0,
        days_per_month=4.345 * 7.0,  # lifetimes' weeks per month
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-8)
    half = customer_lifetime_value(
        bg,
        gg,
        f,
        r,
        T,
        m,
        horizon_months=12,
        annual_discount_rate=(1 + monthly) ** 12 - 1,
        margin_rate=0.5,
        time_unit_days=7.0,
        days_per_month=4.345 * 7.0,
    )
    np.testing.assert_allclose(half, 0.5 * theirs, rtol=1e-8)


def test_undiscounted_purchases_sum_to_horizon_expectation(bg, cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    months = 18
    total = discounted_expected_purchases(
        bg, f, r, T, horizon_months=months, annual_discount_rate=0.0, time_unit_days=7.0
    )
    horizon_weeks = months * (365.25 / 12) / 7
    np.testing.assert_allclose(total, bg.expected_purchases(horizon_weeks, f, r, T), rtol=1e-10)
    discounted = discounted_expected_purchases(
        bg, f, r, T, horizon_months=months, annual_discount_rate=0.2, time_unit_days=7.0
    )
    assert np.all(discounted < total)
    assert np.all(discounted > total / 1.2 ** (months / 12))


def test_predictions_accept_scalars_lists_pandas_polars(bg, gg, cdnow):
    import polars as pl

    f, r, T, m = (cdnow[k][:50] for k in ("frequency", "recency", "T", "monetary_value"))
    ref = bg.expected_purchases(10, f, r, T)
    np.testing.assert_array_equal(bg.expected_purchases(10, list(f), list(r), list(T)), ref)
    np.testing.assert_array_equal(
        bg.expected_purchases(10, pd.Series(f), pd.Series(r), pd.Series(T)), ref
    )
    np.testing.assert_array_equal(
        bg.expected_purchases(10, pl.Series(f), pl.Series(r), pl.Series(T)), ref
    )
    np.testing.assert_array_equal(
        gg.expected_average_value(pl.Series(f.astype(int)), pd.Series(m)),
        gg.expected_average_value(f, m),
    )
    assert float(bg.probability_alive(f[0], r[0], T[0])) == bg.probability_alive(f, r, T)[0]
    # A scalar horizon, frequency and T broadcast against an array of recencies.
    assert bg.expected_purchases(10, 3, np.array([5.0, 20.0]), 38.0).shape == (2,)


def test_set_params_predicts_without_fit():
    bg = BetaGeoModel().set_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    gg = GammaGammaModel().set_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    assert float(bg.probability_alive(0, 0, 10)) == 1.0
    assert float(gg.expected_average_value(0, 0)) == pytest.approx(6.25 * 15.44 / 2.74)
