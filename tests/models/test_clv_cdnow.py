"""BG/NBD and Gamma-Gamma on CDNOW: published estimates (FHL 2005a/b) and lifetimes."""

from __future__ import annotations

import numpy as np
import pytest

from models.clv import BetaGeoModel, GammaGammaModel


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


# Fader, Hardie & Lee (2005a), section 5 / Hardie note 004.
PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BG_LL = -9582.4
# Fader, Hardie & Lee (2005b) / Hardie note 025, on the 946 repeat customers.
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def test_bg_matches_published_estimates(bg):
    assert bg.converged_
    for name, published in PUBLISHED_BG.items():
        assert sig3(bg.params_[name]) == sig3(published), name
    assert round(bg.log_likelihood_, 1) == PUBLISHED_BG_LL
    assert bg.n_customers_ == 2357
    assert bg.n_unique_ < 2357


def test_gg_matches_published_estimates(gg, cdnow):
    assert gg.converged_
    for name, published in PUBLISHED_GG.items():
        assert sig3(gg.params_[name]) == sig3(published), name
    assert gg.n_customers_ == int((cdnow["frequency"] > 0).sum()) == 946


def test_bg_matches_lifetimes_fit(bg, lt_bg):
    for name in bg.param_names:
        assert bg.params_[name] == pytest.approx(lt_bg.params_[name], rel=1e-5), name
    # lifetimes stores the mean negative log-likelihood in rescaled time (max T = 1); add
    # back sum(x) * ln(max T) to get the log-likelihood in weeks.
    data = lt_bg.data
    ll_lt = -lt_bg._negative_log_likelihood_ * len(data) - data["frequency"].sum() * np.log(
        data["T"].max()
    )
    assert bg.log_likelihood_ == pytest.approx(ll_lt, abs=1e-6)
    for name in bg.param_names:
        assert bg.standard_errors_[name] == pytest.approx(lt_bg.standard_errors_[name], rel=1e-3), (
            name
        )


def test_gg_matches_lifetimes_fit(gg, lt_gg):
    for name, lt_name in zip(gg.param_names, ("p", "q", "v"), strict=True):
        assert gg.params_[name] == pytest.approx(lt_gg.params_[lt_name], rel=1e-6), name
    n = len(lt_gg.data)
    assert gg.log_likelihood_ == pytest.approx(-lt_gg._negative_log_likelihood_ * n, rel=1e-10)
    for name, lt_name in zip(gg.param_names, ("p", "q", "v"), strict=True):
        assert gg.standard_errors_[name] == pytest.approx(
            lt_gg.standard_errors_[lt_name], rel=1e-3
        ), name


@pytest.mark.parametrize("penalizer", [0.001, 0.1])
def test_penalizer_matches_lifetimes(cdnow, penalizer):
    import warnings

    import lifetimes

    f, r, T, m = (cdnow[k] for k in ("frequency", "recency", "T", "monetary_value"))
    rep = f > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt_bg = lifetimes.BetaGeoFitter(penalizer_coef=penalizer).fit(f, r, T)
        lt_gg = lifetimes.GammaGammaFitter(penalizer_coef=penalizer).fit(f[rep], m[rep])
    ours_bg = BetaGeoModel(penalizer_coef=penalizer).fit(f, r, T)
    ours_gg = GammaGammaModel(penalizer_coef=penalizer).fit(f[rep], m[rep])
    for name in ours_bg.param_names:
        assert ours_bg.params_[name] == pytest.approx(lt_bg.params_[name], rel=1e-4), name
    for name, lt_name in zip(ours_gg.param_names, ("p", "q", "v"), strict=True):
        assert ours_gg.params_[name] == pytest.approx(lt_gg.params_[lt_name], rel=1e-4), name
