"""campaign_results against an independent pandas computation."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipelines.targeting.config import load_targeting_config
from pipelines.targeting.lists import build_target_lists
from pipelines.targeting.results import build_campaign_results
from pipelines.warehouse import work_db
from tests.targeting.conftest import AS_OF, make_settings
from tests.targeting.synth import build_world

N_DAYS = 14
LATER = AS_OF + dt.timedelta(days=20)


def _plant(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """Orders in and out of the attribution window, contacts with the list campaign ids."""
    rng = np.random.default_rng(seed)
    members = con.execute(
        "select m.customer_key, m.treatment_group, m.campaign_id, l.cost_per_contact "
        "from marts.target_list_members m join marts.target_lists l using (as_of, list_name) "
        "where m.as_of = ?",
        [AS_OF],
    ).fetchall()
    orders, contacts = [], []
    for i, (key, group, campaign_id, _cost) in enumerate(members):
        if group == "treated":
            cost = None if i % 7 == 0 else 11.0  # missing cost -> list cost_per_contact
            contacts.append((key, AS_OF + dt.timedelta(days=1), "email", "outbound", "campaign",
                             campaign_id, "delivered", cost, f"c{i}"))  # fmt: skip
        p = 0.35 if group == "treated" else 0.15
        if rng.random() < p:
            day = int(rng.integers(-3, N_DAYS + 6))  # some before/after the window
            amount = float(rng.integers(1, 9) * 10_000)
            margin = None if i % 5 == 0 else amount * 0.4
            orders.append((f"s{i}", key, AS_OF + dt.timedelta(days=day), amount, margin, True))
        if rng.random() < 0.05:  # a return-only order in the window: revenue, not a response
            orders.append((f"r{i}", key, AS_OF + dt.timedelta(days=3), -5_000.0, -2_000.0, False))
    # an external campaign: contacted 10 days before LATER, some buy within the window
    ext_keys = [m[0] for m in members[:40]]
    for j, key in enumerate(ext_keys):
        contacts.append((key, LATER - dt.timedelta(days=10), "sms", "outbound", "campaign",
                         "EXT-9", "delivered", 20.0, f"x{j}"))  # fmt: skip
        if j % 4 == 0:
            orders.append((f"x{j}", key, LATER - dt.timedelta(days=8), 30_000.0, 9_000.0, True))
    o = pd.DataFrame(orders, columns=["order_id", "customer_key", "business_date", "net_amount",
                                      "margin", "is_purchase"])  # fmt: skip
    o["ordered_at"] = pd.to_datetime(o["business_date"]) + pd.Timedelta(hours=14)
    c = pd.DataFrame(contacts, columns=["customer_key", "business_date", "channel", "direction",
                                        "contact_type", "campaign_id", "outcome", "cost",
                                        "contact_key"])  # fmt: skip
    c["occurred_at"] = pd.to_datetime(c["business_date"]) + pd.Timedelta(hours=9)
    con.register("o", o)
    con.register("c", c)
    con.execute("insert into marts.fct_orders by name select * from o")
    con.execute("insert into marts.fct_contacts by name select * from c")
    con.unregister("o")
    con.unregister("c")


def test_campaign_results_match_independent_computation(home):
    settings = make_settings(home)
    build_world(settings.work_db_path, AS_OF, customers=2000, seed=11)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        _plant(con, 11)
        rows = build_campaign_results(con, cfg, LATER)
        got = con.execute("select * from marts.campaign_results").df()
        members = con.execute("select * from marts.target_list_members").df()
        lists = con.execute("select * from marts.target_lists").df()
        orders = con.execute("select * from marts.fct_orders").df()
        contacts = con.execute("select * from marts.fct_contacts").df()
    assert rows == len(got) == 6 + 2  # six lists + EXT-1 (synth) + EXT-9
    orders["business_date"] = pd.to_datetime(orders["business_date"]).dt.date
    orders["margin_filled"] = orders["margin"].fillna(orders["net_amount"] * cfg.margin_rate)
    lo, hi = AS_OF + dt.timedelta(days=1), AS_OF + dt.timedelta(days=N_DAYS)
    window = orders[(orders["business_date"] >= lo) & (orders["business_date"] <= hi)]
    checked = 0
    for _, lst in lists.iterrows():
        r = got[got["campaign_id"] == lst["campaign_id"]].iloc[0]
        m = members[members["list_name"] == lst["list_name"]]
        out = {}
        for group in ("treated", "control"):
            keys = set(m[m["treatment_group"] == group]["customer_key"])
            w = window[window["customer_key"].isin(keys)]
            out[group] = (
                len(keys),
                w[w["is_purchase"]]["customer_key"].nunique(),
                w["net_amount"].sum(),
                w["margin_filled"].sum(),
            )
        (nt, xt, rt, mt), (nc, xc, rc, mc) = out["treated"], out["control"]
        assert (r["treated"], r["control"]) == (nt, nc)
        assert (r["treated_responders"], r["control_responders"]) == (xt, xc)
        assert r["uplift"] == pytest.approx(xt / nt - xc / nc)
        table = np.array([[xt, nt - xt], [xc, nc - xc]])
        if min(xt + xc, nt + nc - xt - xc) > 0:
            _, p_ref, _, _ = stats.chi2_contingency(table, correction=False)
            assert r["p_value"] == pytest.approx(p_ref, rel=1e-9)
        assert r["incremental_revenue"] == pytest.approx(nt * (rt / nt - rc / nc))
        assert r["incremental_margin"] == pytest.approx(nt * (mt / nt - mc / nc))
        c = contacts[contacts["campaign_id"] == lst["campaign_id"]]
        cost = c["cost"].fillna(lst["cost_per_contact"]).sum()
        assert r["contact_cost"] == pytest.approx(cost)
        assert r["contacted"] == c["customer_key"].nunique() == nt
        if cost > 0:
            assert r["roi"] == pytest.approx((r["incremental_margin"] - cost) / cost)
        assert bool(r["window_complete"]) and r["days_observed"] == N_DAYS
        checked += 1
    assert checked == 6
    ext = got[got["campaign_id"] == "EXT-9"].iloc[0]
    assert ext["source"] == "external"
    ext_contacts = contacts[contacts["campaign_id"] == "EXT-9"]
    first = ext_contacts.groupby("customer_key")["occurred_at"].min()
    o = orders[orders["is_purchase"] & orders["customer_key"].isin(first.index)].copy()
    o["contact_at"] = o["customer_key"].map(first)
    hit = o[(o["ordered_at"] > o["contact_at"])
            & (o["ordered_at"] <= o["contact_at"] + pd.Timedelta(days=N_DAYS))]  # fmt: skip
    responders = hit["customer_key"].nunique()
    assert responders >= 10  # the 10 planted responses at least
    assert ext["contacted"] == 40 and ext["treated_responders"] == responders
    assert ext["treated_response_rate"] == pytest.approx(responders / 40)
    assert ext["contact_cost"] == pytest.approx(40 * 20.0)
    assert pd.isna(ext["uplift"]) and pd.isna(ext["control"])


def test_results_before_window_has_no_rates(home):
    settings = make_settings(home)
    build_world(settings.work_db_path, AS_OF, customers=500, seed=12)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        build_campaign_results(con, cfg, AS_OF)
        same_night = con.execute(
            "select count(*), count(uplift), max(days_observed) from marts.campaign_results "
            "where source = 'target_list'"
        ).fetchone()
        build_campaign_results(con, cfg, AS_OF + dt.timedelta(days=5))
        partial = con.execute(
            "select count(uplift), bool_or(window_complete), max(days_observed) "
            "from marts.campaign_results where source = 'target_list'"
        ).fetchone()
    assert same_night == (6, 0, 0)
    assert partial[1] is False and partial[2] == 5
