"""Shared fixtures for the CLV model tests: the CDNOW sample and lifetimes reference fits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from models.clv import BetaGeoModel, GammaGammaModel

lifetimes = pytest.importorskip("lifetimes")


@pytest.fixture(scope="session")
def cdnow() -> dict[str, np.ndarray]:
    """CDNOW sample (FHL 2005a): 2,357 customers, time in weeks, with mean repeat spend."""
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    df = load_cdnow_summary_data_with_monetary_value()
    assert len(df) == 2357
    return {c: df[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value")}


@pytest.fixture(scope="session")
def bg(cdnow) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="session")
def gg(cdnow) -> GammaGammaModel:
    rep = cdnow["frequency"] > 0
    return GammaGammaModel().fit(cdnow["frequency"][rep], cdnow["monetary_value"][rep])


@pytest.fixture(scope="session")
def lt_bg(cdnow):
    """lifetimes' BetaGeoFitter fitted on the same data (numpy inputs: lifetimes 0.11.3's
    input checks misbehave on pandas>=3 Series)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


@pytest.fixture(scope="session")
def lt_gg(cdnow):
    rep = cdnow["frequency"] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.GammaGammaFitter().fit(
            cdnow["frequency"][rep], cdnow["monetary_value"][rep]
        )


def _lifetimes_with_params(fitter_cls, params: dict[str, float]):
    """A lifetimes fitter carrying given parameters (lifetimes names gamma 'v')."""
    fitter = fitter_cls()
    renamed = {("v" if k == "gamma" else k): v for k, v in params.items()}
    fitter.params_ = pd.Series(renamed)
    if hasattr(fitter, "conditional_expected_number_of_purchases_up_to_time"):
        fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


@pytest.fixture(scope="session")
def lifetimes_with_params():
    """Factory: ``lifetimes_with_params(FitterClass, params) -> fitter``."""
    return _lifetimes_with_params
