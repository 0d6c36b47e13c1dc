"""Synthetic marts in a DuckDB file, for unit and property tests of the list engine.

Writes the tables the targeting step reads, with the columns the other helpers' marts are
expected to have (issues 3-5): dim_customers, fct_contacts, fct_orders, dim_campaigns,
customer_rfm, customer_scores, customer_value, customer_contact_summary,
customer_next_best_category, and the contact sources (intermediate/staging).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

SEGMENTS = [
    "Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
    "About to Sleep", "At Risk", "Cannot Lose Them", "Hibernating", "Lost",
]  # fmt: skip
CATEGORIES = ["outdoor", "bbq", "kitchen", "beauty", "books", "toys"]


def _consent(rng: np.random.Generator, n: int, p_true: float, p_null: float) -> list:
    u = rng.random(n)
    return [True if x < p_true else None if x < p_true + p_null else False for x in u]


def build_world(
    path: Path,
    as_of: dt.date,
    *,
    customers: int = 400,
    seed: int = 0,
    contact_points: str = "identity",
) -> None:
    """Create the synthetic build database at ``path``.

    contact_points: "identity" writes intermediate.int_customer_contact_points; "staging"
    writes only int_customers_keyed + stg_landing__customers (the fallback).
    """
    rng = np.random.default_rng(seed)
    n = customers
    keys = np.arange(1, n + 1, dtype=np.int64) * 7 + 1000  # non-contiguous keys
    orders = rng.choice([0, 1, 1, 2, 3, 5, 8], n)
    first = [as_of - dt.timedelta(days=int(d)) for d in rng.integers(8, 700, n)]
    dim = pd.DataFrame(
        {
            "customer_key": keys,
            "consent_email": _consent(rng, n, 0.7, 0.15),
            "consent_sms": _consent(rng, n, 0.6, 0.2),
            "consent_phone": _consent(rng, n, 0.3, 0.3),
            "consent_mail": _consent(rng, n, 0.5, 0.2),
            "contactable_email": rng.random(n) > 0.05,
            "region": rng.choice(["Seoul", "Busan", "Incheon"], n),
            "first_purchase_date": [
                f if o > 0 else None for f, o in zip(first, orders, strict=True)
            ],
            "last_purchase_date": [
                (as_of - dt.timedelta(days=int(rng.integers(1, 400)))) if o > 0 else None
                for o in orders
            ],
            "orders": orders.astype(np.int64),
            "net_revenue": (orders * rng.integers(20_000, 90_000, n)).astype(float),
        }
    )
    emails = [f"c{k}@example.com" if rng.random() > 0.05 else None for k in keys]
    phones = [
        f"+8210{rng.integers(10_000_000, 99_999_999)}" if rng.random() > 0.1 else None for _ in keys
    ]
    cps = pd.DataFrame(
        {
            "customer_key": keys,
            "email": emails,
            "phone_e164": phones,
            "full_name": [f"Kim {k}" for k in keys],
            "postal_code": [
                f"{rng.integers(10000, 99999)}" if rng.random() > 0.1 else None for _ in keys
            ],
            "region": dim["region"],
            "city": "Seoul",
            "district": "Jung-gu",
            "country": "KR",
        }
    )
    # contacts: unsubscribes, bounces, complaints, recent outbound, and older campaign contacts
    contact_rows = []
    for k in keys:
        u = rng.random()
        d = None
        if u < 0.05:
            contact_rows.append(
                (
                    k,
                    as_of - dt.timedelta(days=100),
                    "email",
                    "outbound",
                    "campaign",
                    None,
                    "unsubscribed",
                    10.0,
                )
            )
        elif u < 0.08:
            contact_rows.append(
                (
                    k,
                    as_of - dt.timedelta(days=50),
                    "sms",
                    "outbound",
                    "campaign",
                    None,
                    "bounced",
                    20.0,
                )
            )
        elif u < 0.12:
            d = int(rng.integers(0, 120))
            contact_rows.append(
                (k, as_of - dt.timedelta(days=d), "phone", "inbound", "complaint", None, None, None)
            )
        elif u < 0.18:
            d = int(rng.integers(0, 12))
            contact_rows.append(
                (
                    k,
                    as_of - dt.timedelta(days=d),
                    "push",
                    "outbound",
                    "campaign",
                    "EXT-1",
                    "delivered",
                    3.0,
                )
            )
    fct_contacts = pd.DataFrame(
        contact_rows,
        columns=[
            "customer_key",
            "business_date",
            "channel",
            "direction",
            "contact_type",
            "campaign_id",
            "outcome",
            "cost",
        ],
    )
    fct_contacts["contact_key"] = [f"k{i}" for i in range(len(fct_contacts))]
    fct_contacts["occurred_at"] = pd.to_datetime(fct_contacts["business_date"]) + pd.Timedelta(
        hours=9
    )
    fct_contacts["business_date"] = pd.to_datetime(fct_contacts["business_date"]).dt.date

    seg = rng.choice(SEGMENTS, n)
    rfm = pd.DataFrame(
        {
            "customer_key": keys,
            "as_of": as_of,
            "recency_days": rng.integers(1, 700, n),
            "frequency": orders,
            "monetary": dim["net_revenue"],
            "r_score": rng.integers(1, 6, n),
            "f_score": rng.integers(1, 6, n),
            "m_score": rng.integers(1, 6, n),
            "segment": seg,
        }
    )
    p_alive = rng.uniform(0.05, 1.0, n)
    scores = pd.DataFrame(
        {
            "customer_key": keys,
            "as_of": as_of,
            "model_run_id": "m1",
            "p_alive": p_alive,
            "score_basis": np.where(orders > 1, "repeat_buyer", "one_time_buyer"),
            "expected_purchases_next_12m": rng.uniform(0, 3, n),
            "expected_average_order_value": rng.uniform(20_000, 120_000, n),
            "predicted_clv": rng.uniform(0, 900_000, n),
            "historic_clv": dim["net_revenue"],
            "churn_risk": np.where(p_alive < 0.3, "high", np.where(p_alive < 0.6, "medium", "low")),
            "clv_tier": rng.choice(["high", "medium", "low"], n),
        }
    )
    value = pd.DataFrame(
        {"customer_key": keys, "value_tier": rng.choice(["top 1%", "1-5%", "bottom 50%"], n)}
    )
    summary = pd.DataFrame(
        {
            "customer_key": keys,
            "inbound_complaints_90d": rng.integers(0, 2, n),
            "outbound_contacts_30d": rng.integers(0, 4, n),
        }
    )
    has_nbc = rng.random(n) < 0.7
    nbc = pd.DataFrame(
        {
            "customer_key": keys[has_nbc],
            "as_of": as_of,
            "next_best_category": rng.choice(CATEGORIES, int(has_nbc.sum())),
            "score": rng.uniform(0.5, 3, int(has_nbc.sum())),
            "supporting_category": rng.choice(CATEGORIES, int(has_nbc.sum())),
            "supporting_lift": rng.uniform(1, 3, int(has_nbc.sum())),
        }
    )
    fct_orders = pd.DataFrame(
        {
            "order_id": [f"o{k}" for k in keys[:5]],
            "customer_key": keys[:5],
            "ordered_at": pd.Timestamp(as_of) - pd.Timedelta(days=30),
            "business_date": as_of - dt.timedelta(days=30),
            "net_amount": 10_000.0,
            "margin": 3_000.0,
            "is_purchase": True,
        }
    )
    con = duckdb.connect(str(path))
    try:
        for schema in ("marts", "intermediate", "staging"):
            con.execute(f"create schema if not exists {schema}")
        frames = {
            "marts.dim_customers": dim,
            "marts.fct_contacts": fct_contacts,
            "marts.fct_orders": fct_orders,
            "marts.customer_rfm": rfm,
            "marts.customer_scores": scores,
            "marts.customer_value": value,
            "marts.customer_contact_summary": summary,
            "marts.customer_next_best_category": nbc,
            "marts.dim_campaigns": pd.DataFrame(
                {
                    "campaign_id": ["EXT-1"],
                    "campaign_name": ["external"],
                    "campaign_type": ["newsletter"],
                }
            ),
        }
        if contact_points == "identity":
            frames["intermediate.int_customer_contact_points"] = cps
        else:
            frames["intermediate.int_customers_keyed"] = pd.DataFrame(
                {
                    "source_system": "web",
                    "source_customer_id": [f"S{k}" for k in keys],
                    "customer_key": keys,
                }
            )
            frames["staging.stg_landing__customers"] = pd.DataFrame(
                {
                    "source_system": "web",
                    "source_customer_id": [f"S{k}" for k in keys],
                    "updated_at": pd.Timestamp(as_of),
                    "first_name": "Min",
                    "last_name": "Kim",
                    "email": [e.upper() if e else None for e in emails],
                    "phone": [p.replace("+82", "0") if p else None for p in phones],
                    "postal_code": cps["postal_code"],
                    "region": cps["region"],
                    "city": "Seoul",
                    "district": "Jung-gu",
                    "country": "KR",
                }
            )
        for name, frame in frames.items():
            con.register("frame", frame)
            con.execute(f"create or replace table {name} as select * from frame")
            con.unregister("frame")
    finally:
        con.close()
