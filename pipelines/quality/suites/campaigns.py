"""GX suite for landing campaigns."""

from __future__ import annotations

from pipelines.ingest.contract import CONTRACTS
from pipelines.quality.suites.base import contract_expectations, row_meta


def expectations(rules, cfg) -> list:
    import great_expectations.expectations as gxe

    return [
        *contract_expectations(CONTRACTS["campaigns"], rules),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="end_date",
            column_B="start_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            meta=row_meta("end_before_start", "end_date"),
        ),
    ]
