"""GX suite for landing customers."""

from __future__ import annotations

from pipelines.ingest.contract import CONTRACTS
from pipelines.quality.suites.base import batch_meta, contract_expectations, threshold

# Something@something.tld without spaces: a plausibility test, not RFC 5322.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def expectations(rules, cfg) -> list:
    import great_expectations.expectations as gxe

    return [
        *contract_expectations(CONTRACTS["customers"], rules),
        gxe.ExpectColumnValuesToMatchRegex(
            column="email",
            regex=EMAIL_PATTERN,
            mostly=threshold(cfg, "min_valid_email_share"),
            meta=batch_meta("email_format", "email"),
        ),
    ]
