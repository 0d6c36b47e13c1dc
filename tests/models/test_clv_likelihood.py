"""Likelihood internals: analytic gradients, collapsing with weights, parameter recovery."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln, gammaln

from models.clv import BetaGeoModel, GammaGammaModel
from models.clv._collapse import collapse, factorize
from models.clv.beta_geo import _BGData
from models.clv.gamma_gamma import _GGData
from models.clv.simulate import simulate_summaries

BG_TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_TRUE = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def naive_bg_loglik(params, x, tx, T) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood written directly from FHL 2005a eq. 6."""
    r, alpha, a, b = params
    like_alive = np.exp(
        gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)
    )
    like_dead = np.where(
        x > 0,
        np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + tx))
        * a
        / (b + np.maximum(x, 1) - 1),
        0.0,
    )
    beta_ratio = np.exp(betaln(a, b + x) - betaln(a, b))
    return np.log(beta_ratio * (like_alive + like_dead))


def naive_gg_loglik(params, x, m) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood (Hardie note 025 eq. 1a)."""
    p, q, g = params
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + m * x)
    )


def central_gradient(fun, params: np.ndarray, rel_step: float = 1e-6) -> np.ndarray:
    grad = np.empty_like(params)
    for i in range(params.size):
        h = rel_step * params[i]
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (fun(up) - fun(down)) / (2 * h)
    return grad


@pytest.fixture(scope="module")
def bg_data(cdnow) -> _BGData:
    return _BGData.build(collapse(cdnow["frequency"], cdnow["recency"], cdnow["T"]), 1.0)


@pytest.fixture(scope="module")
def gg_data(cdnow) -> _GGData:
    rep = cdnow["frequency"] > 0
    return _GGData.from_rows(cdnow["frequency"][rep], cdnow["monetary_value"][rep], None, 1.0)


@pytest.mark.parametrize(
    "params",
    [[0.243, 4.414, 0.793, 2.426], [1.5, 0.7, 3.0, 0.4], [0.05, 40.0, 0.2, 12.0]],
)
def test_bg_gradient_matches_finite_differences(bg_data, params):
    params = np.array(params)
    _, grad = bg_data.log_likelihood(params, grad=True)
    numeric = central_gradient(lambda p: bg_data.log_likelihood(p, grad=False)[0], params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("params", [[6.25, 3.74, 15.44], [0.8, 1.5, 200.0], [30.0, 10.0, 2.0]])
def test_gg_gradient_matches_finite_differences(gg_data, params):
    params = np.array(params)
    _, grad = gg_data.log_likelihood(params, grad=True)
    numeric = central_gradient(lambda p: gg_data.log_likelihood(p, grad=False)[0], params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-4)


def test_bg_gradient_scipy_check_grad(bg_data):
    from scipy.optimize import check_grad

    def f(theta):
        return -bg_data.log_likelihood(np.exp(theta), grad=False)[0] / bg_data.n

    def g(theta):
        p = np.exp(theta)
        return -bg_data.log_likelihood(p, grad=True)[1] * p / bg_data.n

    theta = np.log([0.3, 3.0, 1.1, 2.0])
    assert check_grad(f, g, theta) < 1e-6 * np.linalg.norm(g(theta)) + 1e-7


def test_collapsed_bg_likelihood_equals_row_by_row(bg, cdnow):
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    params = [bg.params_[k] for k in bg.param_names]
    rowwise = naive_bg_loglik(params, f, r, T).sum()
    assert bg.log_likelihood(f, r, T) == pytest.approx(rowwise, rel=1e-12)
    assert bg.log_likelihood_ == pytest.approx(rowwise, rel=1e-12)


def test_collapsed_gg_likelihood_equals_row_by_row(gg, cdnow):
    rep = cdnow["frequency"] > 0
    x, m = cdnow["frequency"][rep], cdnow["monetary_value"][rep]
    params = [gg.params_[k] for k in gg.param_names]
    rowwise = naive_gg_loglik(params, x, m).sum()
    assert gg.log_likelihood(x, m) == pytest.approx(rowwise, rel=1e-12)
    assert gg.log_likelihood_ == pytest.approx(rowwise, rel=1e-12)


def test_gg_likelihood_without_collapsing_equals_row_by_row():
    """All-distinct spends skip the collapse; both layouts must agree with eq. 1a."""
    rng = np.random.default_rng(5)
    x = rng.integers(1, 30, 5000).astype(float)
    m = rng.gamma(3.0, 20.0, 5000)
    params = [6.25, 3.74, 15.44]
    gg = GammaGammaModel().set_params(dict(zip(("p", "q", "gamma"), params, strict=True)))
    rowwise = naive_gg_loglik(params, x, m).sum()
    assert gg.log_likelihood(x, m) == pytest.approx(rowwise, rel=1e-12)
    m_coarse = np.round(m, -1) + 1.0  # many duplicates: collapsed layout
    rowwise_coarse = naive_gg_loglik(params, x, m_coarse).sum()
    assert gg.log_likelihood(x, m_coarse) == pytest.approx(rowwise_coarse, rel=1e-12)
    assert _GGData.from_rows(x, m, None, 1.0).w.shape[0] == 5000
    assert _GGData.from_rows(x, m_coarse, None, 1.0).w.shape[0] < 5000


def test_weighted_fit_equals_expanded_fit(cdnow, bg):
    """Pre-aggregated rows with weights give the same fit as the customer-level rows."""
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    keys, counts = np.unique(np.column_stack([f, r, T]), axis=0, return_counts=True)
    weighted = BetaGeoModel().fit(keys[:, 0], keys[:, 1], keys[:, 2], weights=counts)
    for name in bg.param_names:
        assert weighted.params_[name] == pytest.approx(bg.params_[name], rel=1e-8)
    assert weighted.log_likelihood_ == pytest.approx(bg.log_likelihood_, rel=1e-12)
    assert weighted.n_customers_ == 2357
    assert weighted.n_unique_ == bg.n_unique_ == len(keys)


def test_duplicated_data_same_params_double_likelihood(cdnow, bg, gg):
    f, r, T, m = (np.tile(cdnow[k], 2) for k in ("frequency", "recency", "T", "monetary_value"))
    bg2 = BetaGeoModel().fit(f, r, T)
    for name in bg.param_names:
        assert bg2.params_[name] == pytest.approx(bg.params_[name], rel=1e-8)
    assert bg2.log_likelihood_ == pytest.approx(2 * bg.log_likelihood_, rel=1e-12)
    assert bg2.n_unique_ == bg.n_unique_
    rep = f > 0
    gg2 = GammaGammaModel().fit(f[rep], m[rep])
    for name in gg.param_names:
        assert gg2.params_[name] == pytest.approx(gg.params_[name], rel=1e-8)
    assert gg2.log_likelihood_ == pytest.approx(2 * gg.log_likelihood_, rel=1e-12)


def test_fit_is_invariant_to_time_and_money_units(cdnow, bg, gg):
    """Days instead of weeks: alpha scales by 7, the rest is unchanged."""
    f, r, T, m = (cdnow[k] for k in ("frequency", "recency", "T", "monetary_value"))
    days = BetaGeoModel().fit(f, r * 7, T * 7)
    assert days.params_["alpha"] == pytest.approx(7 * bg.params_["alpha"], rel=1e-7)
    for name in ("r", "a", "b"):
        assert days.params_[name] == pytest.approx(bg.params_[name], rel=1e-7)
    rep = f > 0
    won = GammaGammaModel().fit(f[rep], m[rep] * 1300.0)
    assert won.params_["gamma"] == pytest.approx(1300.0 * gg.params_["gamma"], rel=1e-7)
    for name in ("p", "q"):
        assert won.params_[name] == pytest.approx(gg.params_[name], rel=1e-7)


def test_recovers_simulated_parameters():
    """Seeded simulation from the generative process: estimates within 4 standard errors."""
    data = simulate_summaries(
        60_000, BG_TRUE, GG_TRUE, max_age_days=730, time_unit_days=7.0, seed=42
    )
    f, r, T, m = (data[k] for k in ("frequency", "recency", "T", "monetary_value"))
    bg = BetaGeoModel().fit(f, r, T)
    assert bg.converged_
    for name, true in BG_TRUE.items():
        assert abs(bg.params_[name] - true) < 4 * bg.standard_errors_[name], name
    rep = f > 0
    gg = GammaGammaModel().fit(f[rep], m[rep])
    assert gg.converged_
    for name, true in GG_TRUE.items():
        assert abs(gg.params_[name] - true) < 4 * gg.standard_errors_[name], name


def test_collapse_roundtrip_and_paths():
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 4, 500).astype(float)  # small-range integers: dense path
    b = rng.choice([0.5, 1.25, 1e9, -2.0], 500)  # floats: np.unique path
    c = rng.integers(0, 10**15, 500).astype(float)  # wide-range integers
    w = rng.random(500)
    col = collapse(a, b, c, weights=w)
    for orig, uniq in zip((a, b, c), col.columns, strict=True):
        np.testing.assert_array_equal(uniq[col.inverse], orig)
    assert col.weights.sum() == pytest.approx(w.sum())
    expected = np.unique(np.column_stack([a, b, c]), axis=0)
    np.testing.assert_array_equal(np.column_stack(col.columns), expected)
    levels, codes = factorize(np.array([3.0, -1.0, 3.0, 7.0]))
    np.testing.assert_array_equal(levels, [-1.0, 3.0, 7.0])
    np.testing.assert_array_equal(codes, [1, 0, 1, 2])


def test_collapse_lexsort_fallback_for_huge_key_space():
    rng = np.random.default_rng(1)
    cols = [rng.random(300) for _ in range(8)]  # 300^8 combinations > 2^62
    cols = [np.concatenate([c, c[:50]]) for c in cols]
    col = collapse(*cols)
    assert col.n_unique == 300
    for orig, uniq in zip(cols, col.columns, strict=True):
        np.testing.assert_array_equal(uniq[col.inverse], orig)
    assert sorted(col.weights) == [1.0] * 250 + [2.0] * 50


@pytest.mark.parametrize(
    "values",
    [
        np.arange(0, 731)[::-1] / 7.0,  # days in weeks: grid path
        np.round(np.linspace(0.01, 500.0, 997), 2),  # cents: grid path
        np.array([3.0, -1.0, 3.0, 7.0, 1e6]),  # sparse integers
        np.random.default_rng(2).gamma(2.0, 10.0, 1000),  # continuous: search path
        np.array([0.1, 0.2, 0.30000000000000004, 0.3]),  # near-duplicates stay distinct
    ],
)
def test_factorize_matches_numpy_unique(values):
    values = np.concatenate([values, values[::3]])
    levels, codes = factorize(values)
    expected_levels, expected_codes = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(levels, expected_levels)
    np.testing.assert_array_equal(codes, expected_codes)


def test_collapse_without_inverse_gives_same_groups(cdnow):
    cols = [cdnow[k] for k in ("frequency", "recency", "T")]
    full = collapse(*cols)
    light = collapse(*cols, need_inverse=False)
    assert light.inverse is None
    for a, b in zip(full.columns, light.columns, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full.weights, light.weights)
