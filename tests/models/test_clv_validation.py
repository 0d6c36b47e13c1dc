"""Input validation: clear ValueErrors instead of silent nonsense."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.clv import (
    BetaGeoModel,
    ConvergenceWarning,
    GammaGammaModel,
    NotFittedError,
    customer_lifetime_value,
)

F = np.array([0, 1, 2, 3, 0, 5, 1, 2, 4, 3, 2, 1, 0], dtype=float)
R = np.array([0, 2, 5, 9, 0, 20, 3, 8, 15, 10, 4, 6, 0], dtype=float)
T = np.full(13, 30.0)
M = np.where(F > 0, 10.0 + F, 0.0)


@pytest.fixture(scope="module")
def fitted():
    bg = BetaGeoModel().set_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    gg = GammaGammaModel().set_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    return bg, gg


@pytest.mark.parametrize(
    ("f", "r", "t", "match"),
    [
        (F, R, np.where(np.arange(13) == 3, 8.0, T), "recency must not exceed T"),
        (np.where(np.arange(13) == 2, -1.0, F), R, T, "frequency must be >= 0"),
        (F, np.where(np.arange(13) == 2, -1.0, R), T, "recency must be >= 0"),
        (F, R, np.where(np.arange(13) == 2, -1.0, T), "T must be >= 0"),
        (np.where(np.arange(13) == 2, 1.5, F), R, T, "whole numbers"),
        (F, np.where(np.arange(13) == 4, 3.0, R), T, "recency must be 0 when frequency is 0"),
        (F, np.where(np.arange(13) == 2, np.nan, R), T, "missing or non-finite"),
        (F, R, np.where(np.arange(13) == 2, np.inf, T), "missing or non-finite"),
        (F[:-1], R, T, "length mismatch"),
        (F[:0], R[:0], T[:0], "empty input"),
        (F.reshape(-1, 1), R, T, "one-dimensional"),
        (F.astype(str), R, T, "numeric"),
    ],
)
def test_bg_rejects_invalid_summaries(f, r, t, match, fitted):
    with pytest.raises(ValueError, match=match):
        BetaGeoModel(min_repeat_customers=1).fit(f, r, t)
    if match not in ("empty input", "length mismatch"):
        with pytest.raises(ValueError, match=match):
            fitted[0].probability_alive(f, r, t)


def test_error_names_position_and_count():
    bad_T = T.copy()
    bad_T[[3, 7]] = 1.0
    with pytest.raises(ValueError, match=r"2 row\(s\) with recency > T \(first at position 3\)"):
        BetaGeoModel(min_repeat_customers=1).fit(F, R, bad_T)


def test_missing_values_in_series_are_rejected():
    with pytest.raises(ValueError, match="missing"):
        BetaGeoModel(min_repeat_customers=1).fit(pd.Series(F, dtype="Int64").mask(F == 5), R, T)
    with pytest.raises(ValueError, match="missing"):
        BetaGeoModel(min_repeat_customers=1).fit(pl.Series(list(F[:-1]) + [None]), R, T)
    with pytest.raises(ValueError, match="missing"):
        BetaGeoModel(min_repeat_customers=1).fit(list(F[:-1]) + [None], R, T)


@pytest.mark.filterwarnings("ignore::models.clv.ConvergenceWarning")  # 10 rows only
def test_too_few_repeat_customers():
    n_repeat = int((F > 0).sum())
    with pytest.raises(ValueError, match="too few repeat customers"):
        BetaGeoModel(min_repeat_customers=n_repeat + 1).fit(F, R, T)
    BetaGeoModel(min_repeat_customers=n_repeat).fit(F, R, T)  # boundary is accepted
    with pytest.raises(ValueError, match="too few repeat customers"):
        BetaGeoModel().fit(np.zeros(100), np.zeros(100), np.full(100, 5.0))
    with pytest.raises(ValueError, match="too few repeat customers"):
        GammaGammaModel(min_customers=n_repeat + 1).fit(F[F > 0], M[F > 0])


def test_gg_fit_requires_explicit_filtering_of_one_time_buyers_and_bad_spend():
    with pytest.raises(ValueError, match="frequency 0.*Filter them out"):
        GammaGammaModel(min_customers=1).fit(F, M)
    bad = M.copy()
    bad[1] = 0.0
    with pytest.raises(ValueError, match="monetary_value must be > 0"):
        GammaGammaModel(min_customers=1).fit(F[F > 0], bad[F > 0])
    bad[1] = -5.0
    with pytest.raises(ValueError, match="monetary_value must be > 0"):
        GammaGammaModel(min_customers=1).fit(F[F > 0], bad[F > 0])


def test_gg_prediction_handles_one_time_buyers_explicitly(fitted):
    _, gg = fitted
    values = gg.expected_average_value(F, M)
    np.testing.assert_allclose(values[F == 0], gg.expected_population_average_value())
    with pytest.raises(ValueError, match="monetary_value must be > 0"):
        gg.expected_average_value([2], [-1.0])


def test_gg_population_mean_requires_q_above_one():
    gg = GammaGammaModel().set_params({"p": 2.0, "q": 0.8, "gamma": 10.0})
    with pytest.raises(ValueError, match="q = 0.8"):
        gg.expected_population_average_value()
    with pytest.raises(ValueError, match="p\\*x \\+ q - 1 <= 0"):
        gg.expected_average_value([0], [0.0])


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        BetaGeoModel().probability_alive(F, R, T)
    with pytest.raises(NotFittedError):
        GammaGammaModel().expected_average_value(F, M)
    with pytest.raises(NotFittedError):
        BetaGeoModel().set_params({"r": 1, "alpha": 1, "a": 1, "b": 1}).summary()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"penalizer_coef": -1.0}, "penalizer_coef"),
        ({"tol": 0.0}, "tol"),
        ({"maxiter": 0}, "maxiter"),
        ({"initial_params": {"r": 1.0}}, "missing parameter"),
        ({"initial_params": {"r": 1, "alpha": 1, "a": 1, "b": -1}}, "b must be finite and > 0"),
        ({"min_repeat_customers": 0}, "min_repeat_customers"),
    ],
)
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BetaGeoModel(**kwargs)


def test_bad_params_and_horizon(fitted):
    bg, gg = fitted
    with pytest.raises(ValueError, match="unknown parameter"):
        GammaGammaModel().set_params({"p": 1, "q": 2, "gamma": 3, "v": 3})
    with pytest.raises(ValueError, match="t must be >= 0"):
        bg.expected_purchases(-1.0, F, R, T)
    with pytest.raises(ValueError, match="weights must be >= 0"):
        BetaGeoModel(min_repeat_customers=1).fit(F, R, T, weights=-np.ones(13))
    common = {"horizon_months": 12, "annual_discount_rate": 0.1, "time_unit_days": 7.0}
    for key, value, match in [
        ("horizon_months", 0, "horizon_months"),
        ("horizon_months", 2.5, "horizon_months"),
        ("annual_discount_rate", -0.1, "annual_discount_rate"),
        ("time_unit_days", 0.0, "time_unit_days"),
    ]:
        with pytest.raises(ValueError, match=match):
            customer_lifetime_value(bg, gg, F, R, T, M, margin_rate=0.3, **{**common, key: value})
    with pytest.raises(ValueError, match="margin_rate"):
        customer_lifetime_value(bg, gg, F, R, T, M, margin_rate=-0.3, **common)


def test_initial_params_and_summary(cdnow):
    init = {"r": 0.5, "alpha": 10.0, "a": 2.0, "b": 5.0}
    bg = BetaGeoModel(initial_params=init).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert bg.params_["r"] == pytest.approx(0.2426, abs=1e-4)
    summary = bg.summary()
    assert summary["model"] == "bg_nbd"
    assert summary["converged"] is True
    assert set(summary["params"]) == {"r", "alpha", "a", "b"}
    assert summary["fit_seconds"] > 0
    assert "BetaGeoModel(r=0.2426" in repr(bg)


def test_degenerate_data_warns_and_reports_non_convergence():
    """Everyone still buying at T: no drop-out evidence, the MLE runs to a boundary."""
    f = np.full(50, 3.0)
    t_age = np.linspace(10, 60, 50)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        bg = BetaGeoModel().fit(f, t_age, t_age)
    assert bg.converged_ is False
    assert bg.summary()["converged"] is False
    with pytest.warns(ConvergenceWarning):
        gg = GammaGammaModel().fit(np.full(30, 2.0), np.full(30, 50.0))
    assert gg.converged_ is False


def test_regular_fit_does_not_warn(cdnow):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bg = BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert bg.converged_
