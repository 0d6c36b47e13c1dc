"""Entities loaded side by side (crm.yml ingest.parallel_entities) give the same warehouse
as entities loaded one after another: rows, record numbers, quarantine, ledger, findings."""

from __future__ import annotations

import shutil

import duckdb

from pipelines.generator import generate
from pipelines.ingest.loader import load_entities
from pipelines.settings import ENTITIES, Settings
from pipelines.warehouse import connect
from tests.quality.helpers import AS_OF, make_home

LEDGER = (
    "select entity, file_name, status, rows_in_file, rows_loaded, rows_quarantined, "
    "amount_loaded from raw._batches order by entity, batch_id"
)


def _load(settings: Settings) -> list[str]:
    con = connect(settings)
    try:
        return [entity for entity, _ in load_entities(con, settings, list(ENTITIES), AS_OF, "r1")]
    finally:
        con.close()


def _contents(settings: Settings) -> dict[str, list[tuple]]:
    """Every raw and quarantine table without batch ids (they interleave across entities)."""
    con = duckdb.connect(str(settings.work_db_path), read_only=True)
    try:
        out = {"ledger": con.execute(LEDGER).fetchall()}
        for schema in ("raw", "quarantine"):
            for entity in ENTITIES:
                cols = [
                    r[0]
                    for r in con.execute(
                        "select column_name from information_schema.columns "
                        "where table_schema = ? and table_name = ? order by ordinal_position",
                        [schema, entity],
                    ).fetchall()
                    if r[0] != "_batch_id"
                ]
                sql = f"select {', '.join(cols)} from {schema}.{entity} order by all"
                out[f"{schema}.{entity}"] = con.execute(sql).fetchall()
        out["findings"] = con.execute(
            "select entity, file_name, check_name, severity, failed_count, sample from marts.data_quality_log "
            "order by all"
        ).fetchall()
        return out
    finally:
        con.close()


def test_entities_loaded_side_by_side_equal_one_after_another(tmp_path) -> None:
    parallel = make_home(tmp_path / "parallel", {"ingest": {"parallel_entities": 2}})
    serial = make_home(tmp_path / "serial", {"ingest": {"parallel_entities": 1}})
    generate(parallel, customers=150, seed=7)
    shutil.rmtree(serial.landing_dir)
    shutil.copytree(parallel.landing_dir, serial.landing_dir)

    assert sorted(_load(parallel)) == sorted(ENTITIES)  # side by side, yielded as they finish
    assert _load(serial) == list(ENTITIES)  # one after another, in order

    got, want = _contents(parallel), _contents(serial)
    assert got["ledger"] and got["raw.transactions"] and got["quarantine.transactions"]
    assert got == want

    con = duckdb.connect(str(parallel.work_db_path), read_only=True)
    try:
        ids = con.execute(
            "select entity, list(batch_id order by file_name) from raw._batches group by 1"
        ).fetchall()
        total, distinct = con.execute(
            "select count(*), count(distinct batch_id) from raw._batches"
        ).fetchone()
    finally:
        con.close()
    assert total == distinct  # ledger entries commit one at a time: no id given twice
    for _, batch_ids in ids:
        assert batch_ids == sorted(batch_ids)  # within an entity, ids follow the file order


def test_the_ingest_checkpoints_rarely_while_it_loads_and_once_at_the_end(tmp_path) -> None:
    """crm.yml ingest.checkpoint_threshold holds while files load (files commit one by one,
    and DuckDB's 16MB default checkpointed every few files); the end leaves no WAL behind
    for the steps after it (dbt opens the database in its own process) and the default back."""
    home = make_home(tmp_path / "home", {"ingest": {"checkpoint_threshold": "1GB"}})
    generate(home, customers=40, seed=3)
    con = connect(home)
    try:
        setting = "select current_setting('checkpoint_threshold')"
        before = con.execute(setting).fetchone()[0]
        during = {
            con.execute(setting).fetchone()[0]
            for _ in load_entities(con, home, list(ENTITIES), AS_OF, "r1")
        }
        after = con.execute(setting).fetchone()[0]
        wal = home.work_db_path.with_name(home.work_db_path.name + ".wal")
        wal_bytes = wal.stat().st_size if wal.exists() else 0
        loaded = con.execute("select count(*) from raw.transactions").fetchone()[0]
    finally:
        con.close()
    assert during == {"953.6 MiB"} and before == after == "16.0 MiB"
    assert loaded > 0 and wal_bytes == 0
