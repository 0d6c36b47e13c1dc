"""Holdout backtest: fit on data up to as_of - holdout, predict the holdout, compare.

For the customers who bought at least once up to the calibration end (as_of minus
``holdout_weeks``), BG/NBD predicts the repeat purchase days in the holdout
``(calibration_end, as_of]``; the actual figure is the number of distinct purchase days
in that window (every purchase day in the holdout is a repeat purchase for them).
Customers acquired during the holdout are not part of the comparison.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.scoring.config import ScoringConfig
from pipelines.scoring.score import (
    FittedModels,
    InsufficientData,
    expected_order_value,
    fit_models,
)
from pipelines.scoring.summary import CustomerSummary

OK = "ok"
SKIPPED = "skipped"


@dataclass
class BacktestResult:
    """One row of marts.model_backtest (plus the fitted models, not stored)."""

    model_run_id: str
    as_of: dt.date
    calibration_end: dt.date
    holdout_weeks: int
    status: str  # ok | skipped
    message: str
    customers: int
    predicted_repeat_purchases: float | None
    actual_repeat_purchases: float | None
    error_pct: float | None
    mae: float | None
    spearman_rho: float | None
    predicted_revenue: float | None
    actual_revenue: float | None
    revenue_error_pct: float | None
    converged: bool | None
    max_abs_error_pct: float
    bound_enforced: bool
    passed: bool | None
    models: FittedModels | None = None

    def row(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("models")
        return out


BACKTEST_SCHEMA: dict[str, Any] = {
    "model_run_id": pl.Utf8,
    "as_of": pl.Date,
    "calibration_end": pl.Date,
    "holdout_weeks": pl.Int64,
    "status": pl.Utf8,
    "message": pl.Utf8,
    "customers": pl.Int64,
    "predicted_repeat_purchases": pl.Float64,
    "actual_repeat_purchases": pl.Float64,
    "error_pct": pl.Float64,
    "mae": pl.Float64,
    "spearman_rho": pl.Float64,
    "predicted_revenue": pl.Float64,
    "actual_revenue": pl.Float64,
    "revenue_error_pct": pl.Float64,
    "converged": pl.Boolean,
    "max_abs_error_pct": pl.Float64,
    "bound_enforced": pl.Boolean,
    "passed": pl.Boolean,
}


def calibration_end(as_of: dt.date, config: ScoringConfig) -> dt.date:
    return as_of - dt.timedelta(days=config.holdout_days)


def _pct(predicted: float, actual: float) -> float | None:
    return None if actual == 0 else 100.0 * (predicted - actual) / actual


def evaluate(
    run_id: str,
    as_of: dt.date,
    calibration: CustomerSummary,
    actual_days: NDArray[np.float64],
    actual_revenue: NDArray[np.float64],
    config: ScoringConfig,
) -> BacktestResult:
    """Fit on the calibration summary and compare the holdout prediction with the actuals.

    ``actual_days`` / ``actual_revenue`` are aligned with ``calibration.customer_key``.
    """
    base: dict[str, Any] = {
        "model_run_id": run_id,
        "as_of": as_of,
        "calibration_end": calibration.as_of,
        "holdout_weeks": config.holdout_weeks,
        "customers": calibration.n,
        "max_abs_error_pct": config.max_abs_error_pct,
        "bound_enforced": calibration.n >= config.min_customers_for_bound,
    }
    empty = dict.fromkeys(
        (
            "predicted_repeat_purchases",
            "actual_repeat_purchases",
            "error_pct",
            "mae",
            "spearman_rho",
            "predicted_revenue",
            "actual_revenue",
            "revenue_error_pct",
            "converged",
            "passed",
        )
    )
    try:
        models = fit_models(calibration, config)
    except InsufficientData as exc:
        return BacktestResult(**base, **empty, status=SKIPPED, message=f"not fitted: {exc}")
    horizon = config.holdout_days / config.time_unit_days
    x, tx, T = calibration.frequency, calibration.recency, calibration.age
    predicted = models.bg.expected_purchases(horizon, x, tx, T)
    value = expected_order_value(calibration, models.gg, config)
    predicted_revenue = float(np.nansum(predicted * value))
    total_pred, total_actual = float(predicted.sum()), float(actual_days.sum())
    error = _pct(total_pred, total_actual)
    # imported here: scipy.stats takes ~1 s to import, which the definitions (loaded before
    # the first file) should not pay; the dbt step pre-imports it (pipelines/transform/assets.py)
    from scipy.stats import spearmanr

    rho = float(spearmanr(predicted, actual_days).statistic) if calibration.n > 1 else float("nan")
    converged = bool(models.bg.converged_ and models.gg.converged_)
    within = error is not None and abs(error) <= config.max_abs_error_pct
    passed = converged and (within or not base["bound_enforced"])
    if not converged:
        message = "calibration fit did not converge"
    elif error is None:
        message = "no purchases in the holdout"
    elif not within:
        message = f"holdout error {error:+.1f} % beyond ±{config.max_abs_error_pct:g} %"
        if not base["bound_enforced"]:
            message += f" (advisory: fewer than {config.min_customers_for_bound} customers)"
    else:
        message = f"holdout error {error:+.1f} % within ±{config.max_abs_error_pct:g} %"
    return BacktestResult(
        **base,
        status=OK,
        message=message,
        predicted_repeat_purchases=total_pred,
        actual_repeat_purchases=total_actual,
        error_pct=error,
        mae=float(np.abs(predicted - actual_days).mean()),
        spearman_rho=None if np.isnan(rho) else rho,
        predicted_revenue=predicted_revenue,
        actual_revenue=float(actual_revenue.sum()),
        revenue_error_pct=_pct(predicted_revenue, float(actual_revenue.sum())),
        converged=converged,
        passed=passed,
        models=models,
    )
