"""The one Definitions object: what `dagster dev`, the schedule and `crm run` all load."""

import dagster as dg

from pipelines.identity.assets import identity_assets
from pipelines.identity.checks import identity_checks
from pipelines.ingest.assets import ingest_assets, ingest_checks
from pipelines.publish.assets import build_publish_asset
from pipelines.quality.assets import quality_assets, quality_checks
from pipelines.resources import WRITER_TAG, CrmResource
from pipelines.schedules import NIGHTLY_JOB_NAME, build_schedules
from pipelines.scoring.assets import scoring_assets
from pipelines.scoring.checks import scoring_checks
from pipelines.settings import Settings
from pipelines.targeting.assets import build_targeting_assets
from pipelines.targeting.checks import build_asset_checks as build_targeting_checks
from pipelines.transform.assets import dbt_asset_defs, dbt_project
from pipelines.transform.project import DBT_EXECUTABLE
from pipelines.transform.resources import CrmDbtCliResource

settings = Settings.load()

# Python assets that later stages add (scoring, targeting, ...) go here.
python_assets: list[dg.AssetsDefinition] = [*identity_assets, *quality_assets]
asset_checks: list[dg.AssetChecksDefinition] = [*ingest_checks, *identity_checks, *quality_checks]

# Targeting (issue 6): target lists, outbox, campaign results (deps declared by key).
python_assets += build_targeting_assets()
asset_checks += build_targeting_checks()

# CLV scoring (issue 5): candidate + blocking checks, then marts/customer_scores, model_runs,
# model_backtest.
python_assets += scoring_assets
asset_checks += scoring_checks

_upstream = [
    key
    for asset in [*ingest_assets, *dbt_asset_defs, *python_assets]
    for key in asset.keys
    if key.path[0] == "marts"
]
publish_asset = build_publish_asset(_upstream)

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    tags={WRITER_TAG: "true"},
    description="Ingest → dbt → scoring → targeting → publish, one warehouse writer at a time.",
)

schedules, sensors = build_schedules(settings, nightly_job)

defs = dg.Definitions(
    assets=[*ingest_assets, *dbt_asset_defs, *python_assets, publish_asset],
    asset_checks=asset_checks,
    jobs=[nightly_job],
    schedules=schedules,
    sensors=sensors,
    resources={
        "crm": CrmResource(),
        "dbt": CrmDbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    },
    # One process writes the DuckDB build database: steps run one after another.
    executor=dg.in_process_executor,
)
