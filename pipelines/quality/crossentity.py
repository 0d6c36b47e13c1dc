"""References between entities, checked on the staging views after dbt.

The rows stay in the warehouse (a customer or product file may arrive later);
each kind of dangling reference is one finding with a count and example keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipelines.quality.config import QualityConfig
from pipelines.quality.log import Finding, finding
from pipelines.warehouse import table_exists


@dataclass(frozen=True)
class ReferenceCheck:
    check: str
    entity: str
    what: str  # noun for the message
    source: str  # staging view holding the reference
    target: str  # staging view it must exist in
    on: tuple[tuple[str, str], ...]  # (source column, target column)
    sample_columns: tuple[str, ...]


REFERENCE_CHECKS = (
    ReferenceCheck(
        "unknown_customer",
        "transactions",
        "transaction line(s) for a customer no customers file describes",
        "stg_landing__transactions",
        "stg_landing__customers",
        (("source_system", "source_system"), ("source_customer_id", "source_customer_id")),
        ("source_system", "transaction_id", "line_number", "source_customer_id"),
    ),
    ReferenceCheck(
        "unknown_contact_customer",
        "contacts",
        "contact(s) for a customer no customers file describes",
        "stg_landing__contacts",
        "stg_landing__customers",
        (("source_system", "source_system"), ("source_customer_id", "source_customer_id")),
        ("source_system", "contact_id", "source_customer_id"),
    ),
    ReferenceCheck(
        "unknown_product",
        "transactions",
        "transaction line(s) for a product the products files do not have",
        "stg_landing__transactions",
        "stg_landing__products",
        (("product_id", "product_id"),),
        ("source_system", "transaction_id", "line_number", "product_id"),
    ),
    ReferenceCheck(
        "unknown_campaign",
        "transactions",
        "transaction line(s) naming a campaign the campaigns files do not have",
        "stg_landing__transactions",
        "stg_landing__campaigns",
        (("campaign_id", "campaign_id"),),
        ("source_system", "transaction_id", "line_number", "campaign_id"),
    ),
    ReferenceCheck(
        "unknown_campaign",
        "contacts",
        "contact(s) naming a campaign the campaigns files do not have",
        "stg_landing__contacts",
        "stg_landing__campaigns",
        (("campaign_id", "campaign_id"),),
        ("source_system", "contact_id", "campaign_id"),
    ),
)


def reference_findings(con: duckdb.DuckDBPyConnection, cfg: QualityConfig) -> list[Finding]:
    findings: list[Finding] = []
    for rc in REFERENCE_CHECKS:
        if not (
            table_exists(con, "staging", rc.source) and table_exists(con, "staging", rc.target)
        ):
            continue
        join = " and ".join(f"t.{b} = s.{a}" for a, b in rc.on)
        present = " and ".join(f"s.{a} is not null" for a, _ in rc.on)
        cols = ", ".join(f"s.{col}" for col in rc.sample_columns)
        base = (
            f"from staging.{rc.source} s where {present} and not exists "
            f"(select 1 from staging.{rc.target} t where {join})"
        )
        count, total = con.execute(
            f"select (select count(*) {base}), (select count(*) from staging.{rc.source})"
        ).fetchone()
        if not count:
            continue
        keys = ", ".join(f"s.{a}" for a, _ in rc.on)
        distinct = con.execute(f"select count(*) from (select distinct {keys} {base})").fetchone()
        cursor = con.execute(
            f"select {cols} {base} order by {cols} limit {int(cfg.log_sample_size)}"
        )
        names = [d[0] for d in cursor.description]
        sample = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        findings.append(
            finding(
                cfg,
                rc.check,
                int(count),
                entity=rc.entity,
                checked=int(total),
                message=f"{count} {rc.what} ({distinct[0]} distinct "
                f"{'/'.join(a for a, _ in rc.on)})",
                sample=sample,
            )
        )
    return findings
