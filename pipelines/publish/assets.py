"""The published warehouse and its Parquet exports."""

from collections.abc import Sequence

import dagster as dg

from pipelines.progress import report
from pipelines.publish.publisher import export_parquet, publish
from pipelines.resources import CrmResource


def build_publish_asset(upstream: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The last asset of the night: it runs only after every mart and check upstream passed."""

    @dg.asset(
        key=dg.AssetKey(["warehouse", "published"]),
        deps=list(upstream),
        group_name="publish",
        kinds={"duckdb", "parquet"},
        description=(
            "warehouse/crm.duckdb (analyst-facing schemas only), published atomically, "
            "and exports/<schema>/<table>.parquet."
        ),
    )
    def published_warehouse(
        context: dg.AssetExecutionContext, crm: CrmResource
    ) -> dg.MaterializeResult:
        settings = crm.settings
        as_of = crm.as_of(context)
        tables = publish(settings, context.run_id, as_of, crm.full_refresh(context))
        patched = [t for t in tables if t.patched]
        note = "".join(
            f", {t.schema}.{t.name} patched ({t.changed_keys:,} of {t.rows:,} rows changed)"
            for t in patched
        )
        report("publish", f"{settings.warehouse_path} ({len(tables)} tables{note})", context)
        exports = export_parquet(settings, tables)
        report("publish", f"Parquet exports in {exports}", context)
        return dg.MaterializeResult(
            metadata={
                "path": str(settings.warehouse_path),
                "as_of": as_of.isoformat(),
                "tables": dg.MetadataValue.json({f"{t.schema}.{t.name}": t.rows for t in tables}),
                "patched": dg.MetadataValue.json(
                    {f"{t.schema}.{t.name}": t.changed_keys for t in patched}
                ),
                "exports": str(exports),
            }
        )

    return published_warehouse
