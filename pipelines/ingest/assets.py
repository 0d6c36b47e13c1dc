"""Ingest assets: one per landing entity, writing raw.<entity> and quarantine.<entity>.

Each has four asset checks, evaluated after every load on the batches of the run:

* ``file_rows_reconcile`` — rows in each file = rows loaded + rows quarantined;
* ``files_readable`` — no file of the run was rejected (moved to landing/_rejected/);
* ``gx_suite`` — the entity's GX suite passed on every batch;
* ``no_blocking_findings`` — no blocking check fired (a file held in landing/).

All are declared blocking; the severity crm.yml gives the underlying check decides
whether a failure stops the night (ERROR) or only warns (WARN).
"""

import json

import dagster as dg

from pipelines.ingest.loader import load_entity
from pipelines.progress import report
from pipelines.quality.config import QualityConfig
from pipelines.quality.log import finding, run_findings, write_findings
from pipelines.quality.reconcile import file_rows
from pipelines.resources import CrmResource
from pipelines.settings import ENTITIES
from pipelines.warehouse import table_exists, work_db


def _ingest_asset(entity: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=entity,
        key_prefix=["raw"],
        group_name="ingest",
        kinds={"duckdb", "python"},
        description=(
            f"New landing/{entity}/ files loaded into raw.{entity}; bad rows go to "
            f"quarantine.{entity}, unreadable files to landing/_rejected/{entity}/; every "
            "batch is validated with its GX suite (pipelines/quality/suites)."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, crm: CrmResource) -> dg.MaterializeResult:
        settings = crm.settings
        as_of = crm.as_of(context)
        with work_db(settings) as con:
            results = load_entity(con, settings, entity, as_of, context.run.run_id)
            total = con.execute(f"select count(*) from raw.{entity}").fetchone()
        loaded = sum(r.rows_loaded for r in results)
        quarantined = sum(r.rows_quarantined for r in results)
        by_status = {
            status: [r.file_name for r in results if r.status == status]
            for status in ("rejected", "duplicate", "held")
        }
        for r in results:
            gx = r.validation
            gx_note = (
                f", GX {gx['mode']} {gx['validated_rows']} rows in {gx['seconds']}s" if gx else ""
            )
            report(
                "ingest",
                f"{r.file_name}: {r.status}, {r.rows_loaded} loaded, "
                f"{r.rows_quarantined} quarantined{gx_note} {r.message}".rstrip(),
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
            metadata={
                "files": len(results),
                "rows_loaded": loaded,
                "rows_quarantined": quarantined,
                "files_rejected": dg.MetadataValue.json(by_status["rejected"]),
                "files_duplicate": dg.MetadataValue.json(by_status["duplicate"]),
                "files_held": dg.MetadataValue.json(by_status["held"]),
                "batches": dg.MetadataValue.json([r.to_dict() for r in results]),
                "raw_rows_total": int(total[0]) if total else 0,
            }
        )

    return _asset


def _severity(cfg: QualityConfig, check: str) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if cfg.is_blocking(check) else dg.AssetCheckSeverity.WARN


def _ingest_checks(entity: str) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(["raw", entity])

    @dg.asset_check(
        asset=key,
        name="file_rows_reconcile",
        blocking=True,
        description="Every file of the run: records in the file (re-counted independently) = "
        "rows loaded + rows quarantined, and raw/quarantine hold exactly those rows.",
    )
    def file_rows_reconcile(
        context: dg.AssetCheckExecutionContext, crm: CrmResource
    ) -> dg.AssetCheckResult:
        settings = crm.settings
        cfg = QualityConfig.from_settings(settings)
        with work_db(settings) as con:
            rows = file_rows(con, settings, entity, context.run.run_id)
            bad = [r for r in rows if not r.ok]
            if bad:
                write_findings(
                    con,
                    context.run.run_id,
                    crm.as_of(context),
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
        return dg.AssetCheckResult(
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

    @dg.asset_check(
        asset=key,
        name="files_readable",
        blocking=True,
        description="No landing file of the run was rejected as a whole.",
    )
    def files_readable(
        context: dg.AssetCheckExecutionContext, crm: CrmResource
    ) -> dg.AssetCheckResult:
        settings = crm.settings
        cfg = QualityConfig.from_settings(settings)
        with work_db(settings) as con:
            rejected = (
                con.execute(
                    "select file_name, message from raw._batches where run_id = ? and entity = ? "
                    "and status = 'rejected' order by batch_id",
                    [context.run.run_id, entity],
                ).fetchall()
                if table_exists(con, "raw", "_batches")
                else []
            )
        return dg.AssetCheckResult(
            passed=not rejected,
            severity=_severity(cfg, "rejected_file"),
            description=(
                "no rejected files"
                if not rejected
                else f"{len(rejected)} file(s) moved to landing/_rejected/{entity}/"
            ),
            metadata={"rejected": dg.MetadataValue.json({n: m for n, m in rejected})},
        )

    @dg.asset_check(
        asset=key,
        name="gx_suite",
        blocking=True,
        description=f"The Great Expectations suite for {entity} passed on every batch of the run.",
    )
    def gx_suite(context: dg.AssetCheckExecutionContext, crm: CrmResource) -> dg.AssetCheckResult:
        settings = crm.settings
        with work_db(settings) as con:
            batches = (
                con.execute(
                    "select file_name, validation from raw._batches where run_id = ? "
                    "and entity = ? and validation is not null order by batch_id",
                    [context.run.run_id, entity],
                ).fetchall()
                if table_exists(con, "raw", "_batches")
                else []
            )
            findings = [
                f
                for f in run_findings(con, context.run.run_id)
                if f["entity"] == entity and f["check_name"] == "gx_contract"
            ]
        summaries = {name: json.loads(v) for name, v in batches}
        failed = {n: s["failed"] for n, s in summaries.items() if s.get("failed")}
        rows = sum(s["validated_rows"] for s in summaries.values())
        seconds = sum(s["seconds"] for s in summaries.values())
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR
            if any(f["severity"] == "blocking" for f in findings)
            else dg.AssetCheckSeverity.WARN,
            description=f"{len(summaries)} batch(es), {rows} rows validated in {seconds:.1f}s",
            metadata={
                "batches": dg.MetadataValue.json(summaries),
                "rows_validated": rows,
                "rows_per_second": round(rows / seconds) if seconds else 0,
            },
        )

    @dg.asset_check(
        asset=key,
        name="no_blocking_findings",
        blocking=True,
        description="No check configured as blocking fired on this run's files "
        "(such a file is held in landing/ and not loaded).",
    )
    def no_blocking_findings(
        context: dg.AssetCheckExecutionContext, crm: CrmResource
    ) -> dg.AssetCheckResult:
        with work_db(crm.settings) as con:
            findings = [f for f in run_findings(con, context.run.run_id) if f["entity"] == entity]
        blocking = [f for f in findings if f["severity"] == "blocking"]
        return dg.AssetCheckResult(
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

    return [file_rows_reconcile, files_readable, gx_suite, no_blocking_findings]


ingest_assets = [_ingest_asset(entity) for entity in ENTITIES]
ingest_checks = [check for entity in ENTITIES for check in _ingest_checks(entity)]
