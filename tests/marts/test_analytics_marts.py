"""End-to-end checks of the analytics marts against an independent computation.

A small deterministic landing fixture (marts_fixture) goes through the real
`crm run` (subprocess). The published marts are compared with pandas/numpy
recomputations from the landing rows (marts_reference). The incremental RFM
history is checked against a from-scratch rebuild and against a rerun with an
older as_of.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.settings import DBT_PROJECT_DIR, REPO_ROOT, Settings

sys.path.insert(0, str(Path(__file__).parent))
import marts_fixture  # noqa: E402
import marts_reference as ref  # noqa: E402

pytestmark = pytest.mark.slow

EARLY = dt.date(2025, 4, 30)
AS_OF = dt.date(2025, 6, 30)
MARTS = (
    "customer_value",
    "pareto_summary",
    "pareto_curve",
    "customer_rfm",
    "rfm_segment_history",
    "rfm_segment_migration",
    "cohort_retention",
    "channel_summary",
    "region_summary",
    "customer_contact_summary",
    "dim_customers",
    "customer_identities",
)


def _crm_run(home: Path, as_of: dt.date, *extra: str) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--home",
            str(home),
            "--as-of",
            str(as_of),
            *extra,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def _read_published(home: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"select * from marts.{t}").df() for t in MARTS}
    finally:
        con.close()


def _dbt_on_copy(home: Path, copy: Path, as_of: dt.date, select: str, vars_extra: dict) -> None:
    """dbt against a copy of the build database (the job's own dbt env otherwise)."""
    settings = Settings.load(home)
    shutil.copyfile(settings.work_db_path, copy)
    env = settings.dbt_env()
    env["CRM_WORK_DB"] = str(copy)
    env["DBT_TARGET_PATH"] = str(copy.parent / "dbt_target")
    env["DBT_LOG_PATH"] = str(copy.parent / "dbt_logs")
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run(
        [
            dbt,
            "run",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--select",
            select,
            "--full-refresh",
            "--vars",
            json.dumps({**settings.dbt_vars(as_of), **vars_extra}),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("marts_home")
    # 75 customers are too few for stable BG/NBD fits: scoring skips them (a warning) so the
    # marts, not the models, are what this module tests.
    (home / "crm.yml").write_text("scoring:\n  min_customers: 1000\n")
    fixture = marts_fixture.build()
    fixture.write(home, until=EARLY, tag="001")

    _crm_run(home, EARLY)  # first run: backfills the RFM history
    early = _read_published(home)
    fixture.write(home, after=EARLY, until=AS_OF, tag="002")
    _crm_run(home, AS_OF)  # a later run: adds May and June incrementally
    late = _read_published(home)

    # from-scratch rebuild of the incremental models (and the weekly cohorts) on a copy
    copy = tmp_path_factory.mktemp("rebuild") / "work.duckdb"
    _dbt_on_copy(
        home,
        copy,
        AS_OF,
        "rfm_segment_history rfm_segment_migration cohort_retention_weekly",
        {"cohort_retention_weekly_enabled": True},
    )
    con = duckdb.connect(str(copy), read_only=True)
    rebuilt = {
        t: con.execute(f"select * from marts.{t}").df()
        for t in ("rfm_segment_history", "rfm_segment_migration", "cohort_retention_weekly")
    }
    con.close()

    _crm_run(home, EARLY)  # rerun in the past on the same home
    rerun = _read_published(home)

    # one source system, one record per customer: source_customer_id -> customer_key
    ids = late["customer_identities"]
    keys = dict(zip(ids["source_customer_id"], ids["customer_key"].astype(int), strict=True))
    assert len(set(keys.values())) == len(keys)
    return {
        "fixture": fixture,
        "early": early,
        "late": late,
        "rebuilt": rebuilt,
        "rerun": rerun,
        "keys": keys,
        "names": {v: k for k, v in keys.items()},
    }


def _by_customer(df: pd.DataFrame, names: dict[int, str]) -> pd.DataFrame:
    out = df.copy()
    out["customer"] = out["customer_key"].astype(int).map(names)
    return out.set_index("customer").sort_index()


@pytest.mark.parametrize("when", ["early", "late"])
def test_customer_value_matches_recomputation(world: dict, when: str) -> None:
    as_of = EARLY if when == "early" else AS_OF
    orders = ref.orders_from_landing(world["fixture"].transactions, as_of)
    expected = ref.rank_value(ref.customer_value(orders, as_of), world["keys"]).set_index(
        "customer"
    )
    actual = _by_customer(world[when]["customer_value"], world["names"])
    assert sorted(actual.index) == sorted(expected.index)
    expected = expected.loc[actual.index]
    for col in ("window_orders", "lifetime_orders"):
        assert (actual[col].astype(int) == expected[col]).all(), col
    for col in ("window_net_revenue", "lifetime_net_revenue"):
        np.testing.assert_allclose(actual[col].astype(float), expected[col], rtol=0, atol=1e-6)
    assert actual["value_rank"].isna().tolist() == expected["value_rank"].isna().tolist()
    ranked = actual["value_rank"].notna()
    assert (
        actual.loc[ranked, "value_rank"].astype(int) == expected.loc[ranked, "value_rank"]
    ).all()
    np.testing.assert_allclose(
        actual.loc[ranked, "cumulative_revenue_share"].astype(float),
        expected.loc[ranked, "cumulative_revenue_share"],
        atol=1e-12,
    )
    assert actual["value_tier"].tolist() == expected["value_tier"].tolist()
    # the planted customer with only returns is kept, unranked
    assert actual.loc["C0010", "value_tier"] == "no_window_purchase"
    assert actual.loc["C0010", "lifetime_net_revenue"] < 0


def test_pareto_summary_and_curve_match_numpy(world: dict) -> None:
    cv = world["late"]["customer_value"]
    ranked = cv[cv["value_rank"].notna()].sort_values("value_rank")
    x = ranked["window_net_revenue"].astype(float).to_numpy()
    # the revenue vector itself was checked above; recompute everything from it
    expected = ref.pareto(x)
    summary = world["late"]["pareto_summary"].iloc[0]
    assert int(summary["customers"]) == expected["customers"]
    assert float(summary["revenue"]) == pytest.approx(expected["revenue"])
    for pct in (1, 5, 10, 20):
        key = f"top_{pct}pct_revenue_share"
        assert float(summary[key]) == pytest.approx(expected[key], abs=1e-12)
    assert int(summary["customers_for_target"]) == expected["customers_for_target"]
    assert float(summary["gini"]) == pytest.approx(expected["gini"], abs=1e-12)
    assert 0.2 < float(summary["gini"]) < 0.9

    curve = world["late"]["pareto_curve"].sort_values("point")
    p, low, top = ref.lorenz(x)
    assert len(curve) == 100
    np.testing.assert_allclose(curve["customer_share"], p, atol=1e-12)
    np.testing.assert_allclose(curve["lorenz_revenue_share"].astype(float), low, atol=1e-9)
    np.testing.assert_allclose(curve["top_revenue_share"].astype(float), top, atol=1e-9)
    # known-customer revenue reconciles with the landing rows directly
    orders = ref.orders_from_landing(world["fixture"].transactions, AS_OF)
    in_window = orders[
        orders["customer"].notna() & (orders["business_date"] >= AS_OF - dt.timedelta(days=364))
    ]
    assert float(summary["known_customer_revenue"]) == pytest.approx(in_window["net_amount"].sum())


@pytest.mark.parametrize("when", ["early", "late"])
def test_customer_rfm_matches_recomputation(world: dict, when: str) -> None:
    as_of = EARLY if when == "early" else AS_OF
    orders = ref.orders_from_landing(world["fixture"].transactions, as_of)
    expected = ref.rfm(orders, as_of).set_index("customer").sort_index()
    actual = _by_customer(world[when]["customer_rfm"], world["names"])
    assert list(actual.index) == list(expected.index)
    for col in ("recency_days", "frequency", "r_score", "f_score", "m_score"):
        assert (actual[col].astype(int) == expected[col]).all(), col
    np.testing.assert_allclose(actual["monetary"].astype(float), expected["monetary"], atol=1e-6)
    assert actual["segment"].tolist() == expected["segment"].tolist()
    assert actual["segment"].notna().all()
    # C0011 and C0012 behave identically: identical scores
    assert actual.loc["C0011", "rfm_cell"] == actual.loc["C0012", "rfm_cell"]
    # only-returns customer has no RFM row
    assert "C0010" not in actual.index


def test_rfm_history_matches_month_end_recomputation(world: dict) -> None:
    orders = ref.orders_from_landing(world["fixture"].transactions, AS_OF)
    expected = ref.rfm_history(orders, AS_OF)
    actual = world["late"]["rfm_segment_history"].copy()
    actual["customer"] = actual["customer_key"].astype(int).map(world["names"])
    actual["snapshot_date"] = pd.to_datetime(actual["snapshot_date"]).dt.date
    cols = [
        "snapshot_date",
        "customer",
        "recency_days",
        "frequency",
        "r_score",
        "f_score",
        "m_score",
        "segment",
    ]
    a = actual[cols].sort_values(["snapshot_date", "customer"]).reset_index(drop=True)
    e = expected[cols].sort_values(["snapshot_date", "customer"]).reset_index(drop=True)
    a[["recency_days", "frequency", "r_score", "f_score", "m_score"]] = a[
        ["recency_days", "frequency", "r_score", "f_score", "m_score"]
    ].astype(int)
    pd.testing.assert_frame_equal(a, e, check_dtype=False)
    assert a["snapshot_date"].max() == AS_OF


def test_incremental_history_equals_full_rebuild(world: dict) -> None:
    for table, keys in (
        ("rfm_segment_history", ["snapshot_date", "customer_key"]),
        ("rfm_segment_migration", ["to_snapshot_date", "from_segment", "to_segment"]),
    ):
        inc = world["late"][table].sort_values(keys).reset_index(drop=True)
        full = world["rebuilt"][table].sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(inc, full[inc.columns], check_dtype=False)


def test_migration_matches_recomputation(world: dict) -> None:
    orders = ref.orders_from_landing(world["fixture"].transactions, AS_OF)
    expected = ref.migration(ref.rfm_history(orders, AS_OF))
    actual = world["late"]["rfm_segment_migration"].copy()
    actual["to_snapshot_date"] = pd.to_datetime(actual["to_snapshot_date"]).dt.date
    keys = ["to_snapshot_date", "from_segment", "to_segment"]
    a = actual[[*keys, "customers"]].sort_values(keys).reset_index(drop=True)
    e = expected.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, e, check_dtype=False)


def test_rerun_with_older_as_of_reproduces_the_past(world: dict) -> None:
    for table, keys in (
        ("customer_value", ["customer_key"]),
        ("customer_rfm", ["customer_key"]),
        ("pareto_summary", ["as_of"]),
        ("pareto_curve", ["point"]),
        ("cohort_retention", ["cohort_month", "period_number"]),
        ("channel_summary", ["month_start", "channel"]),
        ("region_summary", ["geo_level", "region", "city", "district"]),
        ("customer_contact_summary", ["customer_key"]),
        ("rfm_segment_history", ["snapshot_date", "customer_key"]),
        ("rfm_segment_migration", ["to_snapshot_date", "from_segment", "to_segment"]),
    ):
        first = world["early"][table].sort_values(keys).reset_index(drop=True)
        again = world["rerun"][table].sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(first, again, check_dtype=False, obj=table)
    assert (
        pd.to_datetime(world["rerun"]["rfm_segment_history"]["snapshot_date"]).max().date() == EARLY
    )


@pytest.mark.parametrize("grain", ["month", "week"])
def test_cohort_retention_matches_recomputation(world: dict, grain: str) -> None:
    orders = ref.orders_from_landing(world["fixture"].transactions, AS_OF)
    expected = ref.cohort_retention(orders, AS_OF, grain)
    if grain == "month":
        actual = world["late"]["cohort_retention"].rename(columns={"cohort_month": "cohort"})
    else:
        actual = world["rebuilt"]["cohort_retention_weekly"].rename(
            columns={"cohort_week": "cohort"}
        )
    actual["cohort"] = pd.to_datetime(actual["cohort"]).dt.date
    keys = ["cohort", "period_number"]
    cols = [
        *keys,
        "cohort_size",
        "active_customers",
        "retention_rate",
        "revenue",
        "cumulative_revenue_per_cohort_customer",
    ]
    a = actual[cols].sort_values(keys).reset_index(drop=True)
    e = expected[cols].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, e, check_dtype=False, atol=1e-9)
    # cohort sizes add up to the customers with a purchase
    buyers = orders[orders["customer"].notna() & orders["is_purchase"]]["customer"].nunique()
    assert a[a["period_number"] == 0]["cohort_size"].sum() == buyers
    # the planted return-only month (C0013, January 2025) is not activity
    if grain == "month":
        assert (a["active_customers"] <= a["cohort_size"]).all()


def test_channel_summary_matches_recomputation(world: dict) -> None:
    orders = ref.orders_from_landing(world["fixture"].transactions, AS_OF)
    expected = ref.channel_summary(orders)
    actual = world["late"]["channel_summary"].copy()
    actual["month_start"] = pd.to_datetime(actual["month_start"]).dt.date
    keys = ["month_start", "channel"]
    cols = [*keys, "customers", "orders", "revenue", "multichannel_customers"]
    a = actual[cols].sort_values(keys).reset_index(drop=True)
    e = expected[cols].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, e, check_dtype=False)


def test_region_summary_matches_recomputation(world: dict) -> None:
    fx = world["fixture"]
    orders = ref.orders_from_landing(fx.transactions, AS_OF)
    rfm = ref.rfm(orders, AS_OF)
    value = ref.rank_value(ref.customer_value(orders, AS_OF), world["keys"])
    df = rfm.merge(value, on="customer", how="left").merge(
        fx.customers.rename(columns={"source_customer_id": "customer"}), on="customer", how="left"
    )
    for col in ("region", "city", "district"):
        df[col] = df[col].fillna("unknown")
    df["top"] = df["value_tier"].isin(ref.TOP_TIERS)
    expected = df.groupby(["region", "city", "district"]).agg(
        customers=("customer", "size"),
        window_net_revenue=("window_net_revenue", "sum"),
        top_tier_customers=("top", "sum"),
        avg_rfm_score=("rfm_score", "mean"),
    )
    actual = world["late"]["region_summary"]
    districts = actual[actual["geo_level"] == "district"].set_index(["region", "city", "district"])
    districts = districts.loc[expected.index]
    assert len(districts) == len(expected)
    assert (districts["customers"].astype(int) == expected["customers"]).all()
    assert (districts["top_tier_customers"].astype(int) == expected["top_tier_customers"]).all()
    np.testing.assert_allclose(
        districts["window_net_revenue"].astype(float), expected["window_net_revenue"]
    )
    np.testing.assert_allclose(districts["avg_rfm_score"], expected["avg_rfm_score"], atol=1e-12)
    total = actual[actual["geo_level"] == "total"].iloc[0]
    assert int(total["customers"]) == len(rfm)


def test_contact_summary_matches_recomputation(world: dict) -> None:
    fx = world["fixture"]
    orders = ref.orders_from_landing(fx.transactions, AS_OF)
    expected = ref.contact_summary(fx.contacts, orders, AS_OF).set_index("customer").sort_index()
    actual = _by_customer(world["late"]["customer_contact_summary"], world["names"])
    # every customer has a row; never-contacted customers have zeros
    assert len(actual) == len(fx.customers)
    never = actual.index.difference(expected.index)
    assert (actual.loc[never, "outbound_contacts_90d"] == 0).all()
    assert actual.loc[never, "campaign_response_rate"].isna().all()
    actual = actual.loc[expected.index]
    for col in (
        "outbound_contacts_30d",
        "outbound_contacts_90d",
        "outbound_email_30d",
        "outbound_email_90d",
        "inbound_service_90d",
        "inbound_complaints_90d",
        "past_campaigns",
        "past_campaigns_responded",
    ):
        assert (actual[col].astype(int) == expected[col]).all(), col
    assert (
        pd.to_datetime(actual["last_contact_date"]).dt.date == expected["last_contact_date"]
    ).all()
    rate_a = actual["campaign_response_rate"].astype(float)
    rate_e = expected["campaign_response_rate"].astype(float)
    np.testing.assert_allclose(rate_a, rate_e, equal_nan=True)
    assert expected["past_campaigns"].sum() > 0 and expected["past_campaigns_responded"].sum() > 0
