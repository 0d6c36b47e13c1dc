"""Scores against direct calls of models.clv, and the explicit handling of edge customers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import duckdb
import numpy as np
import pytest

from models.clv import (
    BetaGeoModel,
    GammaGammaModel,
    customer_lifetime_value,
    discounted_expected_purchases,
)
from pipelines.scoring.config import ScoringConfig
from pipelines.scoring.score import (
    NON_POSITIVE,
    ONE_TIME,
    REPEAT,
    InsufficientData,
    fit_models,
    model_run_id,
    model_run_rows,
    score_customers,
)
from pipelines.scoring.summary import CustomerSummary, load_summary
from pipelines.settings import Settings
from tests.scoring.fixtures import AS_OF, simulate_orders, write_marts


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ScoringConfig:
    return ScoringConfig.from_settings(Settings.load(tmp_path_factory.mktemp("cfg_home")))


@pytest.fixture(scope="module")
def summary(config: ScoringConfig, tmp_path_factory: pytest.TempPathFactory) -> CustomerSummary:
    home = tmp_path_factory.mktemp("scores_home")
    write_marts(home, simulate_orders(400, seed=3))
    with duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True) as con:
        return load_summary(
            con, AS_OF, unit_days=config.time_unit_days, margin_rate=config.margin_rate
        )


@pytest.fixture(scope="module")
def scored(summary, config):
    models = fit_models(summary, config)
    return models, score_customers(summary, models, config, "run-x").frame


def test_config_is_read_from_crm_yml(config: ScoringConfig) -> None:
    assert config.time_unit == "weeks"
    assert config.horizon_months == 12
    assert config.holdout_weeks == 26
    assert config.expected_purchases_column == "expected_purchases_next_12m"
    assert config.horizon_units == pytest.approx(365.25 / 7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time_unit": "fortnights"}, "time_unit"),
        ({"margin_rate": 1.5}, "margin_rate"),
        ({"churn_risk": {"p_alive_low_min": 0.2}}, "p_alive"),
        ({"clv_tiers": [{"tier": "a", "quantile": 0.5}, {"tier": "b", "quantile": 0.9}]}, "tiers"),
        ({"non_positive_spend_value": "drop"}, "non_positive_spend_value"),
    ],
)
def test_bad_config_is_rejected(config: ScoringConfig, change: dict, message: str) -> None:
    section = json.loads(json.dumps(Settings.load().section("scoring")))
    for key, value in change.items():
        if isinstance(value, dict):
            section[key].update(value)
        else:
            section[key] = value
    with pytest.raises(ValueError, match=message):
        ScoringConfig.from_dict(section)


def test_fits_equal_direct_model_calls(summary, scored) -> None:
    models, _ = scored
    x, m = summary.frequency, summary.monetary_value
    bg = BetaGeoModel().fit(x, summary.recency, summary.age)
    rep = (x > 0) & (m > 0)
    gg = GammaGammaModel().fit(x[rep], m[rep])
    for name, value in bg.params_.items():
        assert models.bg.params_[name] == pytest.approx(value, rel=1e-10)
    for name, value in gg.params_.items():
        assert models.gg.params_[name] == pytest.approx(value, rel=1e-10)
    assert models.bg.converged_ and models.gg.converged_


def test_every_customer_is_scored_once(summary, scored) -> None:
    _, frame = scored
    assert frame.height == summary.n
    assert frame["customer_key"].to_list() == summary.customer_key.tolist()
    numeric = ["p_alive", "expected_purchases_next_12m", "expected_average_order_value"]
    numeric += ["predicted_revenue", "predicted_clv", "historic_clv", "margin_rate"]
    for col in numeric:
        assert frame[col].null_count() == 0 and frame[col].is_finite().all(), col
    counts = dict(frame.group_by("score_basis").len().iter_rows())
    x, m = summary.frequency, summary.monetary_value
    assert counts == {
        REPEAT: int(((x > 0) & (m > 0)).sum()),
        ONE_TIME: int((x == 0).sum()),
        NON_POSITIVE: int(((x > 0) & (m <= 0)).sum()),
    }
    assert counts[NON_POSITIVE] >= 3 and counts[ONE_TIME] > 10


def test_scores_equal_direct_model_calls(summary, scored, config) -> None:
    models, frame = scored
    bg, gg = models.bg, models.gg
    x, tx, T, m = summary.frequency, summary.recency, summary.age, summary.monetary_value
    np.testing.assert_allclose(frame["p_alive"], bg.probability_alive(x, tx, T), rtol=1e-12)
    np.testing.assert_allclose(
        frame["expected_purchases_next_12m"], bg.expected_purchases(365.25 / 7, x, tx, T)
    )
    rep = (x > 0) & (m > 0)
    # Repeat buyers and one-time buyers: models.clv's own discounted CLV (revenue, margin 1).
    direct = customer_lifetime_value(
        bg,
        gg,
        x[~(x > 0) | rep],
        tx[~(x > 0) | rep],
        T[~(x > 0) | rep],
        m[~(x > 0) | rep],
        horizon_months=12,
        annual_discount_rate=0.10,
        margin_rate=1.0,
        time_unit_days=7,
    )
    np.testing.assert_allclose(frame["predicted_revenue"].to_numpy()[~(x > 0) | rep], direct)
    # predicted_clv = predicted revenue x the customer's historic margin ratio.
    ratio = np.where(
        summary.historic_revenue > 0,
        np.clip(
            summary.historic_margin
            / np.where(summary.historic_revenue > 0, summary.historic_revenue, 1),
            0,
            1,
        ),
        config.margin_rate,
    )
    np.testing.assert_allclose(frame["margin_rate"], ratio)
    np.testing.assert_allclose(
        frame["predicted_clv"], frame["predicted_revenue"].to_numpy() * ratio
    )
    np.testing.assert_allclose(frame["historic_clv"], summary.historic_margin)


def test_one_time_buyers(summary, scored, config) -> None:
    models, frame = scored
    p, q, g = (models.gg.params_[k] for k in ("p", "q", "gamma"))
    one = frame.filter(frame["score_basis"] == ONE_TIME)
    assert (one["frequency"] == 0).all()
    # BG/NBD: no drop-out before the first repeat purchase.
    assert (one["p_alive"] == 1.0).all()
    # Gamma-Gamma: the population mean, whatever the first purchase was worth.
    np.testing.assert_allclose(one["expected_average_order_value"], p * g / (q - 1))
    # Churn risk by weeks since the only purchase day (13 / 26 weeks).
    for age, risk in one.select("age", "churn_risk").iter_rows():
        assert risk == ("high" if age >= 26 else "medium" if age >= 13 else "low")
    assert set(one["churn_risk"]) == {"low", "medium", "high"}


def test_repeat_buyers_churn_risk_follows_p_alive(scored) -> None:
    _, frame = scored
    rep = frame.filter(frame["score_basis"] != ONE_TIME)
    for p_alive, risk in rep.select("p_alive", "churn_risk").iter_rows():
        assert risk == ("low" if p_alive >= 0.7 else "medium" if p_alive >= 0.3 else "high")


@pytest.mark.parametrize("choice", ["zero", "population_mean"])
def test_non_positive_spend(summary, scored, config, choice: str) -> None:
    models, _ = scored
    cfg = dataclasses.replace(config, non_positive_spend_value=choice)
    frame = score_customers(summary, models, cfg, "run-x").frame
    bad = frame.filter(frame["score_basis"] == NON_POSITIVE)
    assert bad.height >= 3 and (bad["monetary_value"] <= 0).all() and (bad["frequency"] > 0).all()
    idx = np.flatnonzero((summary.frequency > 0) & (summary.monetary_value <= 0))
    if choice == "zero":
        assert (bad["expected_average_order_value"] == 0).all()
        assert (bad["predicted_clv"] == 0).all()
        assert (bad["clv_tier"] == "low").all()
    else:
        pop = models.gg.expected_population_average_value()
        np.testing.assert_allclose(bad["expected_average_order_value"], pop)
        disc = discounted_expected_purchases(
            models.bg,
            summary.frequency[idx],
            summary.recency[idx],
            summary.age[idx],
            horizon_months=12,
            annual_discount_rate=0.10,
            time_unit_days=7,
        )
        np.testing.assert_allclose(bad["predicted_revenue"], pop * disc)
    # P(alive) and expected purchases still come from BG/NBD.
    np.testing.assert_allclose(
        bad["p_alive"],
        models.bg.probability_alive(summary.frequency[idx], summary.recency[idx], summary.age[idx]),
    )


def test_clv_tiers_follow_quantiles(scored) -> None:
    _, frame = scored
    clv = frame["predicted_clv"].to_numpy()
    cut_top, cut_high, cut_med = np.quantile(clv, [0.95, 0.80, 0.50])
    for value, tier in frame.select("predicted_clv", "clv_tier").iter_rows():
        want = (
            "top"
            if value >= cut_top
            else "high"
            if value >= cut_high
            else "medium"
            if value >= cut_med and value > 0
            else "low"
        )
        assert tier == want
    shares = dict(frame.group_by("clv_tier").len().iter_rows())
    assert shares["top"] == pytest.approx(0.05 * frame.height, abs=2)


def test_model_runs_record_exclusions(summary, scored, config) -> None:
    models, _ = scored
    rows = model_run_rows("run-x", AS_OF, "scoring", AS_OF, models, config, summary.n)
    by_model = {r["model"]: r for r in rows}
    x, m = summary.frequency, summary.monetary_value
    gg = by_model["gamma_gamma"]
    assert json.loads(gg["exclusions"]) == {
        "one_time_buyers": int((x == 0).sum()),
        "non_positive_spend": int(((x > 0) & (m <= 0)).sum()),
    }
    assert gg["customers"] + gg["excluded_customers"] == summary.n
    assert by_model["bg_nbd"]["customers"] == summary.n
    assert by_model["bg_nbd"]["excluded_customers"] == 0
    assert set(json.loads(by_model["bg_nbd"]["params"])) == {"r", "alpha", "a", "b"}


def test_model_run_id_is_deterministic(config) -> None:
    a = model_run_id(AS_OF, config, "d1")
    assert a == model_run_id(AS_OF, config, "d1")
    assert a != model_run_id(AS_OF, config, "d2")
    assert a != model_run_id(AS_OF + dt.timedelta(days=1), config, "d1")
    assert a != model_run_id(AS_OF, dataclasses.replace(config, margin_rate=0.2), "d1")


def test_too_few_customers_is_insufficient_data(summary, config) -> None:
    small = CustomerSummary(
        as_of=summary.as_of,
        **{
            f.name: getattr(summary, f.name)[:30]
            for f in dataclasses.fields(summary)
            if f.name != "as_of"
        },
    )
    with pytest.raises(InsufficientData, match="min_customers"):
        fit_models(small, config)
