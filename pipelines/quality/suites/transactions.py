"""GX suite for landing transactions (line items)."""

from __future__ import annotations

from pipelines.ingest.contract import CONTRACTS
from pipelines.quality.suites.base import (
    allowed_values,
    batch_meta,
    contract_expectations,
    row_meta,
    threshold,
)


def expectations(rules, cfg) -> list:
    import great_expectations.expectations as gxe

    return [
        *contract_expectations(CONTRACTS["transactions"], rules),
        allowed_values("channel", rules.channels["transactions"], "unknown_channel"),
        allowed_values("currency", [rules.currency], "foreign_currency"),
        gxe.ExpectColumnValuesToBeBetween(
            column="line_number", min_value=1, meta=row_meta("invalid_line_number", "line_number")
        ),
        # batch level: shares an analyst would want to hear about
        gxe.ExpectColumnValuesToNotBeNull(
            column="source_customer_id",
            mostly=threshold(cfg, "min_identified_share"),
            meta=batch_meta("identified_share", "source_customer_id"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="amount",
            min_value=0,
            mostly=1 - threshold(cfg, "max_return_share"),
            meta=batch_meta("return_share", "amount"),
        ),
    ]
