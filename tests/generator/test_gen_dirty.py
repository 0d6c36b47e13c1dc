"""The dirty-row truth matches what is in the files, re-detected independently."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from tests.generator.gen_helpers import END, detect_dirty_sql


def _channels(settings) -> dict[str, list[str]]:
    return settings.section("ingest")["channels"]


def test_redetected_dirty_rows_equal_the_truth(gen_home, gen_con) -> None:
    settings, result = gen_home
    con = gen_con.cursor()
    truth = pl.read_parquet(Path(settings.truth_dir) / "dirty_rows.parquet")
    ch = _channels(settings)
    for entity, view, chans in (
        ("transactions", "tx", ch["transactions"]),
        ("customers", "cu", []),
        ("contacts", "co", ch["contacts"]),
    ):
        rules = detect_dirty_sql(view, entity, END.isoformat(), chans)
        found = con.execute(
            f"SELECT file, line, kind FROM ({rules}) WHERE kind IS NOT NULL ORDER BY file, line"
        ).fetchall()
        expected = (
            truth.filter(pl.col("entity") == entity)
            .sort("file", "line_number")
            .select("file", "line_number", "kind")
            .rows()
        )
        assert found == expected, entity
        assert {k for _, _, k in expected} == set(json.loads(result.summary_path.read_text())[
            "dirty_rows"][entity])  # every kind planted at least once  # fmt: skip
        assert result.dirty_rows[entity] == len(expected)


def test_dirty_rows_only_in_text_files_and_rates(gen_home) -> None:
    settings, result = gen_home
    truth = pl.read_parquet(Path(settings.truth_dir) / "dirty_rows.parquet")
    assert truth["file"].str.ends_with(".csv").all()
    share = result.dirty_rows["transactions"] / result.rows["transactions"]
    assert 0.0005 < share < 0.006


def test_clean_revenue_equals_summary(gen_home, gen_con) -> None:
    settings, result = gen_home
    con = gen_con.cursor()
    ch = _channels(settings)["transactions"]
    # clean = rows our own rules accept; their sum is the planted clean revenue
    total, lines = con.execute(
        f"""SELECT sum(CAST(amount AS BIGINT)), count(*) FROM tx JOIN (
              {detect_dirty_sql("tx", "transactions", END.isoformat(), ch)}
            ) k USING (file, line) WHERE k.kind IS NULL"""
    ).fetchone()
    summary = json.loads(result.summary_path.read_text())
    assert total == summary["revenue"]["total"] == result.revenue
    assert lines == result.clean_rows["transactions"]
