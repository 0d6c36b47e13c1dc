"""Ingest assets: one per landing entity, writing raw.<entity> and quarantine.<entity>."""

import dagster as dg

from pipelines.ingest.loader import load_entity
from pipelines.progress import report
from pipelines.resources import CrmResource
from pipelines.settings import ENTITIES
from pipelines.warehouse import work_db


def _ingest_asset(entity: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=entity,
        key_prefix=["raw"],
        group_name="ingest",
        kinds={"duckdb", "python"},
        description=(
            f"New landing/{entity}/ files loaded into raw.{entity}; bad rows go to "
            f"quarantine.{entity}, unreadable files to landing/_rejected/{entity}/."
        ),
    )
    def _asset(context: dg.AssetExecutionContext, crm: CrmResource) -> dg.MaterializeResult:
        settings = crm.settings
        as_of = crm.as_of(context)
        with work_db(settings) as con:
            results = load_entity(con, settings, entity, as_of, context.run_id)
            total = con.execute(f"select count(*) from raw.{entity}").fetchone()
        loaded = sum(r.rows_loaded for r in results)
        quarantined = sum(r.rows_quarantined for r in results)
        rejected = [r.file_name for r in results if r.status == "rejected"]
        duplicates = [r.file_name for r in results if r.status == "duplicate"]
        for r in results:
            report(
                "ingest",
                f"{r.file_name}: {r.status}, {r.rows_loaded} loaded, "
                f"{r.rows_quarantined} quarantined {r.message}".rstrip(),
                context,
            )
        report(
            "ingest",
            f"{entity}: {len(results)} new file(s), {loaded} rows loaded, "
            f"{quarantined} quarantined, {len(rejected)} rejected",
            context,
        )
        return dg.MaterializeResult(
            metadata={
                "files": len(results),
                "rows_loaded": loaded,
                "rows_quarantined": quarantined,
                "files_rejected": dg.MetadataValue.json(rejected),
                "files_duplicate": dg.MetadataValue.json(duplicates),
                "batches": dg.MetadataValue.json([r.to_dict() for r in results]),
                "raw_rows_total": int(total[0]) if total else 0,
            }
        )

    return _asset


ingest_assets = [_ingest_asset(entity) for entity in ENTITIES]
