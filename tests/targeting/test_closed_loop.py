"""End to end over two simulated nights: lists go out, contacts and orders come back,
campaign_results shows the planted uplift."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.settings import Settings
from pipelines.targeting.simulate import simulate_campaign_responses
from tests.conftest import crm
from tests.targeting.fixtures import write_home_config, write_landing

NIGHT_1 = dt.date(2026, 3, 31)
NIGHT_2 = NIGHT_1 + dt.timedelta(days=14)
BASE, UPLIFT = 0.10, 0.20
ENV = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _published(home: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def _affinity_reference(lines: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    lines = lines[(~lines["is_return"]) & (lines["category"] != "unknown")]
    lines = lines[pd.to_datetime(lines["business_date"]).dt.date > as_of - dt.timedelta(days=365)]
    baskets = lines[["order_id", "category"]].drop_duplicates()
    total = baskets["order_id"].nunique()
    per_cat = baskets.groupby("category")["order_id"].nunique()
    pairs = baskets.merge(baskets, on="order_id")
    pairs = pairs[pairs["category_x"] != pairs["category_y"]]
    counts = pairs.groupby(["category_x", "category_y"]).size().reset_index(name="both")
    counts["support"] = counts["both"] / total
    counts["confidence"] = counts["both"] / counts["category_x"].map(per_cat)
    counts["lift"] = counts["confidence"] / (counts["category_y"].map(per_cat) / total)
    return counts[(counts["support"] >= 0.001) & (counts["both"] >= 5)]


@pytest.mark.slow
def test_two_nights_closed_loop(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    write_home_config(home)
    facts = write_landing(home, NIGHT_1, customers=900, seed=11)

    # ---- night 1: lists go out ------------------------------------------------------
    crm("run", "--as-of", NIGHT_1.isoformat(), home=home, env=ENV)
    folder = home / "outbox" / NIGHT_1.isoformat()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [f["list"] for f in manifest["files"]] == ["loyal_email", "all_sms", "cross_sell_mail"]
    lists = _published(home, "select * from marts.target_lists").set_index("list_name")
    members = _published(home, "select * from marts.target_list_members")
    dim = _published(home, "select * from marts.dim_customers").set_index("customer_key")
    for entry in manifest["files"]:
        rows = pd.read_csv(folder / entry["file"], dtype=str, keep_default_na=False)
        assert len(rows) == entry["rows"] == lists.loc[entry["list"], "treated"] > 0
        keys = rows["customer_key"].astype(int)
        consent = {"email": "consent_email", "sms": "consent_sms", "direct_mail": "consent_mail"}
        assert dim.loc[keys, consent[entry["channel"]]].all()
        control = set(members[members["treatment_group"] == "control"]["customer_key"])
        assert not set(keys) & control
    assert members["customer_key"].is_unique
    # suppression stages all fire on the fixture (planted unsubscribes, complaints, ...)
    for stage in ("no_consent", "unreachable", "complaint", "frequency_cap", "other_list"):
        assert lists[f"suppressed_{stage}"].sum() > 0, stage
    assert lists.loc["loyal_email", "suppressed_unsubscribed_bounced"] > 0
    assert facts["unsubscribed"]

    # cross-sell engine: rules equal an independent pandas computation
    lines = _published(home, "select * from marts.fct_transactions")
    ref = _affinity_reference(lines, NIGHT_1)
    rules = _published(home, "select * from marts.product_affinity")
    merged = ref.merge(
        rules,
        left_on=["category_x", "category_y"],
        right_on=["antecedent_category", "consequent_category"],
        how="outer",
        indicator=True,
    )
    assert (merged["_merge"] == "both").all() and len(merged) > 0
    assert merged["lift_x"].to_numpy() == pytest.approx(merged["lift_y"].to_numpy())
    assert merged["confidence_x"].to_numpy() == pytest.approx(merged["confidence_y"].to_numpy())

    # ---- between the nights: the campaign tool and the customers answer --------------
    planted = simulate_campaign_responses(
        Settings.load(home), NIGHT_1, base_rate=BASE, uplift=UPLIFT, seed=5
    )
    truth = json.loads((home / "truth" / "targeting" / f"{NIGHT_1}.json").read_text())
    assert {p["list_name"] for p in truth["lists"]} == {p.list_name for p in planted}

    # ---- night 2: the results come back ----------------------------------------------
    crm("run", "--as-of", NIGHT_2.isoformat(), home=home, env=ENV)
    results = _published(
        home, f"select * from marts.campaign_results where list_as_of = '{NIGHT_1}'"
    ).set_index("list_name")
    assert len(results) == 3
    for p in planted:
        r = results.loc[p.list_name]
        assert r["campaign_id"] == p.campaign_id
        assert (r["treated"], r["control"]) == (p.treated, p.control)
        assert r["contacted"] == p.treated and r["control_contacted"] == 0
        # the fixture has no other orders in the window: every responder is planted
        assert (r["treated_responders"], r["control_responders"]) == (
            p.treated_responders,
            p.control_responders,
        )
        assert r["incremental_revenue"] == pytest.approx(
            p.treated * (p.treated_revenue / p.treated - p.control_revenue / p.control)
        )
        # the planted uplift is recovered within statistical tolerance (3 standard errors)
        se = math.sqrt(
            (BASE + UPLIFT) * (1 - BASE - UPLIFT) / p.treated + BASE * (1 - BASE) / p.control
        )
        assert abs(r["uplift"] - UPLIFT) < 3 * se, (p.list_name, r["uplift"], se)
        assert bool(r["window_complete"])
        assert r["contact_cost"] == pytest.approx(
            p.treated * lists.loc[p.list_name, "cost_per_contact"]
        )
    biggest = results.sort_values("treated").iloc[-1]
    assert biggest["p_value"] < 0.01
    assert biggest["roi"] > 0
    # the external campaign of the fixture is reported with its response rate
    ext = _published(home, "select * from marts.campaign_results where source = 'external'")
    assert list(ext["campaign_id"]) == ["EXT-SPRING"]
    assert 0.15 < ext["treated_response_rate"].iloc[0] < 0.55
    # night 2 made new lists and the night-1 members were eligible again after the window
    night2 = _published(home, f"select * from marts.target_lists where as_of = '{NIGHT_2}'")
    assert night2["treated"].sum() > 0
