"""End to end: generate a sample, `crm run` as a real process, read the published scores.

Then a second night with a backtest bound nobody can meet (CRM_CONFIG override): the run
fails on the blocking check and the published scores are the first night's.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.conftest import crm

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scoring_e2e")]

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("scoring_e2e")
    crm("generate", "--customers", "500", "--seed", "3", "--end-date", AS_OF.isoformat(), home=home)
    first = crm("run", "--as-of", AS_OF.isoformat(), home=home)
    (home / "first_run.out").write_text(first.stdout)
    return home


def published(home: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_purchasing_customer_is_scored(home: Path) -> None:
    missing = published(
        home,
        """
        select count(*) from (
            select distinct customer_key from marts.fct_orders
            where is_purchase and customer_key is not null and business_date <= DATE '2026-06-30'
            except
            select customer_key from marts.customer_scores
        )
        """,
    )
    rows, keys, as_ofs, runs = published(
        home,
        "select count(*), count(distinct customer_key), count(distinct as_of), "
        "count(distinct model_run_id) from marts.customer_scores",
    )[0]
    buyers = published(
        home,
        "select count(distinct customer_key) from marts.fct_orders "
        "where is_purchase and customer_key is not null",
    )[0][0]
    assert missing == [(0,)]
    assert rows == keys == buyers > 300
    assert as_ofs == 1 and runs == 1
    bases = dict(
        published(home, "select score_basis, count(*) from marts.customer_scores group by 1")
    )
    assert bases.get("one_time_buyer", 0) > 0 and bases.get("repeat_buyer", 0) > 0
    assert published(home, "select min(as_of) from marts.customer_scores") == [(AS_OF,)]
    assert (home / "exports" / "marts" / "customer_scores.parquet").exists()
    assert pq.read_metadata(home / "exports" / "marts" / "customer_scores.parquet").num_rows == rows


def test_backtest_and_model_runs_are_published(home: Path) -> None:
    bt = published(
        home,
        "select status, calibration_end, customers, error_pct, mae, spearman_rho "
        "from marts.model_backtest where as_of = DATE '2026-06-30'",
    )
    assert len(bt) == 1
    status, cal_end, customers, error, mae, rho = bt[0]
    assert status == "ok" and cal_end == AS_OF - dt.timedelta(weeks=26)
    assert customers > 100 and error is not None and mae > 0 and rho > 0
    runs = published(home, "select purpose, model, converged from marts.model_runs order by 1, 2")
    assert runs == [
        ("backtest", "bg_nbd", True),
        ("backtest", "gamma_gamma", True),
        ("scoring", "bg_nbd", True),
        ("scoring", "gamma_gamma", True),
    ]
    out = (home / "first_run.out").read_text()
    assert "backtest:" in out and "Spearman" in out
    summary = json.loads((home / "state" / "last_run_summary.json").read_text())
    assert summary["scoring"]["backtest"]["error_pct"] == pytest.approx(error)


def test_failed_backtest_check_keeps_published_scores(home: Path, tmp_path: Path) -> None:
    before = published(home, "select * from marts.customer_scores order by all")
    runs_before = published(home, "select count(*) from marts.model_runs")
    override = tmp_path / "tight.yml"
    override.write_text(
        "scoring:\n  backtest:\n    max_abs_error_pct: 0.001\n    min_customers_for_bound: 0\n"
    )
    proc = crm(
        "run",
        "--as-of",
        AS_OF.isoformat(),
        home=home,
        check=False,
        env={"CRM_CONFIG": str(override)},
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "scoring_backtest_within_bound" in proc.stdout
    assert "previous scores kept" in proc.stdout
    assert published(home, "select * from marts.customer_scores order by all") == before
    assert published(home, "select count(*) from marts.model_runs") == runs_before
    with duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True) as con:
        work = con.execute("select * from marts.customer_scores order by all").fetchall()
    assert work == before
