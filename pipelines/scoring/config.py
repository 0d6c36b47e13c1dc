"""The `scoring:` section of crm.yml, validated into one frozen object."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.settings import Settings

#: Days per time unit of the customer summary.
TIME_UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0, "months": 365.25 / 12.0}
NON_POSITIVE_SPEND_CHOICES = ("zero", "population_mean")


@dataclass(frozen=True)
class ClvTier:
    tier: str
    quantile: float


@dataclass(frozen=True)
class ScoringConfig:
    """Every scoring knob (documented in crm.yml and docs/scoring.md)."""

    time_unit: str
    horizon_months: int
    annual_discount_rate: float
    margin_rate: float
    non_positive_spend_value: str
    min_customers: int
    min_repeat_customers: int
    penalizer_coef: float
    p_alive_low_min: float
    p_alive_medium_min: float
    one_time_buyer_weeks_medium: float
    one_time_buyer_weeks_high: float
    clv_tiers: tuple[ClvTier, ...]
    lowest_tier: str
    holdout_weeks: int
    max_abs_error_pct: float
    min_customers_for_bound: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ScoringConfig:
        return cls.from_dict(settings.section("scoring"))

    @classmethod
    def from_dict(cls, section: dict[str, Any]) -> ScoringConfig:
        def need(mapping: dict[str, Any], key: str, where: str = "scoring") -> Any:
            if key not in mapping or mapping[key] is None:
                raise ValueError(f"crm.yml: {where}.{key} is required")
            return mapping[key]

        churn = section.get("churn_risk") or {}
        backtest = section.get("backtest") or {}
        tiers = tuple(
            ClvTier(str(need(t, "tier", "scoring.clv_tiers[]")), float(need(t, "quantile")))
            for t in need(section, "clv_tiers")
        )
        config = cls(
            time_unit=str(need(section, "time_unit")),
            horizon_months=int(need(section, "horizon_months")),
            annual_discount_rate=float(need(section, "annual_discount_rate")),
            margin_rate=float(need(section, "margin_rate")),
            non_positive_spend_value=str(need(section, "non_positive_spend_value")),
            min_customers=int(need(section, "min_customers")),
            min_repeat_customers=int(need(section, "min_repeat_customers")),
            penalizer_coef=float(section.get("penalizer_coef") or 0.0),
            p_alive_low_min=float(need(churn, "p_alive_low_min", "scoring.churn_risk")),
            p_alive_medium_min=float(need(churn, "p_alive_medium_min", "scoring.churn_risk")),
            one_time_buyer_weeks_medium=float(
                need(churn, "one_time_buyer_weeks_medium", "scoring.churn_risk")
            ),
            one_time_buyer_weeks_high=float(
                need(churn, "one_time_buyer_weeks_high", "scoring.churn_risk")
            ),
            clv_tiers=tiers,
            lowest_tier=str(need(section, "lowest_tier")),
            holdout_weeks=int(need(backtest, "holdout_weeks", "scoring.backtest")),
            max_abs_error_pct=float(need(backtest, "max_abs_error_pct", "scoring.backtest")),
            min_customers_for_bound=int(
                need(backtest, "min_customers_for_bound", "scoring.backtest")
            ),
        )
        config.validate()
        return config

    def validate(self) -> None:
        problems = []
        if self.time_unit not in TIME_UNIT_DAYS:
            problems.append(f"time_unit must be one of {sorted(TIME_UNIT_DAYS)}")
        if self.horizon_months < 1:
            problems.append("horizon_months must be >= 1")
        if self.annual_discount_rate < 0:
            problems.append("annual_discount_rate must be >= 0")
        if not 0 <= self.margin_rate <= 1:
            problems.append("margin_rate must be in [0, 1]")
        if self.non_positive_spend_value not in NON_POSITIVE_SPEND_CHOICES:
            problems.append(f"non_positive_spend_value must be one of {NON_POSITIVE_SPEND_CHOICES}")
        if self.min_repeat_customers < 10 or self.min_customers < self.min_repeat_customers:
            problems.append("need min_customers >= min_repeat_customers >= 10")
        if not 0 <= self.p_alive_medium_min <= self.p_alive_low_min <= 1:
            problems.append("need 0 <= churn_risk.p_alive_medium_min <= p_alive_low_min <= 1")
        if not 0 <= self.one_time_buyer_weeks_medium <= self.one_time_buyer_weeks_high:
            problems.append("need 0 <= one_time_buyer_weeks_medium <= one_time_buyer_weeks_high")
        quantiles = [t.quantile for t in self.clv_tiers]
        if not all(0 < q < 1 for q in quantiles) or quantiles != sorted(quantiles, reverse=True):
            problems.append("clv_tiers quantiles must be in (0, 1), highest tier first")
        names = [t.tier for t in self.clv_tiers] + [self.lowest_tier]
        if len(set(names)) != len(names):
            problems.append("clv tier names must be distinct")
        if self.holdout_weeks < 1:
            problems.append("backtest.holdout_weeks must be >= 1")
        if self.max_abs_error_pct < 0:
            problems.append("backtest.max_abs_error_pct must be >= 0")
        if problems:
            raise ValueError("crm.yml scoring: " + "; ".join(problems))

    # ---- derived ---------------------------------------------------------------------
    @property
    def time_unit_days(self) -> float:
        return TIME_UNIT_DAYS[self.time_unit]

    @property
    def horizon_units(self) -> float:
        """The horizon in the summary's time unit (months of 365.25/12 days)."""
        return self.horizon_months * (365.25 / 12.0) / self.time_unit_days

    @property
    def holdout_days(self) -> int:
        return 7 * self.holdout_weeks

    @property
    def expected_purchases_column(self) -> str:
        return f"expected_purchases_next_{self.horizon_months}m"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)
