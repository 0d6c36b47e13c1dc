"""The identity-resolution asset: runs after ingest, before dbt (dbt reads its tables)."""

import dagster as dg

from pipelines.identity.config import IdentityConfig
from pipelines.identity.resolve import resolve_identities
from pipelines.progress import report
from pipelines.resources import CrmResource
from pipelines.warehouse import work_db

RAW_DEPS = [dg.AssetKey(["raw", e]) for e in ("customers", "transactions", "contacts")]

RESOLVED_RECORDS = dg.AssetKey(["identity", "resolved_records"])
KEY_HISTORY = dg.AssetKey(["identity", "key_history"])
QUALITY_LOG = dg.AssetKey(["identity", "quality_log"])

_SPECS = [
    dg.AssetSpec(
        RESOLVED_RECORDS,
        deps=RAW_DEPS,
        group_name="identity",
        kinds={"duckdb", "python"},
        description=(
            "Every source customer record → stable customer_key, link rule and normalised "
            "identifiers (identity.resolved_records; personal data, never published)."
        ),
    ),
    dg.AssetSpec(
        KEY_HISTORY,
        deps=RAW_DEPS,
        group_name="identity",
        kinds={"duckdb", "python"},
        description="old_customer_key → new_customer_key per merge or split, with the run date.",
    ),
    dg.AssetSpec(
        QUALITY_LOG,
        deps=RAW_DEPS,
        group_name="identity",
        kinds={"duckdb", "python"},
        description="Identifier statuses (ok, missing, malformed, blocked, ...) and "
        "resolution figures per night.",
    ),
]


@dg.multi_asset(specs=_SPECS, name="identity_resolution")
def identity_resolution(context: dg.AssetExecutionContext, crm: CrmResource):
    """Link source customer records into persons and keep their keys stable."""
    settings = crm.settings
    as_of = crm.as_of(context)
    cfg = IdentityConfig.from_settings(settings)
    with work_db(settings) as con:
        result = resolve_identities(con, cfg, as_of, context.run_id)
    report(
        "identity",
        f"{result.records} records → {result.customers} customers "
        f"({result.multi_record_customers} with several records, largest "
        f"{result.largest_customer}); keys: {result.new_keys} new, {result.merges} merged, "
        f"{result.splits} split",
        context,
    )
    summary = result.to_dict()
    for key in (RESOLVED_RECORDS, KEY_HISTORY, QUALITY_LOG):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "records": result.records,
                "customers": result.customers,
                "multi_record_customers": result.multi_record_customers,
                "largest_customer_records": result.largest_customer,
                "new_keys": result.new_keys,
                "merges": result.merges,
                "splits": result.splits,
                "probabilistic_links": result.probabilistic_links,
                "seconds": dg.MetadataValue.json(summary["seconds"]),
            },
        )


identity_assets: list[dg.AssetsDefinition] = [identity_resolution]
