"""Post-dbt data quality: cross-entity checks, revenue reconciliation, the gate.

* asset ``marts/data_quality_log`` — runs the cross-entity checks on the staging
  views and appends their findings (ingest appended its own earlier in the run);
  the publish asset depends on it like on every marts table;
* check ``no_blocking_findings`` on it — fails (blocking) when any check
  configured as blocking fired in this run, so the night does not publish;
* check ``revenue_reconciles`` on staging/stg_landing__transactions and
  ``revenue_matches_staging`` on marts/fct_transactions (both blocking).
"""

import dagster as dg

from pipelines.progress import report
from pipelines.quality.config import QualityConfig
from pipelines.quality.crossentity import reference_findings
from pipelines.quality.faults import pause_point
from pipelines.quality.log import finding, run_findings, write_findings
from pipelines.quality.reconcile import revenue
from pipelines.resources import CrmResource
from pipelines.warehouse import work_db

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


def _severity(cfg: QualityConfig, check: str) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if cfg.is_blocking(check) else dg.AssetCheckSeverity.WARN


@dg.asset(
    key=LOG_KEY,
    deps=CHECKED_AFTER,
    group_name="quality",
    kinds={"duckdb", "python"},
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
        findings = reference_findings(con, cfg)
        con.execute("begin transaction")
        try:
            write_findings(con, context.run.run_id, crm.as_of(context), findings)
            pause_point("quality_checks")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        logged = run_findings(con, context.run.run_id)
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


@dg.asset_check(
    asset=STAGING_TRANSACTIONS,
    name="revenue_reconciles",
    blocking=True,
    description="Revenue in stg_landing__transactions = the sum of the valid landing amounts "
    "(ledger sums per batch, minus versions replaced by a later delivery).",
)
def revenue_reconciles(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    cfg = QualityConfig.from_settings(crm.settings)
    with work_db(crm.settings) as con:
        result = revenue(con, crm.as_of(context))
    meta = result.as_metadata()
    ok = result.staging_ok
    if not ok:
        _log_failure(context, crm, cfg, "reconcile_revenue", f"revenue mismatch: {meta}")
    return dg.AssetCheckResult(
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


@dg.asset_check(
    asset=FCT_TRANSACTIONS,
    name="revenue_matches_staging",
    blocking=True,
    description="fct_transactions and fct_orders carry the staging revenue up to as_of.",
)
def revenue_matches_staging(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    cfg = QualityConfig.from_settings(crm.settings)
    with work_db(crm.settings) as con:
        result = revenue(con, crm.as_of(context))
    meta = result.as_metadata()
    ok = result.marts_ok
    if not ok:
        _log_failure(context, crm, cfg, "reconcile_marts_revenue", f"revenue mismatch: {meta}")
    return dg.AssetCheckResult(
        passed=ok,
        severity=_severity(cfg, "reconcile_marts_revenue"),
        description=(
            f"staging up to as_of {meta['staging_until_as_of']} = fct_transactions "
            f"{meta['fct_transactions_total']} = fct_orders {meta['fct_orders_total']}"
        ),
        metadata={k: v for k, v in meta.items() if not isinstance(v, list)},
    )


quality_assets = [data_quality_log]
quality_checks = [no_blocking_findings, revenue_reconciles, revenue_matches_staging]
