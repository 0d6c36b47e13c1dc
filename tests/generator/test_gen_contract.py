"""Landing contract v1: columns, formats, value domains."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.generator.gen_helpers import COLUMNS

ENTITIES = ("customers", "transactions", "contacts", "campaigns", "products")


def _columns(path: Path) -> list[str]:
    if path.suffix == ".csv":
        return path.read_text(encoding="utf-8").splitlines()[0].split(",")
    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    return list(json.loads(path.read_text(encoding="utf-8").splitlines()[0]).keys())


@pytest.mark.parametrize("entity", ENTITIES)
def test_every_file_has_exactly_the_contract_columns(gen_landing: Path, entity: str) -> None:
    files = sorted((gen_landing / entity).glob("*.*"))
    assert files
    for f in files:
        assert _columns(f) == list(COLUMNS[entity]), f.name


def test_formats_are_mixed_but_mostly_csv(gen_home) -> None:
    settings, result = gen_home
    summary = json.loads(Path(result.summary_path).read_text())
    fmt = summary["counts"]["transactions"]["files_by_format"]
    assert set(fmt) == {"csv", "parquet", "jsonl"}
    assert fmt["csv"] > fmt["parquet"] + fmt["jsonl"]
    assert set(summary["counts"]["customers"]["files_by_format"]) == {"csv", "parquet", "jsonl"}
    # parquet columns are typed: timestamps and integers, not text
    web = next((Path(settings.landing_dir) / "transactions").glob("web_*.parquet"))
    schema = pq.read_schema(web)
    assert str(schema.field("occurred_at").type).startswith("timestamp")
    assert str(schema.field("amount").type) == "int64"


def test_values_and_timestamp_styles(gen_con) -> None:
    con = gen_con.cursor()
    clean = "FROM tx_clean WHERE true"
    # channel follows the source system; currency KRW or empty (call centre)
    rows = con.execute(f"SELECT DISTINCT source_system, channel {clean} ORDER BY 1").fetchall()
    assert rows == [("app", "app"), ("callcentre", "call_centre"), ("pos", "store"),
                    ("web", "web")]  # fmt: skip
    cur = con.execute(f"SELECT DISTINCT source_system, currency {clean} ORDER BY 1").fetchall()
    assert cur == [("app", "KRW"), ("callcentre", None), ("pos", "KRW"), ("web", "KRW")]
    # every clean timestamp parses; text styles per system
    bad = con.execute(f"SELECT count(*) {clean} AND TRY_CAST(occurred_at AS TIMESTAMPTZ) IS NULL")
    assert bad.fetchone()[0] == 0
    styles = dict(
        con.execute(
            f"""SELECT source_system || ':' || fmt,
                  CASE WHEN occurred_at LIKE '%+09:00' THEN 'offset'
                       WHEN occurred_at LIKE '%Z' THEN 'utc' ELSE 'naive' END
                {clean} GROUP BY ALL"""
        ).fetchall()
    )
    assert styles["pos:csv"] == "naive" and styles["callcentre:csv"] == "naive"
    assert styles["web:csv"] == "offset" and styles["app:csv"] == "utc"
    assert styles["app:jsonl"] == "utc" and styles["web:parquet"] == "naive"
    # consent encodings are all in the contract's accepted set
    vals = {r[0] for r in con.execute(
        "SELECT DISTINCT v FROM (SELECT unnest([consent_email, consent_sms, consent_phone, "
        "consent_mail]) v FROM cu)").fetchall()}  # fmt: skip
    assert vals <= {None, "true", "false", "Y", "N", "1", "0", "yes", "no"}
    assert len(vals) >= 8
    # amounts are integers KRW, returns negative
    n_neg = con.execute(f"SELECT count(*) {clean} AND CAST(amount AS BIGINT) < 0").fetchone()[0]
    n_all = con.execute(f"SELECT count(*) {clean}").fetchone()[0]
    assert 0.02 < n_neg / n_all < 0.05


def test_reference_entities(gen_landing: Path) -> None:
    con = duckdb.connect()
    p = gen_landing / "products" / "products.csv"
    n, ids, cats, depts = con.execute(
        f"SELECT count(*), count(DISTINCT product_id), count(DISTINCT category), "
        f"count(DISTINCT department) FROM read_csv('{p}', all_varchar=true)"
    ).fetchone()
    assert n == ids == 200 and cats >= 15 and depts >= 6
    c = gen_landing / "campaigns" / "campaigns.csv"
    rows = con.execute(
        f"SELECT campaign_type, channel, cost_per_contact FROM read_csv('{c}', all_varchar=true)"
    ).fetchall()
    assert len(rows) == 20
    assert {r[0] for r in rows} == {"retention", "winback", "crosssell", "newsletter"}
    assert {r[1] for r in rows} <= {"email", "sms", "direct_mail", "push"}
