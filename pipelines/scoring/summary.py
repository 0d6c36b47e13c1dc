"""The customer summary (frequency, recency, age, monetary value) built in SQL.

Definitions (docs/scoring.md has the full text):

* a *purchase day* is a business_date on which the customer has at least one purchase
  order (``fct_orders.is_purchase``: an order with at least one non-return line);
  return-only orders are not purchases;
* ``frequency`` = distinct purchase days - 1 (repeat purchase days);
* ``recency`` = last purchase day - first purchase day, ``age`` (the models' ``T``) =
  as_of - first purchase day, both in days divided by the configured time unit;
* ``monetary_value`` = mean over the repeat purchase days (all but the first) of the
  day's net revenue (sum of ``net_amount`` of that day's purchase orders, so returns
  inside a purchase order are netted); 0 for one-time buyers;
* ``historic_revenue`` / ``historic_margin``: all orders up to as_of (return-only orders
  too); an order's margin is ``fct_orders.margin`` when its cost is complete, else
  ``net_amount * margin_rate``.

Only orders with ``business_date <= as_of`` and a customer_key count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, fields

import duckdb
import numpy as np
from numpy.typing import NDArray

SUMMARY_SQL = """
with purchase_days as (
    select
        customer_key,
        business_date as purchase_date,
        sum(net_amount) as day_net_revenue
    from marts.fct_orders
    where is_purchase
        and customer_key is not null
        and business_date <= $as_of
    group by customer_key, business_date
),

numbered as (
    select
        customer_key,
        purchase_date,
        day_net_revenue,
        row_number() over (partition by customer_key order by purchase_date) as day_number
    from purchase_days
),

buyers as (
    select
        customer_key,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        sum(case when day_number > 1 then day_net_revenue else 0 end) as repeat_net_revenue
    from numbered
    group by customer_key
),

history as (
    select
        customer_key,
        sum(net_amount) as net_revenue,
        sum(coalesce(margin, net_amount * $margin_rate)) as margin,
        count(*) as orders,
        count(margin) as orders_with_cost
    from marts.fct_orders
    where customer_key is not null
        and business_date <= $as_of
    group by customer_key
)

select
    buyers.customer_key,
    buyers.first_purchase_date,
    buyers.last_purchase_date,
    buyers.purchase_days,
    buyers.purchase_days - 1 as frequency,
    date_diff('day', buyers.first_purchase_date, buyers.last_purchase_date) / $unit_days
        as recency,
    date_diff('day', buyers.first_purchase_date, $as_of) / $unit_days as age,
    case
        when buyers.purchase_days > 1
            then cast(buyers.repeat_net_revenue as double) / (buyers.purchase_days - 1)
        else 0
    end as monetary_value,
    cast(history.net_revenue as double) as historic_revenue,
    cast(history.margin as double) as historic_margin,
    history.orders,
    history.orders_with_cost
from buyers
inner join history on buyers.customer_key = history.customer_key
order by buyers.customer_key
"""

HOLDOUT_SQL = """
select
    customer_key,
    count(distinct business_date) as purchase_days,
    cast(sum(net_amount) as double) as net_revenue
from marts.fct_orders
where is_purchase
    and customer_key is not null
    and business_date > $start
    and business_date <= $end
group by customer_key
order by customer_key
"""

NON_BUYERS_SQL = """
select count(*) from (
    select customer_key
    from marts.fct_orders
    where customer_key is not null and business_date <= $as_of
    group by customer_key
    having not bool_or(is_purchase)
)
"""


@dataclass(frozen=True)
class CustomerSummary:
    """One row per customer with at least one purchase day up to ``as_of``."""

    as_of: dt.date
    customer_key: NDArray[np.int64]
    first_purchase_date: NDArray[np.datetime64]
    last_purchase_date: NDArray[np.datetime64]
    purchase_days: NDArray[np.int64]
    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    age: NDArray[np.float64]
    monetary_value: NDArray[np.float64]
    historic_revenue: NDArray[np.float64]
    historic_margin: NDArray[np.float64]
    orders: NDArray[np.int64]
    orders_with_cost: NDArray[np.int64]

    @property
    def n(self) -> int:
        return int(self.customer_key.shape[0])

    def digest(self) -> str:
        """Content hash of every column (stable for the same inputs)."""
        h = hashlib.sha256(self.as_of.isoformat().encode())
        for f in fields(self):
            if f.name != "as_of":
                h.update(np.ascontiguousarray(getattr(self, f.name)).tobytes())
        return h.hexdigest()


def load_summary(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, *, unit_days: float, margin_rate: float
) -> CustomerSummary:
    """Run :data:`SUMMARY_SQL` against ``marts.fct_orders``."""
    cols = con.execute(
        SUMMARY_SQL, {"as_of": as_of, "unit_days": float(unit_days), "margin_rate": margin_rate}
    ).fetchnumpy()

    def num(name: str, dtype: type) -> NDArray:
        return np.asarray(cols[name], dtype=dtype)

    return CustomerSummary(
        as_of=as_of,
        customer_key=num("customer_key", np.int64),
        first_purchase_date=np.asarray(cols["first_purchase_date"], dtype="datetime64[D]"),
        last_purchase_date=np.asarray(cols["last_purchase_date"], dtype="datetime64[D]"),
        purchase_days=num("purchase_days", np.int64),
        frequency=num("frequency", np.float64),
        recency=num("recency", np.float64),
        age=num("age", np.float64),
        monetary_value=num("monetary_value", np.float64),
        historic_revenue=num("historic_revenue", np.float64),
        historic_margin=num("historic_margin", np.float64),
        orders=num("orders", np.int64),
        orders_with_cost=num("orders_with_cost", np.int64),
    )


def load_holdout(
    con: duckdb.DuckDBPyConnection, customer_key: NDArray[np.int64], start: dt.date, end: dt.date
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Purchase days and purchase-order net revenue in ``(start, end]``, aligned to
    ``customer_key`` (0 for customers without a purchase in the holdout)."""
    cols = con.execute(HOLDOUT_SQL, {"start": start, "end": end}).fetchnumpy()
    keys = np.asarray(cols["customer_key"], dtype=np.int64)
    days = np.zeros(customer_key.shape[0])
    revenue = np.zeros(customer_key.shape[0])
    if keys.size and customer_key.size:
        pos = np.searchsorted(customer_key, keys)
        pos_c = np.minimum(pos, customer_key.shape[0] - 1)
        hit = customer_key[pos_c] == keys
        days[pos_c[hit]] = np.asarray(cols["purchase_days"], dtype=float)[hit]
        revenue[pos_c[hit]] = np.asarray(cols["net_revenue"], dtype=float)[hit]
    return days, revenue


def count_non_buyers(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> int:
    """Customers with orders up to as_of but no purchase order (return-only): not scored."""
    row = con.execute(NON_BUYERS_SQL, {"as_of": as_of}).fetchone()
    return int(row[0]) if row else 0
