"""Small order-level fixtures written straight into a home's build database.

``marts.fct_orders`` and ``marts.dim_customers`` stand in for the dbt marts (same column
names and types as the columns scoring reads), so the scoring assets run on a real DuckDB
file in seconds, without dbt.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

AS_OF = dt.date(2026, 6, 30)


def simulate_orders(
    n_customers: int = 400,
    *,
    seed: int = 1,
    as_of: dt.date = AS_OF,
    history_days: int = 900,
    days_after_as_of: int = 60,
) -> pl.DataFrame:
    """BG/NBD-style purchasing in days, with the awkward cases scoring must handle.

    * several orders on one day for some customers (one purchase day);
    * return-only orders (is_purchase false), including one customer with nothing else;
    * a few repeat buyers whose repeat purchase orders net to <= 0 (non-positive spend);
    * orders without cost (margin null) and anonymous orders (customer_key null);
    * orders after ``as_of`` (must be ignored).
    """
    rng = np.random.default_rng(seed)
    start = as_of - dt.timedelta(days=history_days)
    end_day = history_days + days_after_as_of
    rows: list[dict] = []

    def add(key: int | None, day: int, amount: float, *, purchase: bool = True) -> None:
        cost_known = rng.random() > 0.08
        margin = round(amount * rng.uniform(0.15, 0.55), 2) if cost_known else None
        rows.append(
            {
                "order_id": f"o{len(rows):06d}",
                "customer_key": key,
                "business_date": start + dt.timedelta(days=int(day)),
                "net_amount": round(amount, 2),
                "margin": margin,
                "is_purchase": purchase,
                "is_return_only": not purchase,
            }
        )

    for key in range(1, n_customers + 1):
        first = int(rng.integers(0, history_days))
        lam = rng.gamma(0.7, 1.0 / 25.0)  # purchases per day
        p = rng.beta(0.7, 3.0)
        spend = rng.gamma(4.0, 1.0) * 10_000
        day = float(first)
        add(key, first, rng.gamma(4.0, spend / 4.0))
        while True:
            day += rng.exponential(1.0 / lam)
            if day > end_day:
                break
            amount = rng.gamma(4.0, spend / 4.0)
            add(key, int(day), amount)
            if rng.random() < 0.15:  # second order the same day
                add(key, int(day), amount / 3)
            if rng.random() < 0.05:  # later return of part of it
                add(key, min(int(day) + 5, end_day), -amount / 2, purchase=False)
            if rng.random() < p:
                break
    # Repeat buyers whose repeat purchase days net to <= 0 (exchange orders, refunds).
    for i, key in enumerate(range(n_customers + 1, n_customers + 4)):
        add(key, 100 + i, 50_000.0)
        add(key, 200 + i, -20_000.0)  # purchase order netting negative
        add(key, 300 + i, 0.0)  # zero-value purchase order
    # A customer with return-only orders and no purchase: not scored.
    add(n_customers + 10, 400, -30_000.0, purchase=False)
    # Customers whose first order comes after as_of: not scored tonight.
    for key in range(n_customers + 20, n_customers + 23):
        add(key, history_days + 5, 40_000.0)
    # Anonymous orders.
    for day in (10, 500, 800):
        add(None, day, 12_345.0)
    return pl.DataFrame(
        rows,
        schema={
            "order_id": pl.Utf8,
            "customer_key": pl.Int64,
            "business_date": pl.Date,
            "net_amount": pl.Float64,
            "margin": pl.Float64,
            "is_purchase": pl.Boolean,
            "is_return_only": pl.Boolean,
        },
        orient="row",
    )


def degenerate_orders(as_of: dt.date = AS_OF, n_customers: int = 60) -> pl.DataFrame:
    """Everyone bought on as_of (recency == T) with the same spend: the MLE runs to a
    boundary and neither fit converges."""
    rows = []
    for key in range(1, n_customers + 1):
        for k, back in enumerate((30 + key, 20, 10, 0)):
            rows.append(
                {
                    "order_id": f"d{key}-{k}",
                    "customer_key": key,
                    "business_date": as_of - dt.timedelta(days=back),
                    "net_amount": 10_000.0,
                    "margin": 3_000.0,
                    "is_purchase": True,
                    "is_return_only": False,
                }
            )
    return pl.DataFrame(rows)


def write_marts(home: Path, orders: pl.DataFrame) -> None:
    """Write ``orders`` as marts.fct_orders (+ dim_customers) into the home's build DB."""
    db = home / "state" / "work.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists marts")
        con.register("_orders", orders.to_arrow())
        con.execute(
            """
            create or replace table marts.fct_orders as
            select
                order_id,
                customer_key::bigint as customer_key,
                business_date::date as business_date,
                net_amount::decimal(38, 4) as net_amount,
                margin::decimal(38, 7) as margin,
                is_purchase,
                is_return_only,
                customer_key is null as is_anonymous
            from _orders
            """
        )
        con.execute(
            "create or replace table marts.dim_customers as "
            "select distinct customer_key from marts.fct_orders where customer_key is not null"
        )
    finally:
        con.close()
