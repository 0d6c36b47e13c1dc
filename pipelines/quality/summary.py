"""Data-quality lines of the `crm run` summary."""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.quality.log import run_findings
from pipelines.warehouse import table_exists


def quality_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    """``extra_lines`` for the console plus the same facts as data for the JSON summary."""
    lines: list[str] = []
    out: dict[str, Any] = {}
    if table_exists(con, "raw", "_batches"):
        files = con.execute(
            "select status, entity, file_name, message from raw._batches where run_id = ? "
            "order by batch_id",
            [run_id],
        ).fetchall()
        counts: dict[str, int] = {}
        for status, *_ in files:
            counts[status] = counts.get(status, 0) + 1
        if files:
            lines.append(
                "files:             " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            )
        for status, _entity, name, message in files:
            if status in ("rejected", "held"):
                lines.append(f"  {status}: {name} — {message}")
        out["files_by_status"] = counts
        out["files_held"] = counts.get("held", 0)
    findings = run_findings(con, run_id)
    if findings:
        reasons: dict[str, int] = {}
        for f in findings:
            if f["stage"] == "row":
                reasons[f["check_name"]] = reasons.get(f["check_name"], 0) + int(f["failed_count"])
        if reasons:
            lines.append(
                "quarantine by reason: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
            )
        warnings = [f for f in findings if f["severity"] == "warning"]
        blocking = [f for f in findings if f["severity"] == "blocking"]
        lines.append(
            f"quality findings:  {len(warnings)} warning(s), {len(blocking)} blocking "
            "(marts.data_quality_log)"
        )
        for f in blocking:
            where = f["file_name"] or f["entity"] or "warehouse"
            lines.append(f"  BLOCKING {f['check_name']} {where}: {f['message']}"[:300])
        out["quarantine_by_reason"] = reasons
        out["warnings"] = len(warnings)
        out["blocking"] = [
            {k: f[k] for k in ("check_name", "entity", "file_name", "message")} for f in blocking
        ]
    out["extra_lines"] = lines
    return out
