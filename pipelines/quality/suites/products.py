"""GX suite for landing products."""

from __future__ import annotations

from pipelines.ingest.contract import CONTRACTS
from pipelines.quality.suites.base import contract_expectations


def expectations(rules, cfg) -> list:
    return contract_expectations(CONTRACTS["products"], rules)
