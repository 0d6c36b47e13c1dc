"""Incremental nights equal full rebuilds.

A home is built night by night (full build, then an incremental night with new lines,
customer updates and contacts, then a rerun with an earlier as_of). After each incremental
step a copy of the home is rebuilt with ``--full-refresh`` at the same as_of: the marts
must be the same, row for row. The incremental night must also rebuild only a small share
of the line items (otherwise "incremental" would be a full rebuild in disguise).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import crm

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("incremental_e2e")]

END = dt.date(2026, 6, 29)
NIGHT = END + dt.timedelta(days=1)
EARLIER = END - dt.timedelta(days=5)
COMPARED = [
    "fct_transactions",
    "fct_orders",
    "fct_contacts",
    "dim_customers",
    "customer_value",
    "customer_rfm",
    "cohort_retention",
    "channel_summary",
    "customer_next_best_category",
]


def _fingerprints(home: Path) -> dict[str, tuple[int, str]]:
    con = duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)
    try:
        return {
            table: con.execute(
                f"select count(*), md5(coalesce(string_agg(r::varchar, '|' order by r::varchar), ''))"
                f" from (select t as r from marts.{table} t)"
            ).fetchone()
            for table in COMPARED
        }
    finally:
        con.close()


def _staged_customers(home: Path) -> tuple[int, int, str]:
    """Records delivered more than once, and the staged latest versions (not published)."""
    con = duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True)
    try:
        redelivered = con.execute(
            "select count(*) from (select 1 from raw.customers"
            " group by source_system, source_customer_id having count(*) > 1)"
        ).fetchone()[0]
        return (
            redelivered,
            *con.execute(
                "select count(*), md5(coalesce(string_agg(r::varchar, '|' order by r::varchar),"
                " '')) from (select t as r from staging.stg_landing__customers t)"
            ).fetchone(),
        )
    finally:
        con.close()


def _rebuilt_lines(home: Path) -> tuple[int, int]:
    con = duckdb.connect(str(home / "state" / "work.duckdb"), read_only=True)
    try:
        return con.execute(
            "select count(*) filter (where _build_seq = (select max(_build_seq)"
            " from intermediate.int_transactions_enriched)), count(*)"
            " from intermediate.int_transactions_enriched"
        ).fetchone()
    finally:
        con.close()


def _full_rebuild_copy(home: Path, copy: Path, as_of: dt.date) -> None:
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(home, copy)
    crm("run", "--as-of", as_of.isoformat(), "--full-refresh", home=copy)


def test_incremental_nights_equal_full_rebuilds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    crm("generate", "--customers", "150", "--seed", "11", "--end-date", END.isoformat(), home=home)
    crm("run", "--as-of", END.isoformat(), home=home)
    first = _fingerprints(home)

    crm(
        "generate",
        "--next-night",
        NIGHT.isoformat(),
        "--new-lines",
        "0.05",
        "--seed",
        "11",
        home=home,
    )
    crm("run", "--as-of", NIGHT.isoformat(), home=home)
    rebuilt, total = _rebuilt_lines(home)
    night = _fingerprints(home)
    assert night["fct_transactions"][0] > first["fct_transactions"][0]
    assert 0 < rebuilt < 0.2 * total, (rebuilt, total)

    _full_rebuild_copy(home, tmp_path / "full_night", NIGHT)
    assert _fingerprints(tmp_path / "full_night") == night
    # staging ranks the night's customer versions against the stored ones
    staged = _staged_customers(home)
    assert staged[0] > 0, "the night should deliver some known customer records again"
    assert _staged_customers(tmp_path / "full_night") == staged

    # A rerun with an earlier as_of reproduces the past: the facts drop the later rows.
    crm("run", "--as-of", EARLIER.isoformat(), home=home)
    earlier = _fingerprints(home)
    assert earlier["fct_transactions"][0] < first["fct_transactions"][0]
    _full_rebuild_copy(home, tmp_path / "full_earlier", EARLIER)
    assert _fingerprints(tmp_path / "full_earlier") == earlier
