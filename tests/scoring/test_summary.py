"""The SQL customer summary against an independent plain-Python computation."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.scoring.summary import count_non_buyers, load_holdout, load_summary
from tests.scoring.fixtures import AS_OF, simulate_orders, write_marts

MARGIN_RATE = 0.3


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    return simulate_orders(300, seed=7)


@pytest.fixture(scope="module")
def con(orders: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("summary_home")
    write_marts(home, orders)
    con = duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True)
    yield con
    con.close()


def python_summary(orders: pl.DataFrame, as_of: dt.date, unit_days: float) -> dict[int, dict]:
    """Row-by-row recomputation of the documented definitions."""
    day_value: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    history: dict[int, dict] = defaultdict(
        lambda: {"revenue": 0.0, "margin": 0.0, "orders": 0, "with_cost": 0}
    )
    for row in orders.iter_rows(named=True):
        key, day = row["customer_key"], row["business_date"]
        if key is None or day > as_of:
            continue
        h = history[key]
        h["revenue"] += row["net_amount"]
        h["orders"] += 1
        if row["margin"] is None:
            h["margin"] += row["net_amount"] * MARGIN_RATE
        else:
            h["margin"] += row["margin"]
            h["with_cost"] += 1
        if row["is_purchase"]:
            day_value[key][day] += row["net_amount"]
    out = {}
    for key, days in day_value.items():
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        repeat = [days[d] for d in ordered[1:]]
        out[key] = {
            "frequency": len(ordered) - 1,
            "recency": (last - first).days / unit_days,
            "age": (as_of - first).days / unit_days,
            "monetary_value": sum(repeat) / len(repeat) if repeat else 0.0,
            "first": first,
            "last": last,
            **history[key],
        }
    return out


@pytest.mark.parametrize(("as_of", "unit_days"), [(AS_OF, 7.0), (dt.date(2026, 1, 15), 1.0)])
def test_summary_sql_matches_python(con, orders, as_of: dt.date, unit_days: float) -> None:
    s = load_summary(con, as_of, unit_days=unit_days, margin_rate=MARGIN_RATE)
    expected = python_summary(orders, as_of, unit_days)
    assert s.n == len(expected) > 100
    assert list(s.customer_key) == sorted(expected)  # sorted: load_holdout relies on it
    for i, key in enumerate(s.customer_key):
        e = expected[int(key)]
        assert s.frequency[i] == e["frequency"]
        assert s.purchase_days[i] == e["frequency"] + 1
        assert s.recency[i] == pytest.approx(e["recency"], abs=1e-12)
        assert s.age[i] == pytest.approx(e["age"], abs=1e-12)
        assert s.monetary_value[i] == pytest.approx(e["monetary_value"], rel=1e-9, abs=1e-6)
        assert s.historic_revenue[i] == pytest.approx(e["revenue"], rel=1e-9, abs=1e-6)
        assert s.historic_margin[i] == pytest.approx(e["margin"], rel=1e-9, abs=1e-6)
        assert s.orders[i] == e["orders"]
        assert s.orders_with_cost[i] == e["with_cost"]
        assert s.first_purchase_date[i] == np.datetime64(e["first"])
        assert s.last_purchase_date[i] == np.datetime64(e["last"])


def test_fixture_covers_the_awkward_cases(con, orders) -> None:
    s = load_summary(con, AS_OF, unit_days=7.0, margin_rate=MARGIN_RATE)
    assert ((s.frequency > 0) & (s.monetary_value <= 0)).sum() >= 3  # non-positive spend
    assert (s.frequency == 0).sum() > 10  # one-time buyers
    assert (s.orders > s.purchase_days).any()  # several orders a day / return-only orders
    assert (s.orders_with_cost < s.orders).any()  # unknown cost
    after = orders.filter(pl.col("business_date") > AS_OF)["customer_key"].drop_nulls()
    first_after = set(after) - set(
        orders.filter(pl.col("business_date") <= AS_OF)["customer_key"].drop_nulls()
    )
    assert first_after  # customers whose first order is after as_of ...
    assert not first_after & set(s.customer_key.tolist())  # ... are not in the summary


def test_customers_with_only_return_orders_are_counted_not_scored(con) -> None:
    s = load_summary(con, AS_OF, unit_days=7.0, margin_rate=MARGIN_RATE)
    assert 310 not in set(s.customer_key.tolist())
    assert count_non_buyers(con, AS_OF) == 1


def test_holdout_actuals_match_python(con, orders) -> None:
    start = AS_OF - dt.timedelta(weeks=26)
    cal = load_summary(con, start, unit_days=7.0, margin_rate=MARGIN_RATE)
    days, revenue = load_holdout(con, cal.customer_key, start, AS_OF)
    want_days: dict[int, set] = defaultdict(set)
    want_rev: dict[int, float] = defaultdict(float)
    for row in orders.iter_rows(named=True):
        key, day = row["customer_key"], row["business_date"]
        if key is not None and row["is_purchase"] and start < day <= AS_OF:
            want_days[key].add(day)
            want_rev[key] += row["net_amount"]
    for i, key in enumerate(cal.customer_key.tolist()):
        assert days[i] == len(want_days.get(key, ()))
        assert revenue[i] == pytest.approx(want_rev.get(key, 0.0), abs=1e-6)
    assert days.sum() > 0


def test_summary_of_an_empty_mart(tmp_path: Path) -> None:
    write_marts(tmp_path, simulate_orders(5, seed=1).head(0))
    with duckdb.connect(str(tmp_path / "state" / "work.duckdb")) as con:
        s = load_summary(con, AS_OF, unit_days=7.0, margin_rate=MARGIN_RATE)
        days, _ = load_holdout(con, s.customer_key, AS_OF - dt.timedelta(days=10), AS_OF)
    assert s.n == 0 and days.shape == (0,)
