"""Candidate tables (schema ``scoring``) and their promotion into marts.

The nightly fit writes ``scoring.candidate_*``; blocking asset checks inspect them; only
when every blocking check passed does the promotion step copy them into
``marts.customer_scores`` (replaced), ``marts.model_runs`` and ``marts.model_backtest``
(history: the rows of the same as_of are replaced, unless they come from an identical
run) in one transaction. A failed check
therefore leaves the marts exactly as the previous night left them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import polars as pl

from pipelines.warehouse import table_exists

SCHEMA = "scoring"
CANDIDATE_SCORES = f"{SCHEMA}.candidate_customer_scores"
CANDIDATE_RUNS = f"{SCHEMA}.candidate_model_runs"
CANDIDATE_BACKTEST = f"{SCHEMA}.candidate_model_backtest"
CANDIDATE_STATUS = f"{SCHEMA}.candidate_status"

# candidate -> mart, and whether the mart keeps history (rows per as_of)
PROMOTIONS: tuple[tuple[str, str, bool], ...] = (
    (CANDIDATE_SCORES, "marts.customer_scores", False),
    (CANDIDATE_RUNS, "marts.model_runs", True),
    (CANDIDATE_BACKTEST, "marts.model_backtest", True),
)

SCORED = "scored"
INSUFFICIENT_DATA = "insufficient_data"

STATUS_SCHEMA: dict[str, Any] = {
    "dagster_run_id": pl.Utf8,
    "model_run_id": pl.Utf8,
    "as_of": pl.Date,
    "status": pl.Utf8,
    "message": pl.Utf8,
    "customers": pl.Int64,
    "customers_without_purchase": pl.Int64,
}


def frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def write_candidates(
    con: duckdb.DuckDBPyConnection,
    *,
    scores: pl.DataFrame,
    runs: pl.DataFrame,
    backtest: pl.DataFrame,
    status: dict[str, Any],
) -> None:
    """Replace the candidate tables (one transaction)."""
    status_df = frame([status], STATUS_SCHEMA)
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute("begin transaction")
    try:
        for table, df in (
            (CANDIDATE_SCORES, scores),
            (CANDIDATE_RUNS, runs),
            (CANDIDATE_BACKTEST, backtest),
            (CANDIDATE_STATUS, status_df),
        ):
            con.register("_candidate", df.to_arrow())
            con.execute(f"create or replace table {table} as select * from _candidate")
            con.unregister("_candidate")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def read_status(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    if not table_exists(con, SCHEMA, "candidate_status"):
        return None
    cur = con.execute(f"select * from {CANDIDATE_STATUS}")
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    return dict(zip(names, row, strict=True)) if row else None


def promote(con: duckdb.DuckDBPyConnection, as_of: dt.date, *, replace: bool) -> dict[str, int]:
    """Copy the candidates into marts in one transaction; row counts of the marts.

    ``replace=False`` (no new scores tonight) only creates missing marts, empty, so
    readers always find the tables; existing marts keep the previous night's rows.
    """
    con.execute("create schema if not exists marts")
    con.execute("begin transaction")
    try:
        for candidate, mart, history in PROMOTIONS:
            schema, name = mart.split(".")
            exists = table_exists(con, schema, name)
            if not table_exists(con, *candidate.split(".")):
                if replace:
                    raise RuntimeError(f"{candidate} is missing: nothing to promote")
                continue
            if not exists:
                con.execute(f"create table {mart} as select * from {candidate} where false")
            if not replace:
                continue
            if history:
                # Rows of an identical earlier run (same model_run_id: same inputs, config
                # and code) are kept as they are, so a rerun changes nothing -- not even
                # duration_seconds; rows of another run for this as_of are replaced.
                con.execute(
                    f"delete from {mart} where as_of = ? and model_run_id not in "
                    f"(select model_run_id from {candidate})",
                    [as_of],
                )
                con.execute(
                    f"insert into {mart} by name select * from {candidate} c "
                    f"where not exists (select 1 from {mart} m "
                    f"where m.model_run_id = c.model_run_id)"
                )
            else:
                con.execute(
                    f"create or replace table {mart} as "
                    f"select * from {candidate} order by customer_key"
                )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    counts = {}
    for _, mart, _ in PROMOTIONS:
        if table_exists(con, *mart.split(".")):
            row = con.execute(f"select count(*) from {mart}").fetchone()
            counts[mart] = int(row[0]) if row else 0
        else:
            counts[mart] = 0
    return counts
