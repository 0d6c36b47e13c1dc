"""Control hash (SQL = Python), z-test and interval against scipy."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest
from scipy import stats

from pipelines.targeting.economics import (
    control_hash,
    control_hash_sql,
    two_proportion_ztest,
    uplift_confidence_interval,
)


def test_control_hash_sql_equals_python():
    keys = [0, 1, 2, 7, 12345, 2**40 + 3, 9_007_199_254_740_993]
    con = duckdb.connect()
    con.execute("create table k (customer_key bigint)")
    con.executemany("insert into k values (?)", [[k] for k in keys])
    expr = control_hash_sql("s3ed", "it's_a_list", "customer_key")
    sql_values = con.execute(f"select customer_key, {expr} from k order by customer_key").fetchall()
    for key, value in sql_values:
        assert value == control_hash("s3ed", "it's_a_list", key)
        assert 0.0 <= value < 1.0


def test_control_hash_is_uniform_and_list_specific():
    u = np.array([control_hash("seed", "a", k) for k in range(20_000)])
    v = np.array([control_hash("seed", "b", k) for k in range(20_000)])
    assert stats.kstest(u, "uniform").pvalue > 0.001
    # different lists hold out different customers (independent draws)
    both = np.mean((u < 0.1) & (v < 0.1))
    assert abs(both - 0.01) < 0.005


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(59, 205, 5, 64), (50, 166, 5, 36), (10, 42, 1, 14), (300, 1000, 250, 1000), (1, 10, 9, 10)],
)
def test_ztest_matches_scipy(x1, n1, x2, n2):
    z, p = two_proportion_ztest(x1, n1, x2, n2)
    # pooled two-proportion z-test == Pearson chi-square on the 2x2 table without correction
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    chi2, p_chi2, _, _ = stats.chi2_contingency(table, correction=False)
    assert z**2 == pytest.approx(chi2, rel=1e-10)
    assert p == pytest.approx(p_chi2, rel=1e-9)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert math.copysign(1, z) == math.copysign(1, x1 / n1 - x2 / n2)


def test_ztest_degenerate_cases():
    assert two_proportion_ztest(0, 10, 0, 10) == (None, None)
    assert two_proportion_ztest(10, 10, 5, 5) == (None, None)
    assert two_proportion_ztest(1, 0, 1, 5) == (None, None)


def test_uplift_interval():
    lo, hi = uplift_confidence_interval(59, 205, 5, 64)
    p1, p2 = 59 / 205, 5 / 64
    se = math.sqrt(p1 * (1 - p1) / 205 + p2 * (1 - p2) / 64)
    z = stats.norm.ppf(0.975)
    assert lo == pytest.approx(p1 - p2 - z * se)
    assert hi == pytest.approx(p1 - p2 + z * se)
