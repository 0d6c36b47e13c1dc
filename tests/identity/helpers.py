"""Small in-memory build databases with raw customer records, for identity tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import duckdb

from pipelines.identity.config import IdentityConfig
from pipelines.identity.resolve import ResolveResult, resolve_identities
from pipelines.ingest.loader import ensure_tables

_batch = itertools.count(1)


def new_db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema raw; create schema quarantine")
    ensure_tables(con)
    return con


def add_customers(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Insert customer versions as one landing batch (updated_at defaults to the batch time)."""
    batch = next(_batch)
    for i, row in enumerate(rows):
        data = {"updated_at": dt.datetime(2024, 1, 1) + dt.timedelta(days=batch), **row}
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        con.execute(
            f"insert into raw.customers ({cols}, _batch_id, _row_number) values ({marks}, ?, ?)",
            [*data.values(), batch, i + 1],
        )


def add_transaction_refs(con: duckdb.DuckDBPyConnection, refs: list[tuple[str, str]]) -> None:
    batch = next(_batch)
    for i, (system, cid) in enumerate(refs):
        con.execute(
            "insert into raw.transactions (source_system, transaction_id, line_number, "
            "source_customer_id, occurred_at, channel, product_id, quantity, amount, "
            "_batch_id, _row_number) values (?, ?, 1, ?, '2024-01-01', 'store', 'P1', 1, 10, ?, ?)",
            [system, f"T{batch}-{i}", cid, batch, i + 1],
        )


def resolve(
    con: duckdb.DuckDBPyConnection,
    as_of: str = "2024-02-01",
    run_id: str = "run",
    cfg: IdentityConfig | None = None,
    **kwargs: Any,
) -> ResolveResult:
    return resolve_identities(
        con, cfg or IdentityConfig(), dt.date.fromisoformat(as_of), run_id, **kwargs
    )


def keys(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], int]:
    return {
        (s, c): int(k)
        for s, c, k in con.execute(
            "select source_system, source_customer_id, customer_key from identity.resolved_records"
        ).fetchall()
    }


def records(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, Any]]:
    cur = con.execute("select * from identity.resolved_records")
    names = [d[0] for d in cur.description]
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def history(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select old_customer_key, new_customer_key, change_type, as_of, records_moved, "
        "current_customer_key from identity.key_history "
        "order by as_of, change_type, old_customer_key, new_customer_key"
    ).fetchall()
