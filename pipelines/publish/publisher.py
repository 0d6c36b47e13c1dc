"""Build-then-publish: copy the analyst-facing schemas into a new DuckDB file and
rename it over warehouse/crm.duckdb in one atomic step.

Readers open the published file read-only. They never see a half-built warehouse
and never hit a lock: the job never opens the published path for writing, and a
reader that holds the old file open keeps reading the old snapshot (POSIX rename).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.quality.faults import pause_point
from pipelines.settings import Settings
from pipelines.warehouse import connect


@dataclass(frozen=True)
class PublishedTable:
    schema: str
    name: str
    rows: int


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def published_tables(con: duckdb.DuckDBPyConnection, schemas: list[str]) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in schemas)
    return [
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_catalog = 'work' and table_schema in ({placeholders}) "
            "and table_type = 'BASE TABLE' order by 1, 2",
            schemas,
        ).fetchall()
    ]


def recover_interrupted_publish(settings: Settings) -> None:
    """Undo what a killed publish left behind: a half-built warehouse file, or an
    exports/ folder renamed away just before the new one took its place."""
    target = settings.warehouse_path
    building = target.with_name(f".{target.name}.building")
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)
    exports = settings.exports_dir
    previous = exports.with_name(".exports.previous")
    empty = exports.is_dir() and not any(exports.iterdir())
    if previous.exists() and (not exports.exists() or empty):
        if empty:
            exports.rmdir()
        os.replace(previous, exports)
    shutil.rmtree(exports.with_name(".exports.building"), ignore_errors=True)


def publish(settings: Settings, run_id: str, as_of: dt.date) -> list[PublishedTable]:
    """Copy the published schemas of the build database into warehouse/crm.duckdb."""
    recover_interrupted_publish(settings)
    schemas = list(settings.section("exports").get("published_schemas", ["marts"]))
    target = settings.warehouse_path
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{target.name}.building")
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)

    sort_keys: dict[str, list[str]] = settings.section("exports").get("sort_keys") or {}
    con = connect(settings, building)
    # Tables are stored sorted (by their key, else by all columns), so readers and the
    # Parquet exports see the same row order for the same inputs and as_of.
    con.execute("set preserve_insertion_order = true")
    tables: list[PublishedTable] = []
    try:
        con.execute(f"attach '{settings.work_db_path}' as work (read_only)")
        db = con.execute("select current_database()").fetchone()[0]
        for schema, name in published_tables(con, schemas):
            keys = sort_keys.get(name)
            order = ", ".join(f'"{k}"' for k in keys) if keys else "all"
            con.execute(f'create schema if not exists "{db}".{schema}')
            con.execute(
                f'create table "{db}".{schema}."{name}" as '
                f'select * from work.{schema}."{name}" order by {order}'
            )
            count = con.execute(f'select count(*) from "{db}".{schema}."{name}"').fetchone()
            tables.append(PublishedTable(schema, name, int(count[0]) if count else 0))
        con.execute(f'create schema if not exists "{db}".meta')
        con.execute(
            f'create table "{db}".meta.publication as '
            " select ?::varchar as run_id, ?::date as as_of, "
            "?::timestamp as published_at, ?::varchar as tables",
            [
                run_id,
                as_of,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                json.dumps([f"{t.schema}.{t.name}" for t in tables]),
            ],
        )
        con.execute("detach work")
        con.execute("checkpoint")
    finally:
        con.close()
    _fsync(building)
    pause_point("publish_swap")
    os.replace(building, target)
    _fsync(target.parent)
    return tables


def export_parquet(settings: Settings, tables: list[PublishedTable]) -> Path:
    """Write every published table to exports/<schema>/<table>.parquet, swapped in atomically."""
    exports = settings.exports_dir
    exports.parent.mkdir(parents=True, exist_ok=True)
    staging = exports.with_name(".exports.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    con = connect(settings, settings.warehouse_path, read_only=True)
    con.execute("set preserve_insertion_order = true")
    try:
        for t in tables:
            folder = staging / t.schema
            folder.mkdir(exist_ok=True)
            out = folder / f"{t.name}.parquet"
            # publish() stored the table sorted; keeping insertion order makes the files
            # reproducible for the same inputs and as_of without sorting again.
            con.execute(
                f"copy (select * from {t.schema}.\"{t.name}\") to '{out}' "
                "(format parquet, compression zstd)"
            )
    finally:
        con.close()
    previous = exports.with_name(".exports.previous")
    if exports.exists():
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(exports, previous)
    pause_point("publish_exports")
    os.replace(staging, exports)
    shutil.rmtree(previous, ignore_errors=True)
    return exports
