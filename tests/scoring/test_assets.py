"""The scoring assets and blocking checks, run by Dagster on a fixture build database.

A bad night (non-converged fit, backtest beyond the bound) must fail a blocking check
and leave marts.customer_scores / model_runs / model_backtest exactly as they were.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.resources import AS_OF_TAG, CrmResource
from pipelines.scoring.assets import scoring_assets
from pipelines.scoring.checks import scoring_checks
from pipelines.scoring.report import read_state, summary_lines
from pipelines.settings import Settings
from tests.scoring.fixtures import AS_OF, degenerate_orders, simulate_orders, write_marts

MARTS = ("customer_scores", "model_runs", "model_backtest")


def run_night(home: Path, as_of: dt.date) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*scoring_assets, *scoring_checks],
        resources={"crm": CrmResource(home=str(home))},
        tags={AS_OF_TAG: as_of.isoformat()},
        raise_on_error=False,
    )


def checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str]]:
    return {
        e.check_name: (e.passed, e.severity.value) for e in result.get_asset_check_evaluations()
    }


def snapshot(home: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True) as con:
        return {t: con.execute(f"select * from marts.{t} order by all").fetchall() for t in MARTS}


def purchasing_customers(orders: pl.DataFrame, as_of: dt.date) -> set[int]:
    rows = orders.filter(
        pl.col("is_purchase")
        & pl.col("customer_key").is_not_null()
        & (pl.col("business_date") <= as_of)
    )
    return set(rows["customer_key"].to_list())


@pytest.fixture
def orders() -> pl.DataFrame:
    return simulate_orders(400, seed=5)


@pytest.fixture
def home(tmp_path: Path, orders: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CRM_CONFIG", raising=False)
    write_marts(tmp_path, orders)
    return tmp_path


def test_good_night_promotes_scores_and_is_idempotent(home: Path, orders: pl.DataFrame) -> None:
    result = run_night(home, AS_OF)
    assert result.success
    assert all(passed for passed, _ in checks(result).values()) and len(checks(result)) == 3
    with duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True) as con:
        keys = {
            k for (k,) in con.execute("select customer_key from marts.customer_scores").fetchall()
        }
        as_ofs = con.execute(
            "select distinct as_of, model_run_id from marts.customer_scores"
        ).fetchall()
        runs = con.execute(
            "select purpose, model, converged from marts.model_runs order by all"
        ).fetchall()
        bt = con.execute("select status, customers, error_pct from marts.model_backtest").fetchall()
    assert keys == purchasing_customers(orders, AS_OF)
    assert len(as_ofs) == 1 and as_ofs[0][0] == AS_OF
    assert runs == [
        ("backtest", "bg_nbd", True),
        ("backtest", "gamma_gamma", True),
        ("scoring", "bg_nbd", True),
        ("scoring", "gamma_gamma", True),
    ]
    assert len(bt) == 1 and bt[0][0] == "ok" and bt[0][2] is not None
    state = read_state(Settings.load(home), result.run_id)
    assert state is not None and state["promoted"] is True
    lines = summary_lines(state)
    assert lines[0].startswith("scoring:") and lines[1].startswith("backtest:")
    assert "Spearman" in lines[1]

    # Same night again: same model_run_id, nothing changes (not even duration_seconds).
    before = snapshot(home)
    assert run_night(home, AS_OF).success
    assert snapshot(home) == before
    assert len(before["model_runs"]) == 4 and len(before["model_backtest"]) == 1
    # Another as_of adds history rows and replaces the scores.
    assert run_night(home, AS_OF - dt.timedelta(days=1)).success
    after = snapshot(home)
    assert len(after["model_runs"]) == 8 and len(after["model_backtest"]) == 2
    assert {row[1] for row in after["customer_scores"]} == {AS_OF - dt.timedelta(days=1)}


def test_backtest_beyond_bound_keeps_previous_scores(
    home: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = AS_OF - dt.timedelta(days=7)
    assert run_night(home, first).success
    before = snapshot(home)

    override = tmp_path_factory.mktemp("cfg") / "tight.yml"
    override.write_text(
        "scoring:\n  backtest:\n    max_abs_error_pct: 0.001\n    min_customers_for_bound: 0\n"
    )
    monkeypatch.setenv("CRM_CONFIG", str(override))
    result = run_night(home, AS_OF)
    assert not result.success
    assert checks(result)["scoring_backtest_within_bound"] == (False, "ERROR")
    assert checks(result)["scoring_models_converged"] == (True, "ERROR")
    # The promotion step did not run: the marts are exactly the previous night's.
    assert snapshot(home) == before
    assert {row[1] for row in before["customer_scores"]} == {first}
    # The candidate is there for inspection, and the summary says what happened.
    with duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True) as con:
        cand = con.execute(
            "select distinct as_of from scoring.candidate_customer_scores"
        ).fetchall()
    assert cand == [(AS_OF,)]
    state = read_state(Settings.load(home), result.run_id)
    assert state["promoted"] is False and state["backtest"]["passed"] is False
    lines = summary_lines(state)
    assert "FAILED" in lines[1] and "previous scores kept" in lines[-1]


def test_non_converged_fit_keeps_previous_scores(home: Path) -> None:
    assert run_night(home, AS_OF).success
    before = snapshot(home)
    write_marts(home, degenerate_orders())
    result = run_night(home, AS_OF)
    assert not result.success
    evaluations = checks(result)
    assert evaluations["scoring_models_converged"] == (False, "ERROR")
    assert snapshot(home) == before
    with duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True) as con:
        converged = con.execute(
            "select model, converged from scoring.candidate_model_runs where purpose = 'scoring'"
        ).fetchall()
    assert ("bg_nbd", False) in converged


def test_too_little_data_warns_and_creates_empty_marts(tmp_path: Path) -> None:
    write_marts(tmp_path, simulate_orders(15, seed=2))
    result = run_night(tmp_path, AS_OF)
    assert result.success  # WARN-severity failures do not block the night
    evaluations = checks(result)
    assert {sev for _, sev in evaluations.values()} == {"WARN"}
    assert not any(passed for passed, _ in evaluations.values())
    tables = snapshot(tmp_path)
    assert all(rows == [] for rows in tables.values())
    with duckdb.connect(str(tmp_path / "state" / "work.duckdb"), read_only=True) as con:
        cols = [d[0] for d in con.execute("select * from marts.customer_scores").description]
    assert "expected_purchases_next_12m" in cols and "churn_risk" in cols
    state = json.loads((tmp_path / "state" / "scoring_summary.json").read_text())
    assert state["status"] == "insufficient_data"
    assert summary_lines(state)[0].startswith("scoring:           not fitted")
