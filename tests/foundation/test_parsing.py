"""Unit tests of landing-file parsing and normalisation (loader, one file at a time)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ingest.loader import detect_format, load_entity
from pipelines.settings import Settings
from pipelines.warehouse import connect

AS_OF = dt.date(2026, 3, 1)
TX_HEADER = (
    "source_system,transaction_id,line_number,source_customer_id,occurred_at,channel,"
    "product_id,quantity,amount,currency\n"
)


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    settings = Settings.load(tmp_path)
    settings.ensure_dirs()
    return settings


def _write(settings: Settings, entity: str, name: str, text: str) -> Path:
    path = settings.landing_entity_dir(entity) / name
    path.write_text(text, encoding="utf-8")
    return path


def _load(settings: Settings, entity: str) -> tuple[duckdb.DuckDBPyConnection, list]:
    con = connect(settings)
    return con, load_entity(con, settings, entity, AS_OF, "test-run")


def test_timestamps_with_and_without_offset_become_business_local(home: Settings) -> None:
    _write(
        home,
        "transactions",
        "a.csv",
        TX_HEADER
        + "pos,T1,1,C1,2026-01-05 10:00:00,store,P1,1,100,KRW\n"
        + "pos,T2,1,C1,2026-01-05T01:00:00Z,store,P1,1,100,KRW\n"
        + "pos,T3,1,C1,2026-01-05 10:00:00+09:00,store,P1,1,100,KRW\n"
        + "pos,T4,1,C1,2026-01-04T20:00:00-05:00,store,P1,1,100,KRW\n"
        + "pos,T5,1,C1,2026-01-05,store,P1,1,100,KRW\n",
    )
    con, _ = _load(home, "transactions")
    got = dict(con.execute("select transaction_id, occurred_at from raw.transactions").fetchall())
    # Asia/Seoul is UTC+9 without daylight saving.
    assert got == {
        "T1": dt.datetime(2026, 1, 5, 10, 0),
        "T2": dt.datetime(2026, 1, 5, 10, 0),
        "T3": dt.datetime(2026, 1, 5, 10, 0),
        "T4": dt.datetime(2026, 1, 5, 10, 0),
        "T5": dt.datetime(2026, 1, 5, 0, 0),
    }


def test_codes_are_normalised_and_defaults_applied(home: Settings) -> None:
    _write(
        home,
        "transactions",
        "a.csv",
        "source_system,transaction_id,source_customer_id,occurred_at,channel,product_id,"
        "quantity,amount,currency\n"
        " POS ,T1, C1 ,2026-01-05 10:00:00, Store ,P1,2,199.5,krw\n",
    )
    con, results = _load(home, "transactions")
    row = con.execute(
        "select source_system, source_customer_id, channel, currency, line_number, quantity, amount "
        "from raw.transactions"
    ).fetchone()
    assert row == ("pos", "C1", "store", "KRW", 1, Decimal("2.000"), Decimal("199.5000"))
    assert results[0].rows_loaded == 1 and results[0].rows_quarantined == 0


def test_consent_booleans_and_unknown_values(home: Settings) -> None:
    _write(
        home,
        "customers",
        "c.csv",
        "source_system,source_customer_id,updated_at,consent_email,consent_sms\n"
        "web,1,2025-01-01,Yes,0\nweb,2,2025-01-01,,N\nweb,3,2025-01-01,maybe,true\n",
    )
    con, results = _load(home, "customers")
    got = con.execute(
        "select source_customer_id, consent_email, consent_sms from raw.customers order by 1"
    ).fetchall()
    assert got == [("1", True, False), ("2", None, False)]
    bad = con.execute(
        "select _row_number, reason_code, consent_email from quarantine.customers"
    ).fetchall()
    assert bad == [(3, "invalid_boolean", "maybe")]
    assert results[0].rows_in_file == 3


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_load(home: Settings) -> None:
    _write(
        home,
        "transactions",
        "a.csv",
        TX_HEADER
        + "pos,T1,1,C1,2026-01-05 10:00:00,store,P1,1,1000,KRW\n"
        + "pos,T2,1,C1,2026-01-05 10:00:00,store,P1,1,abc,KRW\n"
        + "pos,T3,1,C1,2026-02-30 10:00:00,store,P1,1,10,KRW\n"
        + "pos,T4,1,C1,2026-01-05 10:00:00,rocket,P1,1,10,KRW\n"
        + "pos,T5,1,C1,2026-01-05 10:00:00,store,P1,1,10,USD\n",
    )
    con, results = _load(home, "transactions")
    assert con.execute("select transaction_id from raw.transactions").fetchall() == [("T1",)]
    reasons = con.execute(
        "select _row_number, reason_code, _file_name from quarantine.transactions order by 1"
    ).fetchall()
    assert reasons == [
        (2, "not_numeric", "transactions/a.csv"),
        (3, "invalid_timestamp", "transactions/a.csv"),
        (4, "unknown_channel", "transactions/a.csv"),
        (5, "foreign_currency", "transactions/a.csv"),
    ]
    r = results[0]
    assert r.rows_in_file == r.rows_loaded + r.rows_quarantined == 5


def test_format_is_detected_from_content_not_name(home: Settings) -> None:
    folder = home.landing_entity_dir("products")
    table = pa.table({"product_id": ["P1"], "name": ["Tent"], "unit_cost": [12.5]})
    pq.write_table(table, folder / "export.dat")
    (folder / "more.txt").write_text(
        json.dumps({"product_id": "P2", "category": "garden"}) + "\n", encoding="utf-8"
    )
    assert detect_format(folder / "export.dat") == "parquet"
    assert detect_format(folder / "more.txt") == "jsonl"
    con, results = _load(home, "products")
    assert {r.status for r in results} == {"loaded"}
    got = con.execute(
        "select product_id, category, unit_cost from raw.products order by 1"
    ).fetchall()
    assert got == [("P1", None, Decimal("12.5000")), ("P2", "garden", None)]


def test_same_content_under_another_name_loads_once(home: Settings) -> None:
    body = TX_HEADER + "pos,T1,1,C1,2026-01-05 10:00:00,store,P1,1,1000,KRW\n"
    _write(home, "transactions", "a.csv", body)
    con, first = _load(home, "transactions")
    con.close()
    _write(home, "transactions", "b.csv", body)
    con, second = _load(home, "transactions")
    assert [r.status for r in first] == ["loaded"]
    assert [r.status for r in second] == ["duplicate"]
    assert con.execute("select count(*) from raw.transactions").fetchone() == (1,)
    con.close()
    con, third = _load(home, "transactions")
    assert third == []  # nothing new on the next night


def test_file_missing_a_required_column_is_rejected_with_a_report(home: Settings) -> None:
    _write(home, "transactions", "bad.csv", "source_system,transaction_id\npos,T1\n")
    _write(
        home,
        "transactions",
        "good.csv",
        TX_HEADER + "pos,T1,1,C1,2026-01-05 10:00:00,store,P1,1,1000,KRW\n",
    )
    con, results = _load(home, "transactions")
    by_name = {r.file_name: r for r in results}
    assert by_name["transactions/bad.csv"].status == "rejected"
    assert by_name["transactions/good.csv"].rows_loaded == 1
    assert not (home.landing_entity_dir("transactions") / "bad.csv").exists()
    reports = list((home.rejected_dir / "transactions").glob("*.error.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert report["reason"] == "missing_required_column"
    assert "occurred_at" in report["message"]
