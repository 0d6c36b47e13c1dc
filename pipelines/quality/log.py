"""``marts.data_quality_log``: one row per check that found something in a run.

Ingest writes its findings in the same transaction as the batch they describe;
the post-dbt checks write theirs after the build. Samples never carry personal
data: values of PII columns are masked before they reach the log.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.quality.config import CHECKS, QualityConfig

LOG_TABLE = "marts.data_quality_log"

LOG_DDL = f"""
create schema if not exists marts;
create table if not exists {LOG_TABLE} (
    run_id varchar not null,
    as_of date not null,
    logged_at timestamp not null,
    stage varchar not null,
    check_name varchar not null,
    severity varchar not null,
    entity varchar,
    file_name varchar,
    batch_id bigint,
    failed_count bigint not null,
    checked_count bigint,
    sample varchar,
    message varchar
)
"""

MASK = "***"


@dataclass
class Finding:
    """A check that failed (count > 0) for one entity, file or the whole warehouse."""

    check: str
    severity: str
    count: int
    entity: str | None = None
    checked: int | None = None
    message: str = ""
    sample: list[dict[str, Any]] = field(default_factory=list)
    file_name: str | None = None
    batch_id: int | None = None

    @property
    def stage(self) -> str:
        return CHECKS.get(self.check, ("unknown", ""))[0]

    @property
    def blocking(self) -> bool:
        return self.severity == "blocking"

    def describe(self) -> str:
        where = self.file_name or self.entity or "warehouse"
        return f"{self.check} [{self.severity}] {where}: {self.count} — {self.message}".rstrip(" —")


def finding(
    cfg: QualityConfig, check: str, count: int, **kwargs: Any
) -> Finding:  # small factory so every finding gets its configured severity
    return Finding(check=check, severity=cfg.severity(check), count=int(count), **kwargs)


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LOG_DDL)


def write_findings(
    con: duckdb.DuckDBPyConnection, run_id: str, as_of: dt.date, findings: list[Finding]
) -> None:
    """Append findings (the caller owns the transaction)."""
    if not findings:
        return
    ensure_log(con)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.executemany(
        f"insert into {LOG_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                run_id,
                as_of,
                now,
                f.stage,
                f.check,
                f.severity,
                f.entity,
                f.file_name,
                f.batch_id,
                f.count,
                f.checked,
                json.dumps(f.sample, default=str, ensure_ascii=False) if f.sample else None,
                f.message,
            ]
            for f in findings
        ],
    )


def run_findings(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """Findings logged by one run (for the run summary and asset checks)."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'data_quality_log'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    cursor = con.execute(
        f"select stage, check_name, severity, entity, file_name, batch_id, failed_count, "
        f"checked_count, message from {LOG_TABLE} where run_id = ? "
        "order by logged_at, stage, check_name, entity, file_name",
        [run_id],
    )
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def mask_row(row: dict[str, Any], pii: set[str]) -> dict[str, Any]:
    """A sample row with PII values replaced (empty values stay empty)."""
    return {k: (MASK if k in pii and v not in (None, "") else v) for k, v in row.items()}
