"""Knobs of the sample generator (every rate and parameter with its default).

Overrides may come from ``crm.yml`` under a top-level ``generator:`` block (keys are the
field names below) via :meth:`GeneratorConfig.from_settings`, or from code with
``dataclasses.replace``. Output is a deterministic function of
``(customers, seed, end_date, GeneratorConfig)``; ``workers`` only changes speed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Source systems, in a fixed order (index = system code everywhere in the generator).
SYSTEMS: tuple[str, ...] = ("pos", "web", "app", "callcentre")
SYSTEM_CHANNEL: tuple[str, ...] = ("store", "web", "app", "call_centre")
# Transaction id prefixes per system.
SYSTEM_TXN_PREFIX: tuple[str, ...] = ("PS", "WB", "AP", "CC")
# Consent encodings per system (true, false); empty = unknown.
SYSTEM_CONSENT_CODES: tuple[tuple[str, str], ...] = (
    ("Y", "N"),
    ("true", "false"),
    ("1", "0"),
    ("yes", "no"),
)
# Timestamp style per system in text files: naive local, ISO with +09:00, ISO UTC with Z.
SYSTEM_TS_STYLE: tuple[str, ...] = ("naive", "offset", "utc", "naive")
# Customer file format per system.
SYSTEM_CUSTOMER_FORMAT: tuple[str, ...] = ("csv", "parquet", "jsonl", "csv")
ENTITIES_WITH_DIRT: tuple[str, ...] = ("customers", "transactions", "contacts")

DIRTY_KINDS: dict[str, tuple[str, ...]] = {
    "transactions": (
        "non_numeric_amount",
        "unparseable_date",
        "impossible_date",
        "future_date",
        "unknown_channel",
        "negative_quantity_positive_amount",
        "wrong_currency",
        "amount_outlier",
        "duplicate_row",
        "missing_required",
    ),
    "customers": (
        "missing_required",
        "unparseable_date",
        "impossible_date",
        "future_date",
        "duplicate_row",
    ),
    "contacts": (
        "missing_required",
        "unparseable_date",
        "impossible_date",
        "future_date",
        "unknown_channel",
        "unknown_direction",
        "duplicate_row",
    ),
}


def _campaign_rates() -> dict[str, tuple[float, float]]:
    return {
        "retention": (0.10, 0.04),
        "winback": (0.03, 0.03),
        "crosssell": (0.06, 0.025),
        "newsletter": (0.04, 0.005),
    }


def _campaign_audience_share() -> dict[str, float]:
    return {"retention": 0.8, "winback": 0.5, "crosssell": 0.3, "newsletter": 0.15}


def _cost_per_contact() -> dict[str, int]:
    return {"email": 12, "sms": 28, "push": 3, "direct_mail": 1150}


@dataclass(frozen=True)
class GeneratorConfig:
    """Every parameter of the generated world, with documented defaults."""

    # ---- layout / size -------------------------------------------------------------------
    history_years: int = 3
    """Transactions cover this many years ending at end_date."""
    chunk_size: int = 50_000
    """Persons per chunk; one set of files per chunk. Part of the output layout."""
    workers: int = 0
    """Processes generating chunks in parallel (speed only; output is identical).
    0 = automatic: min(2, CPU count, number of chunks)."""
    n_products: int = 200
    n_stores: int = 40
    n_campaigns: int = 20

    # ---- identity: records per person and identifiers -------------------------------------
    system_set_weights: tuple[tuple[str, float], ...] = (
        ("pos", 0.24),
        ("web", 0.17),
        ("app", 0.10),
        ("callcentre", 0.03),
        ("pos+web", 0.13),
        ("pos+app", 0.10),
        ("web+app", 0.07),
        ("pos+callcentre", 0.03),
        ("web+callcentre", 0.02),
        ("app+callcentre", 0.01),
        ("pos+web+app", 0.06),
        ("pos+web+callcentre", 0.02),
        ("pos+app+callcentre", 0.01),
        ("web+app+callcentre", 0.01),
    )
    """Which systems know a person (1-3 records per person)."""
    email_presence: tuple[float, float, float, float] = (0.55, 0.99, 0.85, 0.35)
    phone_presence: tuple[float, float, float, float] = (0.93, 0.60, 0.80, 1.0)
    loyalty_presence: tuple[float, float, float, float] = (1.0, 0.0, 0.6, 0.2)
    """Share of records carrying each identifier, per system (pos, web, app, callcentre)."""
    unlinkable_record_rate: float = 0.012
    """Share of non-first records of multi-record persons that share no strong identifier."""
    email_case_noise: float = 0.30
    email_whitespace_noise: float = 0.05
    gmail_dot_variant_rate: float = 0.30
    phone_other_format_rate: float = 0.30
    """Share of phones written in another system's format (all normalise to one E.164)."""
    name_typo_rate: float = 0.05
    malformed_email_rate: float = 0.005
    malformed_phone_rate: float = 0.005
    household_share: float = 0.001
    """Share of persons whose record carries another household member's phone (trap)."""
    persons_per_generic_email: int = 2_000
    """One generic address (info@company.co.kr...) per this many persons (at least 1 per
    chunk of >= 200 persons)."""
    generic_email_users: tuple[int, int] = (8, 25)
    """Different persons sharing one generic address (over-merge trap; always >= the low
    bound, so a max-records-per-identifier guard below it blocks every generic address)."""
    referral_share: float = 0.08
    customer_update_share: float = 0.12
    """Share of records with a later snapshot in an update file (move, new e-mail, consent)."""
    consent_true: tuple[float, float, float, float] = (0.60, 0.50, 0.30, 0.45)
    """P(opt-in) per channel (email, sms, phone, mail) at person level."""
    consent_unknown_rate: float = 0.10
    consent_system_optout_rate: float = 0.08
    """Share of records that opted out in one system although the person opted in elsewhere."""

    # ---- purchasing (BG/NBD in operational days; Gamma heterogeneity) ----------------------
    never_buyer_share: float = 0.08
    bgnbd_r: float = 0.6
    bgnbd_alpha: float = 35.0
    bgnbd_a: float = 0.6
    bgnbd_b: float = 3.2
    acquisition_growth: float = 0.5
    """Acquisition density rises linearly by this factor over the history."""
    price_tier_sigma: float = 1.0
    """Spread of the person's price tier (which products within a department they buy)."""
    favourite_department_share: float = 0.65
    lines_per_order_weights: tuple[float, ...] = (0.42, 0.25, 0.16, 0.10, 0.07)
    discount_line_share: float = 0.15
    return_rate: float = 0.03
    anonymous_line_share: float = 0.05
    missing_unit_cost_rate: float = 0.03
    empty_currency_systems: tuple[str, ...] = ("callcentre",)
    """Systems that leave the optional currency column empty (= configured currency)."""
    month_factors: tuple[float, ...] = (
        0.85,
        0.80,
        0.90,
        0.95,
        1.05,
        0.90,
        0.95,
        0.95,
        1.00,
        1.00,
        1.35,
        1.50,
    )
    weekday_factors: tuple[float, ...] = (0.85, 0.88, 0.90, 0.95, 1.05, 1.35, 1.20)

    # ---- campaigns and contacts -------------------------------------------------------------
    campaign_rates: dict[str, tuple[float, float]] = field(default_factory=_campaign_rates)
    """Per campaign type: (base response rate of the holdout, planted uplift when contacted)."""
    campaign_audience_share: dict[str, float] = field(default_factory=_campaign_audience_share)
    cost_per_contact: dict[str, int] = field(default_factory=_cost_per_contact)
    holdout_share: float = 0.10
    attribution_days: int = 14
    inbound_contacts_per_order: float = 0.08
    inbound_contacts_base: float = 0.05
    unsubscribe_rate: float = 0.005

    # ---- dirty rows (share of rows per entity, planted only in CSV files) -------------------
    dirty_transaction_rate: float = 0.002
    dirty_customer_rate: float = 0.002
    dirty_contact_rate: float = 0.002

    # ---- next night ----------------------------------------------------------------------
    night_customer_update_share: float = 0.001
    night_contact_share: float = 0.002

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> GeneratorConfig:
        """Defaults, then ``crm.yml`` ``generator:`` keys, then keyword overrides."""
        values: dict[str, Any] = {}
        names = {f.name: f for f in dataclasses.fields(cls)}
        section = settings.section("generator") if settings is not None else {}
        for key, value in {**section, **overrides}.items():
            if key not in names:
                raise ValueError(f"unknown generator setting {key!r}")
            values[key] = _coerce(getattr(cls(), key), value)
        return cls(**values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GeneratorConfig:
        """Rebuild from :meth:`to_dict` output (e.g. ``summary.json`` ``parameters``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        default = cls()
        return cls(**{k: _coerce(getattr(default, k), v) for k, v in values.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("workers")
        return out


def _coerce(default: Any, value: Any) -> Any:
    """YAML gives lists; the dataclass stores tuples (hashable, stable repr)."""
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if isinstance(default, dict) and isinstance(value, dict):
        merged = dict(default)
        for k, v in value.items():
            merged[k] = tuple(v) if isinstance(v, list) else v
        return merged
    return value
