"""Data-quality checks, their severities (crm.yml ``quality:``) and GX settings.

Every check the job evaluates has a name listed in :data:`CHECKS`. crm.yml sets
each one to ``blocking`` (stops publishing, ``crm run`` exits non-zero) or
``warning`` (logged to ``marts.data_quality_log``, the night publishes). A check
missing from crm.yml is treated as blocking, so a new check is loud until
somebody decides otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipelines.settings import Settings

BLOCKING = "blocking"
WARNING = "warning"
SEVERITIES = (BLOCKING, WARNING)

# Stages, in the order a night runs them.
FILE = "file"  # a whole landing file
ROW = "row"  # rows of one file, quarantined with this reason code
BATCH = "batch"  # one file as a whole (GX suite, rates)
RECONCILE = "reconcile"  # counts and sums between landing, raw, staging and marts
CROSS_ENTITY = "cross_entity"  # references between entities after dbt

CHECKS: dict[str, tuple[str, str]] = {
    # file level: the file is moved to landing/_rejected/ (or skipped)
    "rejected_file": (FILE, "a file could not be loaded at all (moved to landing/_rejected/)"),
    "duplicate_file": (FILE, "same content as a file already loaded (not loaded again)"),
    "unknown_column": (FILE, "columns outside the landing contract (ignored, not loaded)"),
    # row level: reason codes of quarantine.<entity>
    "malformed_line": (ROW, "a CSV/JSON line that cannot be parsed (field count, quotes, JSON)"),
    "missing_required": (ROW, "a required value is empty"),
    "not_numeric": (ROW, "an amount, quantity or integer that is not a number"),
    "numeric_out_of_range": (ROW, "a number too large for its column type"),
    "invalid_timestamp": (ROW, "a timestamp that cannot be parsed or does not exist"),
    "invalid_date": (ROW, "a date that cannot be parsed or does not exist"),
    "invalid_boolean": (ROW, "a consent flag that is not true/false/yes/no/Y/N/1/0"),
    "future_date": (ROW, "a date after as_of + future_tolerance_days"),
    "implausible_date": (ROW, "a date before ingest.min_date (min_birth_date for births)"),
    "unknown_channel": (ROW, "a channel outside ingest.channels"),
    "unknown_direction": (ROW, "a contact direction outside ingest.directions"),
    "foreign_currency": (ROW, "a currency other than the configured one"),
    "amount_outlier": (ROW, "|amount| above ingest.max_abs_amount"),
    "quantity_outlier": (ROW, "|quantity| above ingest.max_abs_quantity"),
    "sign_mismatch": (ROW, "quantity and amount with opposite signs"),
    "invalid_line_number": (ROW, "a line_number below 1"),
    "self_referral": (ROW, "a customer referred by themselves"),
    "end_before_start": (ROW, "a campaign whose end_date is before its start_date"),
    "duplicate_row": (ROW, "an exact copy of an earlier record of the same file"),
    "duplicate_key": (ROW, "a key already used by an earlier record of the same file"),
    # batch level
    "quarantine_rate": (BATCH, "share of quarantined rows in a file above max_quarantine_share"),
    "gx_contract": (BATCH, "the GX suite found a row the SQL row checks let through"),
    "identified_share": (BATCH, "share of transaction lines with a customer id below threshold"),
    "return_share": (BATCH, "share of negative transaction lines above threshold"),
    "email_format": (BATCH, "share of customer emails that look like an address below threshold"),
    "redelivered_lines": (BATCH, "lines of this night replace a version of an earlier file"),
    # reconciliation (after every load and after dbt)
    "reconcile_file_rows": (RECONCILE, "rows in a file = rows loaded + rows quarantined"),
    "reconcile_revenue": (RECONCILE, "revenue in staging = sum of valid landing amounts"),
    "reconcile_marts_revenue": (RECONCILE, "fct_transactions/fct_orders revenue = staging"),
    # cross-entity (after dbt)
    "unknown_customer": (CROSS_ENTITY, "a transaction for a customer no customers file describes"),
    "unknown_contact_customer": (CROSS_ENTITY, "a contact for an unknown customer"),
    "unknown_product": (CROSS_ENTITY, "a transaction line for a product not in products"),
    "unknown_campaign": (CROSS_ENTITY, "a transaction or contact naming an unknown campaign"),
}

ROW_REASON_CODES = tuple(name for name, (stage, _) in CHECKS.items() if stage == ROW)


@dataclass(frozen=True)
class GxSettings:
    """How the GX suites run on a batch (crm.yml ``quality.gx``)."""

    mode: str = "auto"  # auto | full | sample
    full_validation_max_rows: int = 250_000
    chunk_rows: int = 250_000
    sample_rows: int = 100_000
    sample_seed: int = 42
    # At most this many files of one entity per run are validated by GX (0 = every file),
    # spread evenly over the run's files; the SQL row checks still see every row.
    max_files_per_run: int = 0
    # `crm run` validates in a worker process that imports GX while the run starts
    # (pipelines/ingest/gx_worker.py); false: in the run's own process.
    worker_process: bool = True
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class QualityConfig:
    severities: dict[str, str]
    max_quarantine_share: float
    log_sample_size: int
    gx: GxSettings

    @classmethod
    def from_settings(cls, settings: Settings) -> QualityConfig:
        cfg = settings.section("quality")
        checks = {str(k): str(v).lower() for k, v in (cfg.get("checks") or {}).items()}
        unknown = sorted(set(checks) - set(CHECKS))
        if unknown:
            raise ValueError(f"crm.yml quality.checks: unknown check(s) {', '.join(unknown)}")
        bad = {k: v for k, v in checks.items() if v not in SEVERITIES}
        if bad:
            raise ValueError(f"crm.yml quality.checks: severity must be blocking|warning: {bad}")
        gx: dict[str, Any] = dict(cfg.get("gx") or {})
        mode = str(gx.get("mode", "auto"))
        if mode not in ("auto", "full", "sample"):
            raise ValueError("crm.yml quality.gx.mode must be auto, full or sample")
        return cls(
            severities=checks,
            max_quarantine_share=float(cfg.get("max_quarantine_share", 0.2)),
            log_sample_size=int(cfg.get("log_sample_size", 5)),
            gx=GxSettings(
                mode=mode,
                full_validation_max_rows=int(gx.get("full_validation_max_rows", 250_000)),
                chunk_rows=int(gx.get("chunk_rows", 250_000)),
                sample_rows=int(gx.get("sample_rows", 100_000)),
                sample_seed=int(gx.get("sample_seed", 42)),
                max_files_per_run=int(gx.get("max_files_per_run", 0)),
                worker_process=bool(gx.get("worker_process", True)),
                thresholds={str(k): float(v) for k, v in (gx.get("thresholds") or {}).items()},
            ),
        )

    def severity(self, check: str) -> str:
        """Configured severity; an unconfigured check is blocking."""
        return self.severities.get(check, BLOCKING)

    def is_blocking(self, check: str) -> bool:
        return self.severity(check) == BLOCKING

    def threshold(self, name: str, default: float) -> float:
        return self.gx.thresholds.get(name, default)
