"""Independent pandas/numpy computation of the analytics marts from landing rows.

Nothing here reads the warehouse: every figure is recomputed from the fixture's
landing frames with the definitions in docs/marts.md, using different formulas
where one exists (Gini from the mean absolute difference, the Lorenz curve with
numpy.interp, scores with pandas ranks), so the tests compare two implementations.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import numpy as np
import pandas as pd

from pipelines.settings import SEEDS_DIR

VALUE_TIERS = [
    ("top_1", "0.01"),
    ("top_1_5", "0.05"),
    ("top_5_10", "0.10"),
    ("top_10_25", "0.25"),
    ("top_25_50", "0.50"),
    ("bottom_50", "1.0"),
]
TOP_TIERS = {"top_1", "top_1_5", "top_5_10"}


def orders_from_landing(transactions: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Orders (one row per transaction) with business dates up to as_of."""
    tx = transactions.copy()
    tx["business_date"] = pd.to_datetime(tx["occurred_at"]).dt.date
    tx = tx[tx["business_date"] <= as_of]
    tx["customer"] = tx["source_customer_id"].replace("", None)
    tx["is_purchase_line"] = tx["amount"] >= 0
    orders = tx.groupby("transaction_id", as_index=False).agg(
        customer=("customer", "first"),
        business_date=("business_date", "min"),
        channel=("channel", "first"),
        net_amount=("amount", "sum"),
        is_purchase=("is_purchase_line", "any"),
    )
    return orders


def _window_start(as_of: dt.date, days: int) -> dt.date:
    return as_of - dt.timedelta(days=days - 1)


def customer_value(orders: pd.DataFrame, as_of: dt.date, window_days: int = 365) -> pd.DataFrame:
    known = orders[orders["customer"].notna()].copy()
    known["in_window"] = known["business_date"] >= _window_start(as_of, window_days)
    rows = []
    for cust, g in known.groupby("customer"):
        w = g[g["in_window"]]
        rows.append(
            {
                "customer": cust,
                "window_orders": int(w["is_purchase"].sum()),
                "window_net_revenue": float(w["net_amount"].sum()),
                "lifetime_orders": int(g["is_purchase"].sum()),
                "lifetime_net_revenue": float(g["net_amount"].sum()),
            }
        )
    return pd.DataFrame(rows)


def rank_value(cv: pd.DataFrame, keys: dict[str, int]) -> pd.DataFrame:
    """Adds value_rank/shares/tier; ties by customer_key as the warehouse does."""
    cv = cv.copy()
    cv["customer_key"] = cv["customer"].map(keys)
    ranked = cv[cv["window_orders"] > 0].sort_values(
        ["window_net_revenue", "customer_key"], ascending=[False, True]
    )
    n = len(ranked)
    total = ranked["window_net_revenue"].sum()
    ranked = ranked.assign(
        value_rank=np.arange(1, n + 1),
        revenue_share=ranked["window_net_revenue"] / total,
        cumulative_revenue_share=ranked["window_net_revenue"].cumsum() / total,
    )
    tiers = []
    for r in ranked["value_rank"]:
        for tier, share in VALUE_TIERS:
            if r <= math.ceil(Fraction(share) * n):
                tiers.append(tier)
                break
    ranked["value_tier"] = tiers
    out = cv.merge(
        ranked[
            ["customer", "value_rank", "revenue_share", "cumulative_revenue_share", "value_tier"]
        ],
        on="customer",
        how="left",
    )
    out["value_tier"] = out["value_tier"].fillna("no_window_purchase")
    return out


def gini(values: np.ndarray) -> float:
    """Gini from the mean absolute difference: Σ|xi − xj| / (2 n² mean)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean()))


def lorenz(values: np.ndarray, points: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer share, Lorenz share, top share) at points/points .. 1, by interpolation."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    xs = np.arange(n + 1) / n
    ys = np.concatenate([[0.0], np.cumsum(x)]) / x.sum()
    p = np.arange(1, points + 1) / points
    low = np.interp(p, xs, ys)
    top = 1 - np.interp(1 - p, xs, ys)
    return p, low, top


def pareto(ranked_revenue_desc: np.ndarray, target: float = 0.8) -> dict[str, float]:
    x = np.asarray(ranked_revenue_desc, dtype=float)
    n = len(x)
    total = x.sum()
    out: dict[str, float] = {"customers": n, "revenue": total, "gini": gini(x)}
    for pct in (1, 5, 10, 20):
        k = math.ceil(Fraction(pct, 100) * n)
        out[f"top_{pct}pct_revenue_share"] = x[:k].sum() / total
    out["customers_for_target"] = int(np.argmax(np.cumsum(x) >= target * total - 1e-9) + 1)
    return out


def segment_rules() -> pd.DataFrame:
    return pd.read_csv(SEEDS_DIR / "rfm_segment_map.csv").sort_values("priority")


def segment_of(rules: pd.DataFrame, r: int, f: int, m: int) -> str | None:
    for rule in rules.itertuples():
        in_r = rule.r_min <= r <= rule.r_max
        if in_r and rule.f_min <= f <= rule.f_max and rule.m_min <= m <= rule.m_max:
            return str(rule.segment)
    return None


def _bin(rank: pd.Series, n: int, bins: int = 5) -> pd.Series:
    return ((rank.astype(int) - 1) * bins // n + 1).astype(int)


def rfm(orders: pd.DataFrame, as_of: dt.date, window_days: int = 365) -> pd.DataFrame:
    """customer_rfm at as_of (rank tie method), keyed by source customer id."""
    o = orders[(orders["customer"].notna()) & (orders["business_date"] <= as_of)]
    purchases = o[o["is_purchase"]]
    last = purchases.groupby("customer")["business_date"].max()
    first = purchases.groupby("customer")["business_date"].min()
    w = o[o["business_date"] >= _window_start(as_of, window_days)]
    freq = w[w["is_purchase"]].groupby("customer").size()
    mon = w.groupby("customer")["net_amount"].sum()
    df = pd.DataFrame({"last_purchase_date": last, "first_purchase_date": first})
    df["recency_days"] = [(as_of - d).days for d in df["last_purchase_date"]]
    df["frequency"] = freq.reindex(df.index).fillna(0).astype(int)
    df["monetary"] = mon.reindex(df.index).fillna(0.0).astype(float)
    n = len(df)
    if n == 0:
        return df
    df["r_score"] = _bin(df["recency_days"].rank(method="min", ascending=False), n)
    # F and M among the customers with a purchase in the window; the others score 1
    active = df["frequency"] > 0
    k = int(active.sum())
    df["f_score"] = 1
    df["m_score"] = 1
    if k:
        df.loc[active, "f_score"] = _bin(df.loc[active, "frequency"].rank(method="min"), k)
        df.loc[active, "m_score"] = _bin(df.loc[active, "monetary"].rank(method="min"), k)
    rules = segment_rules()
    df["segment"] = [
        segment_of(rules, r, f, m)
        for r, f, m in zip(df["r_score"], df["f_score"], df["m_score"], strict=True)
    ]
    df["rfm_score"] = (df["r_score"] + df["f_score"] + df["m_score"]) / 3
    return df.reset_index(names="customer")


def month_ends(first: dt.date, as_of: dt.date) -> list[dt.date]:
    out = []
    y, m = first.year, first.month
    while True:
        nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        if end > as_of:
            return out
        out.append(end)
        y, m = nxt.year, nxt.month


def rfm_history(orders: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    known = orders[orders["customer"].notna() & orders["is_purchase"]]
    frames = []
    for end in month_ends(known["business_date"].min(), as_of):
        snap = rfm(orders[orders["business_date"] <= end], end)
        snap["snapshot_date"] = end
        frames.append(snap)
    return pd.concat(frames, ignore_index=True)


def migration(history: pd.DataFrame) -> pd.DataFrame:
    dates = sorted(history["snapshot_date"].unique())
    rows = []
    for before, after in zip(dates, dates[1:], strict=False):
        a = history[history["snapshot_date"] == before].set_index("customer")["segment"]
        b = history[history["snapshot_date"] == after].set_index("customer")["segment"]
        moved = pd.DataFrame({"from_segment": a.reindex(b.index).fillna("(new customer)")})
        moved["to_segment"] = b
        counts = moved.groupby(["from_segment", "to_segment"]).size()
        for (f, t), c in counts.items():
            rows.append(
                {"to_snapshot_date": after, "from_segment": f, "to_segment": t, "customers": c}
            )
    return pd.DataFrame(rows)


def _period_start(d: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return d - dt.timedelta(days=d.weekday())
    return d.replace(day=1)


def _periods(first: dt.date, last: dt.date, grain: str) -> list[dt.date]:
    out, cur = [], first
    while cur <= last:
        out.append(cur)
        if grain == "week":
            cur = cur + dt.timedelta(days=7)
        else:
            cur = dt.date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
    return out


def cohort_retention(orders: pd.DataFrame, as_of: dt.date, grain: str = "month") -> pd.DataFrame:
    o = orders[orders["customer"].notna()].copy()
    o["period"] = [_period_start(d, grain) for d in o["business_date"]]
    cohort = o[o["is_purchase"]].groupby("customer")["period"].min()
    o = o[o["customer"].isin(cohort.index)]
    o["cohort"] = o["customer"].map(cohort)
    o = o[o["period"] >= o["cohort"]]
    rows = []
    last = _period_start(as_of, grain)
    for c, members in cohort.groupby(cohort):
        size = len(members)
        cumulative = 0.0
        for number, period in enumerate(_periods(c, last, grain)):
            in_p = o[(o["cohort"] == c) & (o["period"] == period)]
            active = in_p[in_p["is_purchase"]]["customer"].nunique()
            revenue = float(in_p["net_amount"].sum())
            cumulative += revenue
            rows.append(
                {
                    "cohort": c,
                    "period_number": number,
                    "cohort_size": size,
                    "active_customers": active,
                    "retention_rate": active / size,
                    "revenue": revenue,
                    "cumulative_revenue_per_cohort_customer": cumulative / size,
                }
            )
    return pd.DataFrame(rows)


def channel_summary(orders: pd.DataFrame) -> pd.DataFrame:
    o = orders.copy()
    o["month"] = [d.replace(day=1) for d in o["business_date"]]
    known_p = o[o["customer"].notna() & o["is_purchase"]]
    firsts = known_p.groupby(["customer", "channel"])["business_date"].min().reset_index()
    rows = []
    for (month, channel), g in o.groupby(["month", "channel"]):
        month_end = dt.date(
            month.year + (month.month == 12), month.month % 12 + 1, 1
        ) - dt.timedelta(days=1)
        custs = set(g[g["customer"].notna() & g["is_purchase"]]["customer"])
        multi = 0
        for cust in custs:
            used = firsts[(firsts["customer"] == cust) & (firsts["business_date"] <= month_end)]
            multi += len(used) >= 2
        rows.append(
            {
                "month_start": month,
                "channel": channel,
                "customers": len(custs),
                "orders": int(g["is_purchase"].sum()),
                "revenue": float(g["net_amount"].sum()),
                "multichannel_customers": multi,
            }
        )
    return pd.DataFrame(rows)


def contact_summary(
    contacts: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: dt.date,
    attribution_days: int = 14,
) -> pd.DataFrame:
    c = contacts.copy()
    c["business_date"] = pd.to_datetime(c["occurred_at"]).dt.date
    c = c[c["business_date"] <= as_of]
    c["campaign_id"] = c["campaign_id"].replace("", None)
    purchases = orders[orders["customer"].notna() & orders["is_purchase"]]
    rows = []
    for cust, g in c.groupby("source_customer_id"):
        out = g["direction"] == "outbound"
        row = {"customer": cust}
        for w in (30, 90):
            since = _window_start(as_of, w)
            row[f"outbound_contacts_{w}d"] = int((out & (g["business_date"] >= since)).sum())
            row[f"outbound_email_{w}d"] = int(
                (out & (g["channel"] == "email") & (g["business_date"] >= since)).sum()
            )
        since90 = _window_start(as_of, 90)
        inbound90 = (g["direction"] == "inbound") & (g["business_date"] >= since90)
        row["inbound_service_90d"] = int(
            (inbound90 & g["contact_type"].isin(["service", "inquiry"])).sum()
        )
        row["inbound_complaints_90d"] = int((inbound90 & (g["contact_type"] == "complaint")).sum())
        row["last_contact_date"] = g["business_date"].max()
        past = responded = 0
        camp = g[out & g["campaign_id"].notna()]
        for _, cg in camp.groupby("campaign_id"):
            first = cg["business_date"].min()
            end = first + dt.timedelta(days=attribution_days - 1)
            if end > as_of:
                continue
            past += 1
            mine = purchases[purchases["customer"] == cust]["business_date"]
            if (cg["outcome"] == "responded").any() or ((mine >= first) & (mine <= end)).any():
                responded += 1
        row["past_campaigns"] = past
        row["past_campaigns_responded"] = responded
        row["campaign_response_rate"] = responded / past if past else None
        rows.append(row)
    return pd.DataFrame(rows)
