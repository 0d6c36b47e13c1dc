"""The published warehouse and its Parquet exports."""

import time
from collections.abc import Sequence

import dagster as dg

from pipelines.progress import report
from pipelines.publish.publisher import PublishedTable, export_parquet, publish
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
            "and exports/<schema>/<table>.parquet (exports/<schema>/<table>/<YYYY-MM>.parquet "
            "for the tables under exports.monthly_partitions)."
        ),
    )
    def published_warehouse(
        context: dg.AssetExecutionContext, crm: CrmResource
    ) -> dg.MaterializeResult:
        settings = crm.settings
        as_of = crm.as_of(context)
        started = time.monotonic()
        tables = publish(settings, context.run_id, as_of, crm.full_refresh(context))
        published = time.monotonic()
        patched = [t for t in tables if t.patched]
        note = "".join(
            f", {t.schema}.{t.name} patched ({t.changed_keys:,} of {t.rows:,} rows changed)"
            for t in patched
        )
        report("publish", f"{settings.warehouse_path} ({len(tables)} tables{note})", context)
        exports = export_parquet(settings, tables)
        report("publish", f"Parquet exports in {exports}", context)
        parts = publish_parts(tables, published - started, time.monotonic() - published)
        return dg.MaterializeResult(
            metadata={
                "path": str(settings.warehouse_path),
                "as_of": as_of.isoformat(),
                "tables": dg.MetadataValue.json({f"{t.schema}.{t.name}": t.rows for t in tables}),
                "patched": dg.MetadataValue.json(
                    {f"{t.schema}.{t.name}": t.changed_keys for t in patched}
                ),
                "exports": str(exports),
                "parts": dg.MetadataValue.json(parts),
            }
        )

    return published_warehouse


def publish_parts(
    tables: Sequence[PublishedTable], publish_seconds: float, export_seconds: float
) -> dict[str, float]:
    """The publish step split into parts (``run_report.PUBLISH_PARTS``): patching the keyed
    tables, copying the others, the rest of ``publish`` (starting from the previous file,
    checkpoint, fsync and swap) and the Parquet exports."""
    patched = sum(t.seconds for t in tables if t.patched)
    copied = sum(t.seconds for t in tables if not t.patched)
    return {
        "patch": round(patched, 2),
        "copy": round(copied, 2),
        "file": round(max(publish_seconds - patched - copied, 0.0), 2),
        "exports": round(export_seconds, 2),
    }
