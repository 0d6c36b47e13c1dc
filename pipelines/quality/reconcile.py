"""Reconciliation: nothing lost, nothing invented, between landing and marts.

* :func:`file_rows` — for every loaded batch: records in the file (re-counted
  with an independent reader: pyarrow for CSV and Parquet, plain Python for JSON
  Lines) = ``rows_in_file`` in the ledger = rows in ``raw.<entity>`` + rows in
  ``quarantine.<entity>`` for that batch.
* :func:`revenue` — the valid landing amounts (the ledger's per-batch sums,
  minus versions a later delivery replaced, computed with ``arg_max``) = revenue
  in ``stg_landing__transactions``; and fct_transactions / fct_orders carry the
  staging revenue up to as_of.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from pipelines.ingest.reader import RejectedFile, detect_format
from pipelines.settings import Settings
from pipelines.warehouse import table_exists


def count_records(path: Path) -> int:
    """Data records in a landing file, counted without DuckDB."""
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt == "jsonl":
        count = 0
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    count += 1
        return count
    import pyarrow.csv as pcsv

    invalid = 0

    def on_invalid(_row) -> str:
        nonlocal invalid
        invalid += 1
        return "skip"

    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(block_size=8 << 20),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(include_columns=[], include_missing_columns=False),
    )
    rows = sum(batch.num_rows for batch in reader)
    return rows + invalid


@dataclass
class FileRows:
    batch_id: int
    entity: str
    file_name: str
    rows_in_file: int
    rows_loaded: int
    rows_quarantined: int
    raw_rows: int
    quarantine_rows: int
    recounted: int | None
    note: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.rows_in_file == self.rows_loaded + self.rows_quarantined
            and self.rows_loaded == self.raw_rows
            and self.rows_quarantined == self.quarantine_rows
            and (self.recounted is None or self.recounted == self.rows_in_file)
        )

    def describe(self) -> str:
        return (
            f"{self.file_name}: file {self.recounted if self.recounted is not None else '?'}, "
            f"ledger {self.rows_in_file} = {self.rows_loaded} loaded + {self.rows_quarantined} "
            f"quarantined; raw has {self.raw_rows}, quarantine has {self.quarantine_rows}"
            + (f" ({self.note})" if self.note else "")
        )


def file_rows(
    con: duckdb.DuckDBPyConnection, settings: Settings, entity: str, run_id: str | None = None
) -> list[FileRows]:
    """Reconcile every batch of ``entity`` loaded by ``run_id`` (all runs when None)."""
    if not table_exists(con, "raw", "_batches"):
        return []
    where = "entity = ? and status = 'loaded'" + (" and run_id = ?" if run_id else "")
    params: list[Any] = [entity] + ([run_id] if run_id else [])
    rows = con.execute(
        f"""
        with b as (select * from raw._batches where {where}),
        r as (select _batch_id, count(*) as n from raw.{entity}
              where _batch_id in (select batch_id from b) group by 1),
        q as (select _batch_id, count(*) as n from quarantine.{entity}
              where _batch_id in (select batch_id from b) group by 1)
        select b.batch_id, b.file_name, b.rows_in_file, b.rows_loaded, b.rows_quarantined,
               coalesce(r.n, 0), coalesce(q.n, 0)
        from b left join r on r._batch_id = b.batch_id left join q on q._batch_id = b.batch_id
        order by b.batch_id
        """,
        params,
    ).fetchall()
    out = []
    for batch_id, name, in_file, loaded, quarantined, raw_n, q_n in rows:
        path = settings.landing_dir / name
        recounted, note = None, ""
        if path.exists():
            try:
                recounted = count_records(path)
            except (RejectedFile, OSError, ValueError) as exc:
                note = f"cannot re-count the file: {exc}"
        else:
            note = "file no longer in landing/, not re-counted"
        out.append(
            FileRows(
                int(batch_id),
                entity,
                name,
                int(in_file or 0),
                int(loaded or 0),
                int(quarantined or 0),
                int(raw_n),
                int(q_n),
                recounted,
                note,
            )
        )
    return out


@dataclass
class Revenue:
    ledger_total: Decimal
    raw_total: Decimal
    latest_total: Decimal  # the latest version of every line (arg_max over deliveries)
    staging_total: Decimal | None
    staging_until_as_of: Decimal | None = None
    fct_transactions_total: Decimal | None = None
    fct_orders_total: Decimal | None = None
    staging_lines: int | None = None
    distinct_keys: int = 0
    batch_mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def valid_landing_total(self) -> Decimal:
        """Ledger sums minus the amounts of versions replaced by a later delivery."""
        return self.ledger_total - (self.raw_total - self.latest_total)

    @property
    def staging_ok(self) -> bool:
        return (
            not self.batch_mismatches
            and self.ledger_total == self.raw_total
            and self.staging_total == self.valid_landing_total
            and self.staging_lines == self.distinct_keys
        )

    @property
    def marts_ok(self) -> bool:
        return (
            self.fct_transactions_total == self.staging_until_as_of
            and self.fct_orders_total == self.fct_transactions_total
        )

    def as_metadata(self) -> dict[str, Any]:
        def f(v: Decimal | None) -> float | None:
            return None if v is None else float(v)

        return {
            "ledger_total": f(self.ledger_total),
            "raw_total": f(self.raw_total),
            "superseded_amount": f(self.raw_total - self.latest_total),
            "valid_landing_total": f(self.valid_landing_total),
            "staging_total": f(self.staging_total),
            "staging_lines": self.staging_lines,
            "distinct_keys": self.distinct_keys,
            "staging_until_as_of": f(self.staging_until_as_of),
            "fct_transactions_total": f(self.fct_transactions_total),
            "fct_orders_total": f(self.fct_orders_total),
            "batch_mismatches": self.batch_mismatches[:10],
        }


def _dec(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def revenue(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> Revenue:
    ledger_total = _dec(
        con.execute(
            "select sum(amount_loaded) from raw._batches "
            "where entity = 'transactions' and status = 'loaded'"
        ).fetchone()[0]
    )
    raw_total, latest_total, keys = con.execute(
        """
        with latest as (
            select arg_max(amount, _batch_id * 10000000000 + _row_number) as amount
            from raw.transactions
            group by source_system, transaction_id, line_number
        )
        select (select sum(amount) from raw.transactions), sum(amount), count(*) from latest
        """
    ).fetchone()
    mismatches = [
        {"batch_id": int(b), "ledger": float(led or 0), "raw": float(r or 0)}
        for b, led, r in con.execute(
            """
            select b.batch_id, b.amount_loaded, r.amount
            from raw._batches b
            full join (select _batch_id, sum(amount) as amount from raw.transactions group by 1) r
                on r._batch_id = b.batch_id
            where coalesce(b.entity, 'transactions') = 'transactions'
              and coalesce(b.status, 'loaded') = 'loaded'
              and coalesce(b.amount_loaded, 0) is distinct from coalesce(r.amount, 0)
            order by 1
            """
        ).fetchall()
    ]
    result = Revenue(
        ledger_total=ledger_total,
        raw_total=_dec(raw_total),
        latest_total=_dec(latest_total),
        staging_total=None,
        distinct_keys=int(keys or 0),
        batch_mismatches=mismatches,
    )
    if table_exists(con, "staging", "stg_landing__transactions"):
        total, lines = con.execute(
            "select sum(amount), count(*) from staging.stg_landing__transactions"
        ).fetchone()
        result.staging_total, result.staging_lines = _dec(total), int(lines)
        if as_of is not None:
            result.staging_until_as_of = _dec(
                con.execute(
                    "select sum(amount) from staging.stg_landing__transactions "
                    "where business_date <= ?",
                    [as_of],
                ).fetchone()[0]
            )
    if table_exists(con, "marts", "fct_transactions"):
        result.fct_transactions_total = _dec(
            con.execute("select sum(net_amount) from marts.fct_transactions").fetchone()[0]
        )
    if table_exists(con, "marts", "fct_orders"):
        result.fct_orders_total = _dec(
            con.execute("select sum(net_amount) from marts.fct_orders").fetchone()[0]
        )
    return result
