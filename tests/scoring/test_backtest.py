"""Holdout backtest figures against an independent recomputation."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.clv import BetaGeoModel
from pipelines.scoring.backtest import OK, SKIPPED, calibration_end, evaluate
from pipelines.scoring.config import ScoringConfig
from pipelines.scoring.summary import load_holdout, load_summary
from pipelines.settings import Settings
from tests.scoring.fixtures import AS_OF, simulate_orders, write_marts


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ScoringConfig:
    return ScoringConfig.from_settings(Settings.load(tmp_path_factory.mktemp("cfg_home")))


@pytest.fixture(scope="module")
def data(config, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("backtest_home")
    orders = simulate_orders(500, seed=11)
    write_marts(home, orders)
    cal_end = calibration_end(AS_OF, config)
    with duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True) as con:
        cal = load_summary(con, cal_end, unit_days=7.0, margin_rate=0.3)
        days, revenue = load_holdout(con, cal.customer_key, cal_end, AS_OF)
    return orders, cal, days, revenue


def test_calibration_end_is_26_weeks_before_as_of(config) -> None:
    assert calibration_end(AS_OF, config) == AS_OF - dt.timedelta(weeks=26)


def test_backtest_matches_independent_computation(config, data) -> None:
    orders, cal, days, revenue = data
    result = evaluate("r1", AS_OF, cal, days, revenue, config)
    assert result.status == OK and result.converged
    # Independent: fit directly, predict 26 weeks, count actual purchase days from orders.
    bg = BetaGeoModel().fit(cal.frequency, cal.recency, cal.age)
    predicted = bg.expected_purchases(26.0, cal.frequency, cal.recency, cal.age)
    cal_end = AS_OF - dt.timedelta(weeks=26)
    holdout = orders.filter(
        orders["is_purchase"]
        & orders["customer_key"].is_in(cal.customer_key.tolist())
        & (orders["business_date"] > cal_end)
        & (orders["business_date"] <= AS_OF)
    )
    per_customer = (
        holdout.group_by("customer_key")
        .agg(n=pl.col("business_date").n_unique())
        .to_pandas()
        .set_index("customer_key")["n"]
        .reindex(cal.customer_key, fill_value=0)
        .to_numpy(dtype=float)
    )
    actual_total = per_customer.sum()
    assert result.customers == cal.n
    assert result.actual_repeat_purchases == actual_total
    assert result.predicted_repeat_purchases == pytest.approx(predicted.sum(), rel=1e-9)
    assert result.error_pct == pytest.approx(
        100 * (predicted.sum() - actual_total) / actual_total, rel=1e-9
    )
    assert result.mae == pytest.approx(np.mean(np.abs(predicted - per_customer)), rel=1e-9)
    rho = pd.Series(predicted).corr(pd.Series(per_customer), method="spearman")
    assert result.spearman_rho == pytest.approx(rho, rel=1e-9)
    assert result.spearman_rho > 0.3  # the model ranks customers sensibly
    assert result.actual_revenue == pytest.approx(
        holdout["net_amount"].sum(), rel=1e-9
    )  # purchase orders of calibration customers
    assert result.holdout_weeks == 26 and result.calibration_end == cal_end


def test_bound_decides_pass_when_enough_customers(config, data) -> None:
    _, cal, days, revenue = data
    loose = evaluate("r1", AS_OF, cal, days, revenue, config)
    assert loose.bound_enforced is False  # 500-customer fixture < min_customers_for_bound
    tight = dataclasses.replace(config, max_abs_error_pct=0.001, min_customers_for_bound=0)
    result = evaluate("r1", AS_OF, cal, days, revenue, tight)
    assert result.bound_enforced and result.passed is False
    assert "beyond" in result.message
    advisory = dataclasses.replace(config, max_abs_error_pct=0.001)
    result = evaluate("r1", AS_OF, cal, days, revenue, advisory)
    assert result.bound_enforced is False and result.passed is True
    assert "advisory" in result.message
    wide = dataclasses.replace(config, max_abs_error_pct=1e6, min_customers_for_bound=0)
    assert evaluate("r1", AS_OF, cal, days, revenue, wide).passed is True


def test_too_little_history_skips_the_backtest(config, data) -> None:
    _, cal, days, revenue = data
    strict = dataclasses.replace(config, min_customers=10_000)
    result = evaluate("r1", AS_OF, cal, days, revenue, strict)
    assert result.status == SKIPPED and result.passed is None
    assert "min_customers" in result.message
    assert result.row()["error_pct"] is None
