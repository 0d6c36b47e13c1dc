"""Ingest assets: raw/<entity> for every landing entity, writing raw.<entity> and
quarantine.<entity>. They are one multi-asset (one Dagster step): the entities load side
by side on their own DuckDB connections, so the second core is used while files are small.

Each entity has four asset checks, evaluated after every load on the batches of the run
(in the same step, as ``check_specs``):

* ``file_rows_reconcile`` — rows in each file = rows loaded + rows quarantined;
* ``files_readable`` — no file of the run was rejected (moved to landing/_rejected/);
* ``gx_suite`` — the entity's GX suite passed on every batch;
* ``no_blocking_findings`` — no blocking check fired (a file held in landing/).

All are declared blocking; the severity crm.yml gives the underlying check decides
whether a failure stops the night (ERROR) or only warns (WARN).
"""

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import duckdb

from pipelines.ingest.loader import BatchResult, load_entities
from pipelines.progress import report
from pipelines.quality.config import QualityConfig
from pipelines.quality.log import finding, run_findings, write_findings
from pipelines.quality.reconcile import file_rows
from pipelines.resources import CrmResource
from pipelines.settings import ENTITIES, Settings
from pipelines.warehouse import table_exists, work_db

INGEST_KEYS: dict[str, dg.AssetKey] = {entity: dg.AssetKey(["raw", entity]) for entity in ENTITIES}


def _spec(entity: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        INGEST_KEYS[entity],
        group_name="ingest",
        kinds={"duckdb", "python"},
        description=(
            f"New landing/{entity}/ files loaded into raw.{entity}; bad rows go to "
            f"quarantine.{entity}, unreadable files to landing/_rejected/{entity}/; every "
            "batch is validated with its GX suite (pipelines/quality/suites)."
        ),
    )


def _materialization(
    context: dg.AssetExecutionContext, entity: str, results: list[BatchResult], total: int
) -> dg.MaterializeResult:
    loaded = sum(r.rows_loaded for r in results)
    quarantined = sum(r.rows_quarantined for r in results)
    by_status = {
        status: [r.file_name for r in results if r.status == status]
        for status in ("rejected", "duplicate", "held")
    }
    for r in results:
        report(
            "ingest",
            f"{r.file_name}: {r.status}, {r.rows_loaded} loaded, "
            f"{r.rows_quarantined} quarantined{_gx_note(r.validation)} {r.message}".rstrip(),
            context,
        )
    report(
        "ingest",
        f"{entity}: {len(results)} new file(s), {loaded} rows loaded, "
        f"{quarantined} quarantined, {len(by_status['rejected'])} rejected, "
        f"{len(by_status['held'])} held",
        context,
    )
    return dg.MaterializeResult(
        asset_key=INGEST_KEYS[entity],
        metadata={
            "files": len(results),
            "rows_loaded": loaded,
            "rows_quarantined": quarantined,
            "files_rejected": dg.MetadataValue.json(by_status["rejected"]),
            "files_duplicate": dg.MetadataValue.json(by_status["duplicate"]),
            "files_held": dg.MetadataValue.json(by_status["held"]),
            "batches": dg.MetadataValue.json([r.to_dict() for r in results]),
            "raw_rows_total": total,
        },
    )


def _severity(cfg: QualityConfig, check: str) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if cfg.is_blocking(check) else dg.AssetCheckSeverity.WARN


# name -> description of the four checks every ingest asset evaluates (all blocking).
CHECK_DESCRIPTIONS: dict[str, str] = {
    "file_rows_reconcile": "Every file of the run: records in the file (re-counted "
    "independently) = rows loaded + rows quarantined, and raw/quarantine hold exactly "
    "those rows.",
    "files_readable": "No landing file of the run was rejected as a whole.",
    "gx_suite": "The Great Expectations suite for {entity} passed on every batch of the run.",
    "no_blocking_findings": "No check configured as blocking fired on this run's files "
    "(such a file is held in landing/ and not loaded).",
}


def _check_specs(entity: str) -> list[dg.AssetCheckSpec]:
    key = dg.AssetKey(["raw", entity])
    return [
        dg.AssetCheckSpec(
            name, asset=key, blocking=True, description=description.format(entity=entity)
        )
        for name, description in CHECK_DESCRIPTIONS.items()
    ]


def _evaluate_checks(
    con: duckdb.DuckDBPyConnection,
    context: dg.AssetExecutionContext,
    crm: CrmResource,
    entity: str,
) -> Iterator[dg.AssetCheckResult]:
    """The four checks on the batches of this run, in CHECK_DESCRIPTIONS order."""
    key = INGEST_KEYS[entity]
    run_id = context.run.run_id
    settings = crm.settings
    cfg = QualityConfig.from_settings(settings)
    checks = (
        _file_rows_reconcile(con, settings, cfg, entity, run_id, crm.as_of(context)),
        _files_readable(con, cfg, entity, run_id),
        _gx_suite(con, entity, run_id),
        _no_blocking_findings(con, entity, run_id),
    )
    for name, result in zip(CHECK_DESCRIPTIONS, checks, strict=True):
        yield dg.AssetCheckResult(asset_key=key, check_name=name, **result)


def _file_rows_reconcile(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    cfg: QualityConfig,
    entity: str,
    run_id: str,
    as_of: dt.date,
) -> dict[str, Any]:
    rows = file_rows(con, settings, entity, run_id)
    bad = [r for r in rows if not r.ok]
    if bad:
        write_findings(
            con,
            run_id,
            as_of,
            [
                finding(
                    cfg,
                    "reconcile_file_rows",
                    len(bad),
                    entity=entity,
                    checked=len(rows),
                    message="; ".join(r.describe() for r in bad)[:2000],
                )
            ],
        )
    return dict(
        passed=not bad,
        severity=_severity(cfg, "reconcile_file_rows"),
        description=(
            f"{len(rows)} file(s) reconciled"
            if not bad
            else "MISMATCH: " + "; ".join(r.describe() for r in bad)
        ),
        metadata={
            "files": dg.MetadataValue.json([r.describe() for r in rows]),
            "mismatches": len(bad),
        },
    )


def _files_readable(
    con: duckdb.DuckDBPyConnection, cfg: QualityConfig, entity: str, run_id: str
) -> dict[str, Any]:
    rejected = (
        con.execute(
            "select file_name, message from raw._batches where run_id = ? and entity = ? "
            "and status = 'rejected' order by batch_id",
            [run_id, entity],
        ).fetchall()
        if table_exists(con, "raw", "_batches")
        else []
    )
    return dict(
        passed=not rejected,
        severity=_severity(cfg, "rejected_file"),
        description=(
            "no rejected files"
            if not rejected
            else f"{len(rejected)} file(s) moved to landing/_rejected/{entity}/"
        ),
        metadata={"rejected": dg.MetadataValue.json({n: m for n, m in rejected})},
    )


def _gx_suite(con: duckdb.DuckDBPyConnection, entity: str, run_id: str) -> dict[str, Any]:
    batches = (
        con.execute(
            "select file_name, validation from raw._batches where run_id = ? "
            "and entity = ? and validation is not null order by batch_id",
            [run_id, entity],
        ).fetchall()
        if table_exists(con, "raw", "_batches")
        else []
    )
    findings = [
        f
        for f in run_findings(con, run_id)
        if f["entity"] == entity and f["check_name"] == "gx_contract"
    ]
    summaries = {name: json.loads(v) for name, v in batches}
    failed = {n: s["failed"] for n, s in summaries.items() if s.get("failed")}
    rows = sum(s["validated_rows"] for s in summaries.values())
    seconds = sum(s["seconds"] for s in summaries.values())
    runs = len({s["shared"].get("run") for s in summaries.values() if s.get("shared")})
    return dict(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR
        if any(f["severity"] == "blocking" for f in findings)
        else dg.AssetCheckSeverity.WARN,
        description=f"{len(summaries)} batch(es), {rows} rows validated in {runs} GX run(s), "
        f"{seconds:.1f}s",
        metadata={
            "batches": dg.MetadataValue.json(summaries),
            "rows_validated": rows,
            "rows_per_second": round(rows / seconds) if seconds else 0,
            "gx_runs": runs,
        },
    )


def _no_blocking_findings(
    con: duckdb.DuckDBPyConnection, entity: str, run_id: str
) -> dict[str, Any]:
    findings = [f for f in run_findings(con, run_id) if f["entity"] == entity]
    blocking = [f for f in findings if f["severity"] == "blocking"]
    return dict(
        passed=not blocking,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(findings)} warning(s), see marts.data_quality_log"
            if not blocking
            else "BLOCKING: "
            + "; ".join(f"{f['check_name']} {f['file_name'] or ''}".strip() for f in blocking)
        ),
        metadata={
            "findings": dg.MetadataValue.json(
                [
                    {k: f[k] for k in ("check_name", "severity", "file_name", "failed_count")}
                    for f in findings
                ]
            )
        },
    )


def _gx_note(gx: dict[str, Any]) -> str:
    """The progress note on a file's GX validation (and the run it shared with others)."""
    if not gx:
        return ""
    note = f", GX {gx['mode']} {gx['validated_rows']} rows in {gx['seconds']}s"
    shared = gx.get("shared") or {}
    if shared.get("files", 1) > 1:
        note += (
            f" (GX run {shared.get('run', 1)}: {shared['files']} files, "
            f"{shared['validated_rows']} rows in {shared['seconds']}s)"
        )
    return note


@dg.multi_asset(
    name="ingest",
    specs=[_spec(entity) for entity in ENTITIES],
    check_specs=[spec for entity in ENTITIES for spec in _check_specs(entity)],
    can_subset=True,
    description="Every landing entity in one step: the entities load side by side on "
    "their own connections (crm.yml ingest.parallel_entities), each file committed on "
    "its own.",
)
def ingest(context: dg.AssetExecutionContext, crm: CrmResource):
    settings = crm.settings
    as_of = crm.as_of(context)
    run_id = context.run.run_id
    entities = [e for e in ENTITIES if INGEST_KEYS[e] in context.selected_asset_keys]
    with work_db(settings) as con:
        for entity, results in load_entities(con, settings, entities, as_of, run_id):
            total = con.execute(f"select count(*) from raw.{entity}").fetchone()
            yield _materialization(context, entity, results, int(total[0]) if total else 0)
        # after every load committed; a failed blocking check fails this step
        for entity in entities:
            yield from _evaluate_checks(con, context, crm, entity)


ingest_assets = [ingest]
# The checks run inside the ingest assets (check_specs); kept for definitions.py.
ingest_checks: list[dg.AssetChecksDefinition] = []
