"""The list engine against an independent pandas re-implementation, plus its properties."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import duckdb
import pandas as pd
import pytest

from pipelines.targeting.config import load_targeting_config
from pipelines.targeting.lists import build_target_lists
from pipelines.targeting.sources import MissingSourceError
from pipelines.warehouse import work_db
from tests.targeting.conftest import AS_OF, make_settings
from tests.targeting.synth import build_world

SEED = "test-seed"
LISTS = {
    "lists": [
        {
            "name": "a_email",
            "priority": 1,
            "channel": "email",
            "audience": "dim_customers.orders >= 2",
            "ranking": "dim_customers.net_revenue",
            "max_size": 60,
            "cost_per_contact": 10,
            "expected_response_rate": 0.2,
            "control_share": 0.25,
            "discount_rate": 0.1,
            "response_score": "customer_scores.p_alive",
            "offer": "5% off",
        },
        {
            "name": "b_sms",
            "priority": 2,
            "channel": "sms",
            "audience": "dim_customers.orders >= 1",
            "budget": 1000,
            "cost_per_contact": 25,
            "expected_response_rate": 0.05,
            "control_share": 0.2,
            "response_score": "1",
        },
        {
            "name": "c_mail",
            "priority": 3,
            "channel": "direct_mail",
            "audience": "customer_next_best_category.next_best_category is not null",
            "max_size": 1000,
            "cost_per_contact": 900,
            "expected_response_rate": 0.05,
            "control_share": 0.3,
            "response_score": "customer_scores.p_alive",
            "expected_margin": "20000",
            "category": "customer_next_best_category.next_best_category",
        },
    ]
}
CONSENT = {"email": "consent_email", "sms": "consent_sms", "direct_mail": "consent_mail"}
FIELDS = {
    "email": ["email"],
    "sms": ["phone_e164"],
    "direct_mail": ["full_name", "postal_code", "region", "city", "district", "country"],
}
STOP = {"unsubscribed", "bounced", "hard_bounced", "hard_bounce"}


def _settings(home, lists=LISTS, **extra):
    lists_path = home / "lists.yml"
    home.mkdir(parents=True, exist_ok=True)
    import yaml

    lists_path.write_text(yaml.safe_dump(lists), encoding="utf-8")
    return make_settings(
        home,
        {
            "lists_file": str(lists_path),
            "control_seed": SEED,
            "economics": {
                "margin_rate": 0.3,
                "max_response_probability": 0.95,
                "expected_order_value": "dim_customers.net_revenue / nullif(dim_customers.orders, 0)",
            },
            **extra,
        },
    )


def _hash(name: str, key: int) -> float:
    h = hashlib.sha256(f"{SEED}:{name}:{key}".encode()).hexdigest()
    return int(h[:13], 16) / 16**13


def reference_members(db_path, as_of: dt.date) -> tuple[pd.DataFrame, dict]:
    """Independent re-implementation of suppression + economics + cut in pandas."""
    con = duckdb.connect(str(db_path), read_only=True)
    dim = con.execute("select * from marts.dim_customers").df().set_index("customer_key")
    contacts = con.execute("select * from marts.fct_contacts").df()
    cps = (
        con.execute("select * from intermediate.int_customer_contact_points")
        .df()
        .set_index("customer_key")
    )
    scores = con.execute("select * from marts.customer_scores").df().set_index("customer_key")
    nbc = (
        con.execute("select * from marts.customer_next_best_category")
        .df()
        .set_index("customer_key")
    )
    con.close()
    contacts["business_date"] = pd.to_datetime(contacts["business_date"]).dt.date
    stopped = contacts[contacts["outcome"].isin(STOP)].groupby("customer_key")["channel"].agg(set)
    complaint = set(
        contacts[(contacts["contact_type"] == "complaint")
                 & (contacts["business_date"] > as_of - dt.timedelta(days=90))]["customer_key"]
    )  # fmt: skip
    capped = set(
        contacts[(contacts["direction"] == "outbound")
                 & (contacts["business_date"] > as_of - dt.timedelta(days=7))]["customer_key"]
    )  # fmt: skip
    taken: set[int] = set()
    rows, counts = [], {}
    for spec in LISTS["lists"]:
        name, ch = spec["name"], spec["channel"]
        if name == "a_email":
            audience = dim.index[dim["orders"] >= 2]
        elif name == "b_sms":
            audience = dim.index[dim["orders"] >= 1]
        else:
            audience = dim.index[dim.index.isin(nbc.index)]
        stage = {}
        for k in audience:
            d = dim.loc[k]
            consent = d[CONSENT[ch]]
            reach = all(pd.notna(cps.loc[k, f]) for f in FIELDS[ch]) if k in cps.index else False
            if ch == "email":
                reach = reach and bool(d["contactable_email"])
            if pd.isna(consent) or not bool(consent):
                stage[k] = "no_consent"
            elif ch in stopped.get(k, set()):
                stage[k] = "unsubscribed_bounced"
            elif not reach:
                stage[k] = "unreachable"
            elif k in complaint:
                stage[k] = "complaint"
            elif k in capped:
                stage[k] = "frequency_cap"
            elif k in taken:
                stage[k] = "other_list"
            else:
                stage[k] = "passed"
        passed = [k for k, s in stage.items() if s == "passed"]
        if spec["response_score"] == "1":
            s = {k: 1.0 for k in passed}
        else:
            s = {k: max(float(scores.loc[k, "p_alive"]), 0.0) for k in passed}
        mean = sum(s.values()) / len(s) if s else 0.0
        cand = []
        for k in passed:
            p = min(0.95, spec["expected_response_rate"] * (s[k] / mean if mean > 0 else 1.0))
            if "expected_margin" in spec:
                m = float(spec["expected_margin"])
            else:
                o = dim.loc[k, "orders"]
                m = dim.loc[k, "net_revenue"] / o * (0.3 - spec.get("discount_rate", 0.0))
            ev = p * m - spec["cost_per_contact"]
            rank_score = {
                "a_email": dim.loc[k, "net_revenue"],
                "b_sms": ev,
                "c_mail": ev,
            }[name]
            cand.append((k, p, m, ev, rank_score))
        kept = [c for c in cand if c[3] >= 0]
        kept.sort(key=lambda c: (-c[4], c[0]))
        limits = []
        if "max_size" in spec:
            limits.append(spec["max_size"])
        if "budget" in spec:
            limits.append(int(spec["budget"] // spec["cost_per_contact"]))
        max_treated = min(limits)
        treated_so_far = 0
        for rank, (k, p, _m, ev, _) in enumerate(kept, start=1):
            if treated_so_far >= max_treated:
                break
            control = _hash(name, k) < spec["control_share"]
            treated_so_far += 0 if control else 1
            rows.append((name, k, "control" if control else "treated", rank, p, ev))
            taken.add(k)
        selected = sum(1 for r in rows if r[0] == name)
        counts[name] = {
            "audience": len(audience),
            **{f"suppressed_{st}": sum(1 for v in stage.values() if v == st)
               for st in ["no_consent", "unsubscribed_bounced", "unreachable", "complaint",
                          "frequency_cap", "other_list"]},
            "eligible": len(passed),
            "cut_negative_ev": len(cand) - len(kept),
            "selected": selected,
        }  # fmt: skip
    ref = pd.DataFrame(
        rows,
        columns=[
            "list_name",
            "customer_key",
            "treatment_group",
            "rank",
            "p_response",
            "expected_value",
        ],
    )
    return ref, counts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_members_match_independent_reference(home, seed):
    settings = _settings(home)
    build_world(settings.work_db_path, AS_OF, customers=500, seed=seed)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        got = con.execute(
            "select list_name, customer_key, treatment_group, rank, p_response, expected_value "
            "from marts.target_list_members order by list_name, rank"
        ).df()
        lists = con.execute("select * from marts.target_lists").df().set_index("list_name")
    ref, counts = reference_members(settings.work_db_path, AS_OF)
    ref = ref.sort_values(["list_name", "rank"]).reset_index(drop=True)
    assert len(got) > 50
    pd.testing.assert_frame_equal(
        got[["list_name", "customer_key", "treatment_group", "rank"]].reset_index(drop=True),
        ref[["list_name", "customer_key", "treatment_group", "rank"]],
        check_dtype=False,
    )
    assert got["p_response"].to_numpy() == pytest.approx(ref["p_response"].to_numpy())
    assert got["expected_value"].to_numpy() == pytest.approx(ref["expected_value"].to_numpy())
    for name, expected in counts.items():
        row = lists.loc[name]
        for col, value in expected.items():
            assert row[col] == value, (name, col)
    # the expensive mail list loses candidates to the EV cut, the SMS list to its budget
    assert lists.loc["c_mail", "cut_negative_ev"] > 0
    assert lists.loc["b_sms", "treated"] == 1000 // 25 or lists.loc["b_sms", "cut_budget"] == 0


def test_economics_base_rate_is_mean_p_response(home):
    """Scores only redistribute the base rate: without cuts, mean P(response) = base rate."""
    spec = dict(LISTS["lists"][0], cost_per_contact=0, max_size=10**6)
    settings = _settings(home, {"lists": [spec]})
    build_world(settings.work_db_path, AS_OF, customers=800, seed=3)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        mean_p, spread, n = con.execute(
            "select avg(p_response), max(p_response) - min(p_response), count(*) "
            "from marts.target_list_members"
        ).fetchone()
        eligible = con.execute("select eligible from marts.target_lists").fetchone()[0]
    assert n == eligible > 100
    assert mean_p == pytest.approx(0.2, rel=1e-9)
    assert spread > 0.05  # p_alive does move individual probabilities


def test_missing_source_fails_clearly(home):
    settings = _settings(home)
    build_world(settings.work_db_path, AS_OF, customers=50, seed=0)
    with duckdb.connect(str(settings.work_db_path)) as con:
        con.execute("drop table marts.customer_scores")
    cfg = load_targeting_config(settings)
    with work_db(settings) as con, pytest.raises(MissingSourceError, match="customer_scores"):
        build_target_lists(con, cfg, AS_OF)


def test_bad_list_sql_names_the_list(home):
    lists = {"lists": [dict(LISTS["lists"][1], audience="dim_customers.no_such_column > 1")]}
    settings = _settings(home, lists)
    build_world(settings.work_db_path, AS_OF, customers=50, seed=0)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con, pytest.raises(RuntimeError, match="b_sms"):
        build_target_lists(con, cfg, AS_OF)


def test_rerun_replaces_and_next_night_holds_recent_members(home):
    settings = _settings(home)
    build_world(settings.work_db_path, AS_OF, customers=300, seed=4)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        first = con.execute("select * from marts.target_list_members order by all").fetchall()
        build_target_lists(con, cfg, AS_OF)
        again = con.execute("select * from marts.target_list_members order by all").fetchall()
        assert first == again
        next_day = AS_OF + dt.timedelta(days=1)
        build_target_lists(con, cfg, next_day)
        overlap = con.execute(
            "select count(*) from marts.target_list_members a join marts.target_list_members b "
            "using (customer_key) where a.as_of = ? and b.as_of = ?",
            [AS_OF, next_day],
        ).fetchone()[0]
        held = con.execute(
            "select sum(suppressed_recently_listed) from marts.target_lists where as_of = ?",
            [next_day],
        ).fetchone()[0]
        # past the relist window the same customers may be listed again
        later = AS_OF + dt.timedelta(days=cfg.relist_days)
        build_target_lists(con, cfg, later)
        again_later = con.execute(
            "select count(*) from marts.target_list_members a join marts.target_list_members b "
            "using (customer_key) where a.as_of = ? and b.as_of = ?",
            [AS_OF, later],
        ).fetchone()[0]
    assert overlap == 0
    assert held > 0
    assert again_later > 0


def test_control_hash_share_and_stability(home):
    """About control_share of selected customers are control, and the choice is per customer."""
    lists = {"lists": [dict(LISTS["lists"][1], budget=10**9, control_share=0.3)]}
    settings = _settings(home, lists)
    build_world(settings.work_db_path, AS_OF, customers=3000, seed=5)
    cfg = load_targeting_config(settings)
    with work_db(settings) as con:
        build_target_lists(con, cfg, AS_OF)
        rows = con.execute(
            "select customer_key, treatment_group, control_hash from marts.target_list_members"
        ).fetchall()
    n = len(rows)
    share = sum(1 for _, g, _ in rows if g == "control") / n
    assert abs(share - 0.3) < 3 * math.sqrt(0.3 * 0.7 / n)
    for key, group, u in rows:
        assert u == pytest.approx(_hash("b_sms", key), abs=0)
        assert (group == "control") == (_hash("b_sms", key) < 0.3)
