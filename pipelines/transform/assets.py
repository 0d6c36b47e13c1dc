"""dbt models and tests as Dagster assets and asset checks."""

import functools
import importlib
import json
import os
import threading
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from pipelines.progress import report
from pipelines.resources import CrmResource
from pipelines.run_report import as_dicts, dbt_layer_figures
from pipelines.settings import Settings
from pipelines.transform.project import (
    build_target_dir,
    load_dbt_project,
    start_build_parse,
    wait_for_build_parse,
)

# Models tagged like this run after the Python scoring/targeting assets.
AFTER_SCORING_TAG = "after_scoring"

# Imported lazily by the assets after dbt (the scoring backtest): a thread imports them while
# the dbt step's main thread mostly waits for dbt, so neither start-up nor scoring pays ~1 s.
IMPORTED_DURING_DBT = ("scipy.stats",)


class CrmDbtTranslator(DagsterDbtTranslator):
    """Models are keyed [schema, name]; sources use meta.dagster.asset_key (raw/<entity>)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return f"dbt_{dbt_resource_props['schema']}"
        return super().get_group_name(dbt_resource_props)


translator = CrmDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
dbt_project = load_dbt_project(Settings.load())


def _has_after_scoring_models() -> bool:
    return any(
        AFTER_SCORING_TAG in node.get("tags", [])
        for node in _manifest_nodes().values()
        if node["resource_type"] == "model"
    )


def _import_modules(names: tuple[str, ...]) -> None:
    for name in names:
        importlib.import_module(name)


@functools.cache
def _manifest_nodes() -> dict[str, dict]:
    return json.loads(dbt_project.manifest_path.read_text(encoding="utf-8"))["nodes"]


def _record_duration(event: Any, seconds_by_node: dict[str, float]) -> None:
    """dagster-dbt puts each node's unique_id and execution time on its events."""
    metadata = getattr(event, "metadata", None) or {}
    unique_id, seconds = metadata.get("unique_id"), metadata.get("Execution Duration")
    if unique_id is not None and seconds is not None:
        seconds_by_node[str(getattr(unique_id, "value", unique_id))] = float(
            getattr(seconds, "value", seconds)
        )


def _run_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, crm: CrmResource):
    settings = crm.settings
    # as_of goes in CRM_AS_OF, not --vars: dbt keys its parse cache on --vars
    os.environ.update(settings.dbt_env(crm.as_of(context)))
    args = ["build", "--vars", json.dumps(settings.dbt_shared_vars())]
    # dbt unit tests check SQL logic, not tonight's data: they run in the test suite
    # (tests/foundation/test_dbt_unit_tests.py), not in every nightly build.
    args += ["--exclude-resource-type", "unit_test"]
    # No manifest.json/run_results.json (~1.5 s a night): Dagster has the manifest, and the
    # node timings come with the streamed events.
    args.append("--no-write-json")
    if crm.full_refresh(context):
        args.append("--full-refresh")
    report("dbt", f"dbt build {' '.join(args[3:])} (as_of {crm.as_of(context)})", context)
    # A fixed target dir per dbt step (not dagster-dbt's unique one per run): dbt's partial
    # parse cache is reused night after night and old target dirs don't pile up.
    threading.Thread(target=_import_modules, args=(IMPORTED_DURING_DBT,), daemon=True).start()
    target = build_target_dir(settings, context.op_execution_context.op.name)
    start_build_parse(settings, target.name)  # no-op when `crm run` or `crm prepare` did it
    wait_for_build_parse(target)
    invocation = dbt.cli(args, context=context, raise_on_error=True, target_path=target)
    seconds_by_node: dict[str, float] = {}
    for event in invocation.stream():
        _record_duration(event, seconds_by_node)
        yield event
    layers = dbt_layer_figures(seconds_by_node, _manifest_nodes())
    (target / "layer_seconds.json").write_text(json.dumps(as_dicts(layers)), encoding="utf-8")
    for figure in layers:
        report("dbt", f"{figure.stage}: {figure.seconds:.1f}s", context)
    report("dbt", "dbt build finished", context)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=f"tag:{AFTER_SCORING_TAG}",
    name="dbt_models",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, crm: CrmResource):
    yield from _run_dbt(context, dbt, crm)


dbt_asset_defs: list[dg.AssetsDefinition] = [dbt_models]

if _has_after_scoring_models():

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=translator,
        select=f"tag:{AFTER_SCORING_TAG}",
        name="dbt_after_scoring",
    )
    def dbt_after_scoring(context: dg.AssetExecutionContext, dbt: DbtCliResource, crm: CrmResource):
        yield from _run_dbt(context, dbt, crm)

    dbt_asset_defs.append(dbt_after_scoring)
