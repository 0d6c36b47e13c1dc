"""Blocking asset checks on the candidate scores.

A check that fails with severity ERROR stops the promotion into marts (and the publish
step): the previous night's scores stay in place. Nights without a fit (too little data)
or with a backtest too small for its bound fail with severity WARN, which does not block.
"""

from typing import Any

import dagster as dg

from pipelines.check_steps import Check, one_step
from pipelines.resources import CrmResource
from pipelines.scoring.assets import CANDIDATE_KEY
from pipelines.scoring.config import ScoringConfig
from pipelines.scoring.store import (
    CANDIDATE_BACKTEST,
    CANDIDATE_RUNS,
    CANDIDATE_SCORES,
    SCORED,
    read_status,
)
from pipelines.warehouse import work_db

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


def _rows(con, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _not_scored(status: dict[str, Any] | None, run_id: str) -> dg.AssetCheckResult | None:
    if status is None or status["dagster_run_id"] != run_id:
        return dg.AssetCheckResult(
            passed=False, severity=ERROR, description="no candidate scores from this run"
        )
    if status["status"] != SCORED:
        return dg.AssetCheckResult(
            passed=False,
            severity=WARN,
            description=f"models not fitted, previous scores kept: {status['message']}",
        )
    return None


def scoring_models_converged(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    with work_db(crm.settings) as con:
        status = read_status(con)
        early = _not_scored(status, context.run.run_id)
        if early is not None:
            return early
        fits = _rows(
            con,
            f"select model, converged, log_likelihood, iterations, optimizer_message "
            f"from {CANDIDATE_RUNS} where purpose = 'scoring' order by model",
        )
    failed = [f["model"] for f in fits if not f["converged"]]
    passed = len(fits) == 2 and not failed
    return dg.AssetCheckResult(
        passed=passed,
        severity=ERROR,
        description=(
            "both models converged" if passed else f"not converged: {failed or 'missing fits'}"
        ),
        metadata={"fits": dg.MetadataValue.json(fits)},
    )


def scoring_backtest_within_bound(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    config = ScoringConfig.from_settings(crm.settings)
    with work_db(crm.settings) as con:
        status = read_status(con)
        early = _not_scored(status, context.run.run_id)
        if early is not None:
            return early
        rows = _rows(con, f"select * from {CANDIDATE_BACKTEST}")
    if len(rows) != 1:
        return dg.AssetCheckResult(
            passed=False, severity=ERROR, description=f"{len(rows)} backtest rows, expected 1"
        )
    bt = rows[0]
    metadata = {
        k: dg.MetadataValue.float(float(bt[k])) if bt[k] is not None else None
        for k in ("error_pct", "mae", "spearman_rho", "predicted_repeat_purchases")
    }
    metadata = {k: v for k, v in metadata.items() if v is not None}
    metadata["customers"] = dg.MetadataValue.int(int(bt["customers"]))
    if bt["status"] != "ok":
        return dg.AssetCheckResult(
            passed=False, severity=WARN, description=bt["message"], metadata=metadata
        )
    if not bt["converged"]:
        return dg.AssetCheckResult(
            passed=False,
            severity=ERROR,
            description="backtest calibration fit did not converge",
            metadata=metadata,
        )
    error = bt["error_pct"]
    within = error is not None and abs(error) <= config.max_abs_error_pct
    enforced = bt["customers"] >= config.min_customers_for_bound
    return dg.AssetCheckResult(
        passed=within,
        severity=ERROR if enforced else WARN,
        description=bt["message"],
        metadata=metadata,
    )


def scoring_covers_every_purchasing_customer(
    context: dg.AssetCheckExecutionContext, crm: CrmResource
) -> dg.AssetCheckResult:
    as_of = crm.as_of(context)
    config = ScoringConfig.from_settings(crm.settings)
    purchases_col = config.expected_purchases_column
    with work_db(crm.settings) as con:
        status = read_status(con)
        early = _not_scored(status, context.run.run_id)
        if early is not None:
            return early
        figures = _rows(
            con,
            f"""
            with expected as (
                select distinct customer_key from marts.fct_orders
                where is_purchase and customer_key is not null and business_date <= ?
            ),
            scored as (select * from {CANDIDATE_SCORES})
            select
                (select count(*) from expected) as purchasing_customers,
                (select count(*) from scored) as score_rows,
                (select count(*) from expected anti join scored using (customer_key))
                    as missing,
                (select count(*) from scored anti join expected using (customer_key))
                    as unexpected,
                (select count(*) - count(distinct customer_key) from scored) as duplicates,
                (select count(*) from scored where as_of is distinct from ?) as wrong_as_of,
                (select count(*) from scored
                 where p_alive is null or not (p_alive between 0 and 1)
                    or "{purchases_col}" is null or "{purchases_col}" < 0
                    or expected_average_order_value is null
                    or predicted_clv is null or isnan(predicted_clv)
                    or historic_clv is null
                    or churn_risk not in ('low', 'medium', 'high')
                    or clv_tier is null or score_basis is null) as incomplete
            """,
            [as_of, as_of],
        )[0]
    problems = {k: v for k, v in figures.items() if k not in ("purchasing_customers", "score_rows")}
    passed = not any(problems.values())
    return dg.AssetCheckResult(
        passed=passed,
        severity=ERROR,
        description=(
            f"{figures['score_rows']} rows for {figures['purchasing_customers']} purchasing "
            "customers" + ("" if passed else f"; problems: {problems}")
        ),
        metadata={k: dg.MetadataValue.int(int(v)) for k, v in figures.items()},
    )


scoring_checks = [
    one_step(
        "scoring_checks",
        [
            Check(
                "scoring_models_converged",
                CANDIDATE_KEY,
                "BG/NBD and Gamma-Gamma fits of tonight's scoring converged.",
                scoring_models_converged,
            ),
            Check(
                "scoring_backtest_within_bound",
                CANDIDATE_KEY,
                "Holdout backtest: the calibration fit converged and the total predicted "
                "repeat purchase days are within scoring.backtest.max_abs_error_pct of the "
                "actual.",
                scoring_backtest_within_bound,
            ),
            Check(
                "scoring_covers_every_purchasing_customer",
                CANDIDATE_KEY,
                "Exactly one complete score row for every customer with a purchase order up "
                "to as_of in marts.fct_orders, and none for anyone else.",
                scoring_covers_every_purchasing_customer,
            ),
        ],
    )
]
