"""Dagster assets of the CLV scoring step (docs/scoring.md).

``scoring/customer_scores_candidate`` builds the customer summary in SQL from
marts.fct_orders, fits BG/NBD + Gamma-Gamma, scores every purchasing customer and runs
the holdout backtest, writing ``scoring.candidate_*`` tables. Blocking asset checks
(pipelines/scoring/checks.py) inspect the candidates; only if they pass does the
``customer_scores`` multi-asset promote them into ``marts.customer_scores``,
``marts.model_runs`` and ``marts.model_backtest``. A failed check skips the promotion
(and everything downstream, publish included): the previous scores stay in place.
"""

import hashlib
import json
import time
from typing import Any

import dagster as dg
import numpy as np
import polars as pl

from pipelines.progress import report
from pipelines.resources import CrmResource
from pipelines.scoring.backtest import BACKTEST_SCHEMA, calibration_end, evaluate
from pipelines.scoring.config import ScoringConfig
from pipelines.scoring.report import backtest_line, mark_promoted, write_state
from pipelines.scoring.score import (
    MODEL_RUNS_SCHEMA,
    InsufficientData,
    customer_scores_schema,
    fit_models,
    model_run_id,
    model_run_rows,
    score_customers,
)
from pipelines.scoring.store import (
    INSUFFICIENT_DATA,
    SCORED,
    frame,
    promote,
    read_status,
    write_candidates,
)
from pipelines.scoring.summary import count_non_buyers, load_holdout, load_summary
from pipelines.warehouse import work_db

CANDIDATE_KEY = dg.AssetKey(["scoring", "customer_scores_candidate"])
CUSTOMER_SCORES_KEY = dg.AssetKey(["marts", "customer_scores"])
MODEL_RUNS_KEY = dg.AssetKey(["marts", "model_runs"])
MODEL_BACKTEST_KEY = dg.AssetKey(["marts", "model_backtest"])
UPSTREAM = [dg.AssetKey(["marts", "fct_orders"]), dg.AssetKey(["marts", "dim_customers"])]
GROUP = "scoring"


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _fit_state(models: Any) -> dict[str, Any]:
    return {
        m.model_name: {
            "converged": bool(m.converged_),
            "log_likelihood": m.log_likelihood_,
            "params": m.params_,
            "iterations": m.n_iter_,
            "seconds": round(m.fit_seconds_, 3),
        }
        for m in (models.bg, models.gg)
    }


@dg.asset(
    key=CANDIDATE_KEY,
    deps=UPSTREAM,
    group_name=GROUP,
    kinds={"duckdb", "python"},
    description=(
        "Tonight's candidate scores: BG/NBD + Gamma-Gamma fitted on the customer summary "
        "of marts.fct_orders (SQL), every purchasing customer scored, 26-week holdout "
        "backtest; written to scoring.candidate_* and promoted to marts only when the "
        "blocking checks pass."
    ),
)
def customer_scores_candidate(
    context: dg.AssetExecutionContext, crm: CrmResource
) -> dg.MaterializeResult:
    settings = crm.settings
    as_of = crm.as_of(context)
    config = ScoringConfig.from_settings(settings)
    started = time.perf_counter()
    with work_db(settings) as con:
        summary = load_summary(
            con, as_of, unit_days=config.time_unit_days, margin_rate=config.margin_rate
        )
        cal_end = calibration_end(as_of, config)
        calibration = load_summary(
            con, cal_end, unit_days=config.time_unit_days, margin_rate=config.margin_rate
        )
        actual_days, actual_revenue = load_holdout(con, calibration.customer_key, cal_end, as_of)
        non_buyers = count_non_buyers(con, as_of)
        run_id = model_run_id(
            as_of,
            config,
            summary.digest(),
            calibration.digest(),
            _digest(actual_days, actual_revenue),
        )
        report(
            "scoring",
            f"summary: {summary.n:,} customers with a purchase up to {as_of} "
            f"({int((summary.frequency > 0).sum()):,} repeat buyers; {non_buyers:,} with "
            f"return-only orders not scored)",
            context,
        )
        state: dict[str, Any] = {
            "dagster_run_id": context.run_id,
            "as_of": as_of.isoformat(),
            "model_run_id": run_id,
            "customers": summary.n,
            "customers_without_purchase": non_buyers,
            "promoted": False,
        }
        try:
            models = fit_models(summary, config)
        except InsufficientData as exc:
            models = None
            status, message = INSUFFICIENT_DATA, f"not fitted: {exc}"
            report("scoring", message, context)
        if models is not None:
            status = SCORED
            fits = _fit_state(models)
            message = "; ".join(
                f"{name} {'converged' if f['converged'] else 'NOT converged'}"
                for name, f in fits.items()
            )
            state["fits"] = fits
            report("scoring", f"fit: {message} ({models.bg!r}, {models.gg!r})", context)
            scores = score_customers(summary, models, config, run_id)
            backtest = evaluate(run_id, as_of, calibration, actual_days, actual_revenue, config)
            runs = model_run_rows(run_id, as_of, "scoring", as_of, models, config, summary.n)
            if backtest.models is not None:
                runs += model_run_rows(
                    run_id, as_of, "backtest", cal_end, backtest.models, config, calibration.n
                )
            bt_row = backtest.row()
            state["backtest"] = json.loads(json.dumps(bt_row, default=str))
            state["clv_cutoffs"] = scores.clv_cutoffs
            report("scoring", backtest_line(bt_row).split(":", 1)[1].strip(), context)
            scores_df = scores.frame
            runs_df = frame(runs, MODEL_RUNS_SCHEMA)
            backtest_df = frame([bt_row], BACKTEST_SCHEMA)
        else:
            scores_df = pl.DataFrame(schema=customer_scores_schema(config))
            runs_df = frame([], MODEL_RUNS_SCHEMA)
            backtest_df = frame([], BACKTEST_SCHEMA)
        state.update(status=status, message=message)
        write_candidates(
            con,
            scores=scores_df,
            runs=runs_df,
            backtest=backtest_df,
            status={
                "dagster_run_id": context.run_id,
                "model_run_id": run_id,
                "as_of": as_of,
                "status": status,
                "message": message,
                "customers": summary.n,
                "customers_without_purchase": non_buyers,
            },
        )
    state["seconds"] = round(time.perf_counter() - started, 2)
    write_state(settings, state)
    report("scoring", f"candidate scores written ({state['seconds']}s)", context)
    metadata: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "model_run_id": run_id,
        "status": status,
        "message": message,
        "customers": summary.n,
        "customers_without_purchase": non_buyers,
        "seconds": state["seconds"],
    }
    if "backtest" in state:
        metadata["backtest"] = dg.MetadataValue.json(state["backtest"])
        metadata["fits"] = dg.MetadataValue.json(state["fits"])
        metadata["clv_cutoffs"] = dg.MetadataValue.json(state["clv_cutoffs"])
    return dg.MaterializeResult(metadata=metadata)


@dg.multi_asset(
    name="customer_scores",
    group_name=GROUP,
    specs=[
        dg.AssetSpec(
            CUSTOMER_SCORES_KEY,
            deps=[CANDIDATE_KEY],
            kinds={"duckdb"},
            description=(
                "CLV and churn scores, one row per customer with at least one purchase up to "
                "as_of (docs/scoring.md). Replaced nightly, only when every blocking scoring "
                "check passed."
            ),
        ),
        dg.AssetSpec(
            MODEL_RUNS_KEY,
            deps=[CANDIDATE_KEY],
            kinds={"duckdb"},
            description=(
                "One row per fitted model (BG/NBD, Gamma-Gamma) and purpose (scoring, "
                "backtest) per as_of: parameters, log-likelihood, customers, exclusions, "
                "convergence, duration."
            ),
        ),
        dg.AssetSpec(
            MODEL_BACKTEST_KEY,
            deps=[CANDIDATE_KEY],
            kinds={"duckdb"},
            description=(
                "Holdout backtest per as_of: predicted vs actual repeat purchase days "
                "(% error), customer-level MAE, Spearman rank correlation."
            ),
        ),
    ],
)
def customer_scores(context: dg.AssetExecutionContext, crm: CrmResource):
    settings = crm.settings
    as_of = crm.as_of(context)
    with work_db(settings) as con:
        status = read_status(con)
        fresh = status is not None and status["dagster_run_id"] == context.run_id
        replace = fresh and status["status"] == SCORED
        counts = promote(con, as_of, replace=replace)
    if replace:
        report("scoring", f"scores promoted: {counts['marts.customer_scores']:,} rows", context)
    else:
        reason = status["message"] if fresh else "no candidate from this run"
        report("scoring", f"previous scores kept ({reason})", context)
    mark_promoted(settings, context.run_id, replace)
    for key, table in (
        (CUSTOMER_SCORES_KEY, "marts.customer_scores"),
        (MODEL_RUNS_KEY, "marts.model_runs"),
        (MODEL_BACKTEST_KEY, "marts.model_backtest"),
    ):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "rows": counts[table],
                "updated": replace,
                "model_run_id": status["model_run_id"] if status else None,
            },
        )


scoring_assets: list[dg.AssetsDefinition] = [customer_scores_candidate, customer_scores]
