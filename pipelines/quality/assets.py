"""Post-dbt data quality: cross-entity checks, revenue reconciliation, the gate.

* asset ``marts/data_quality_log`` — runs the cross-entity checks on the staging
  views and appends their findings (ingest appended its own earlier in the run);
  the publish asset depends on it like on every marts table;
* check ``no_blocking_findings`` on it — fails (blocking) when any check
  configured as blocking fired in this run, so the night does not publish;
* check ``revenue_reconciles`` on staging/stg_landing__transactions and
  ``revenue_matches_staging`` on marts/fct_transactions (both blocking).
"""

import datetime as dt
import hashlib
import json

import dagster as dg
import duckdb

from pipelines.progress import report
from pipelines.quality.config import QualityConfig
from pipelines.quality.crossentity import reference_findings
from pipelines.quality.faults import pause_point
from pipelines.quality.log import finding, run_findings, write_findings
from pipelines.quality.reconcile import revenue
from pipelines.resources import CrmResource
from pipelines.warehouse import table_exists, work_db

LOG_KEY = dg.AssetKey(["marts", "data_quality_log"])
STAGING_TRANSACTIONS = dg.AssetKey(["staging", "stg_landing__transactions"])
FCT_TRANSACTIONS = dg.AssetKey(["marts", "fct_transactions"])
CHECKED_AFTER = [
    STAGING_TRANSACTIONS,
    dg.AssetKey(["staging", "stg_landing__customers"]),
    dg.AssetKey(["staging", "stg_landing__contacts"]),
    dg.AssetKey(["staging", "stg_landing__products"]),
    dg.AssetKey(["staging", "stg_landing__campaigns"]),
    FCT_TRANSACTIONS,
    dg.AssetKey(["marts", "fct_orders"]),
]


EVALUATIONS_DDL = """
create schema if not exists raw;
create table if not exists raw._quality_evaluations (
    run_id varchar not null, evaluated_at timestamp not null, fingerprint varchar not null
)
"""


def evaluation_fingerprint(con: duckdb.DuckDBPyConnection, cfg: QualityConfig) -> str:
    """What the cross-entity findings depend on: the loaded batches and the quality settings.

    A rerun with the same fingerprint logs nothing new, so rerunning a night leaves
    marts.data_quality_log (and every other mart) unchanged."""
    con.execute(EVALUATIONS_DDL)
    batches = (
        con.execute(
            "select list(batch_id order by batch_id) from raw._batches where status = 'loaded'"
        ).fetchone()
        if table_exists(con, "raw", "_batches")
        else None
    )
    payload = {
        "batches": list(batches[0] or []) if batches else [],
        "severities": cfg.severities,
        "sample": cfg.log_sample_size,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def last_evaluation(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute(
        "select fingerprint from raw._quality_evaluations order by evaluated_at desc limit 1"
    ).fetchone()
    return row[0] if row else None


def _severity(cfg: QualityConfig, check: str) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if cfg.is_blocking(check) else dg.AssetCheckSeverity.WARN


LOG_COLUMNS = {
    "run_id": "Dagster run that logged the finding",
    "as_of": "business date of the run",
    "logged_at": "when it was logged (UTC)",
    "stage": "file | row | batch | reconcile | cross_entity",
    "check_name": "check (crm.yml quality.checks; row checks are quarantine reason codes)",
    "severity": "blocking | warning, as configured when logged",
    "entity": "landing entity",
    "file_name": "landing file (landing/-relative), for file, row and batch checks",
    "batch_id": "raw._batches.batch_id of the file",
    "failed_count": "rows (or files, columns, lines) that failed the check",
    "checked_count": "rows (or columns) the check looked at",
    "sample": "JSON: up to quality.log_sample_size examples, personal data masked",
    "message": "what was wrong, in words",
}


@dg.asset(
    key=LOG_KEY,
    deps=CHECKED_AFTER,
    group_name="quality",
    kinds={"duckdb", "python"},
    metadata={
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, description=text) for name, text in LOG_COLUMNS.items()]
        )
    },
    description=(
        "One row per check that found something in a run: run_id, as_of, stage, check_name, "
        "severity, entity, file, batch, failed_count, checked_count, sample (JSON, PII masked), "
        "message. Ingest writes its findings during the load; this asset adds the "
        "cross-entity checks (unknown customer, product, campaign) after dbt."
    ),
)
def data_quality_log(context: dg.AssetExecutionContext, crm: CrmResource) -> dg.MaterializeResult:
    settings = crm.settings
    cfg = QualityConfig.from_settings(settings)
    with work_db(settings) as con:
        fingerprint = evaluation_fingerprint(con, cfg)
        evaluated = fingerprint == last_evaluation(con)
        findings = [] if evaluated else reference_findings(con, cfg)
        if not evaluated:
            con.execute("begin transaction")
            try:
                write_findings(con, context.run.run_id, crm.as_of(context), findings)
                con.execute(
                    "insert into raw._quality_evaluations values (?, ?, ?)",
                    [context.run.run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), fingerprint],
                )
                pause_point("quality_checks")
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        logged = run_findings(con, context.run.run_id)
    if evaluated:
        report("quality", "no new batches or settings since the last check: nothing new to log")
    for f in findings:
        report("quality", f.describe(), context)
    blocking = [f for f in logged if f["severity"] == "blocking"]
    report(
        "quality",
        f"{len(logged)} finding(s) this run, {len(blocking)} blocking (marts.data_quality_log)",
        context,
    )
    return dg.MaterializeResult(
        metadata={
            "findings": len(logged),
            "blocking": len(blocking),
            "by_check": dg.MetadataValue.json(
                {
                    name: sum(f["failed_count"] for f in logged if f["check_name"] == name)
                    for name in sorted({f["check_name"] for f in logged})
                }
            ),
        }
    )


@dg.asset_check(
    asset=LOG_KEY,
    name="no_blocking_findings",
    blocking=True,
    description="No check configured as blocking fired anywhere in this run.",
)
def no_blocking_findings(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    with work_db(crm.settings) as con:
        logged = run_findings(con, context.run.run_id)
    blocking = [f for f in logged if f["severity"] == "blocking"]
    return dg.AssetCheckResult(
        passed=not blocking,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(logged)} warning(s)"
            if not blocking
            else "BLOCKING: "
            + "; ".join(
                f"{f['check_name']} ({f['entity'] or ''} {f['file_name'] or ''})".replace("( ", "(")
                for f in blocking
            )
        ),
        metadata={"blocking": dg.MetadataValue.json([f["check_name"] for f in blocking])},
    )


def _log_failure(context, crm: CrmResource, cfg: QualityConfig, check: str, message: str) -> None:
    with work_db(crm.settings) as con:
        write_findings(
            con,
            context.run.run_id,
            crm.as_of(context),
            [finding(cfg, check, 1, entity="transactions", message=message)],
        )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            "revenue_reconciles",
            asset=STAGING_TRANSACTIONS,
            blocking=True,
            description="Revenue in stg_landing__transactions = the sum of the valid landing "
            "amounts (ledger sums per batch, minus versions replaced by a later delivery).",
        ),
        dg.AssetCheckSpec(
            "revenue_matches_staging",
            asset=FCT_TRANSACTIONS,
            blocking=True,
            description="fct_transactions and fct_orders carry the staging revenue up to as_of.",
        ),
    ],
    name="revenue_reconciliation",
)
def revenue_reconciliation(context: dg.AssetCheckExecutionContext, crm: CrmResource):
    """Both revenue checks from one pass over raw, staging and the facts (at 10M lines each
    pass costs ~5 s)."""
    cfg = QualityConfig.from_settings(crm.settings)
    with work_db(crm.settings) as con:
        result = revenue(con, crm.as_of(context))
    meta = result.as_metadata()

    ok = result.staging_ok
    if not ok:
        _log_failure(context, crm, cfg, "reconcile_revenue", f"revenue mismatch: {meta}")
    yield dg.AssetCheckResult(
        asset_key=STAGING_TRANSACTIONS,
        check_name="revenue_reconciles",
        passed=ok,
        severity=_severity(cfg, "reconcile_revenue"),
        description=(
            f"staging revenue {meta['staging_total']} = valid landing amounts "
            f"{meta['valid_landing_total']}"
            if ok
            else f"MISMATCH: staging {meta['staging_total']} vs valid landing "
            f"{meta['valid_landing_total']} (ledger {meta['ledger_total']}, raw "
            f"{meta['raw_total']}, {len(result.batch_mismatches)} batch mismatch(es))"
        ),
        metadata={
            k: dg.MetadataValue.json(v) if isinstance(v, list) else v for k, v in meta.items()
        },
    )

    ok = result.marts_ok
    if not ok:
        _log_failure(context, crm, cfg, "reconcile_marts_revenue", f"revenue mismatch: {meta}")
    yield dg.AssetCheckResult(
        asset_key=FCT_TRANSACTIONS,
        check_name="revenue_matches_staging",
        passed=ok,
        severity=_severity(cfg, "reconcile_marts_revenue"),
        description=(
            f"staging up to as_of {meta['staging_until_as_of']} = fct_transactions "
            f"{meta['fct_transactions_total']} = fct_orders {meta['fct_orders_total']}"
        ),
        metadata={k: v for k, v in meta.items() if not isinstance(v, list)},
    )


quality_assets = [data_quality_log]
quality_checks = [no_blocking_findings, revenue_reconciliation]
