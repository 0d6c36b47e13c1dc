"""DuckDB connections for the job's build database and the published warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from pipelines.settings import Settings


def connect(
    settings: Settings, path: Path | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database with the configured memory limit and threads.

    Defaults to the job's build database; the published warehouse is opened
    read-only by readers (``crm sql``) and never written in place.
    """
    target = path or settings.work_db_path
    if not read_only:
        target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target), read_only=read_only)
    _configure(con, settings, {})
    return con


def scratch(settings: Settings, **overrides: Any) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB of its own, set up like the build database (time zone, temp
    directory, limits; ``overrides`` win), for work that needs none of its tables and must
    not wait for its connections, e.g. reading landing files on another thread."""
    con = duckdb.connect(":memory:")
    _configure(con, settings, overrides)
    return con


def _configure(con: duckdb.DuckDBPyConnection, settings: Settings, overrides: dict) -> None:
    options = {**settings.duckdb_settings, **overrides}
    temp_dir = Path(options.pop("temp_directory"))
    temp_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = '{temp_dir}'")
    for name, value in options.items():
        literal = f"'{value}'" if isinstance(value, str) else str(value).lower()
        con.execute(f"SET {name} = {literal}")
    con.execute(f"SET TimeZone = '{settings.business_time_zone}'")


def cursor(con: duckdb.DuckDBPyConnection, settings: Settings) -> duckdb.DuckDBPyConnection:
    """A second connection to ``con``'s database, for another thread: the same database,
    limits and attached catalogs; its own transactions and temp tables. The time zone is a
    per-connection setting, so it is set again."""
    cur = con.cursor()
    cur.execute(f"SET TimeZone = '{settings.business_time_zone}'")
    return cur


@contextmanager
def work_db(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The build database, closed on exit so the next writer (dbt) can open it."""
    con = connect(settings)
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])
