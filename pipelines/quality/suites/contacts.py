"""GX suite for landing contacts."""

from __future__ import annotations

from pipelines.ingest.contract import CONTRACTS
from pipelines.quality.suites.base import allowed_values, contract_expectations


def expectations(rules, cfg) -> list:
    return [
        *contract_expectations(CONTRACTS["contacts"], rules),
        allowed_values("channel", rules.channels["contacts"], "unknown_channel"),
        allowed_values("direction", rules.directions, "unknown_direction"),
    ]
