"""Dagster assets of the targeting step: lists, outbox, campaign results."""

import dagster as dg

from pipelines.progress import report
from pipelines.resources import CrmResource
from pipelines.targeting.config import SOURCE_TABLES, TargetingConfigError, load_targeting_config
from pipelines.targeting.lists import build_target_lists
from pipelines.targeting.outbox import write_outbox
from pipelines.targeting.results import build_campaign_results
from pipelines.targeting.sources import MissingSourceError
from pipelines.warehouse import work_db

TARGET_LISTS_KEY = dg.AssetKey(["marts", "target_lists"])
MEMBERS_KEY = dg.AssetKey(["marts", "target_list_members"])
OUTBOX_KEY = dg.AssetKey(["outbox", "target_lists"])
RESULTS_KEY = dg.AssetKey(["marts", "campaign_results"])

_CORE_DEPS = [
    dg.AssetKey(["marts", "dim_customers"]),
    dg.AssetKey(["marts", "fct_contacts"]),
]
_OPTIONAL_DEPS = [dg.AssetKey(["marts", name]) for name in SOURCE_TABLES if name != "dim_customers"]
_RESULTS_DEPS = [
    dg.AssetKey(["marts", "fct_orders"]),
    dg.AssetKey(["marts", "fct_contacts"]),
    dg.AssetKey(["marts", "dim_campaigns"]),
]


def build_targeting_assets() -> list[dg.AssetsDefinition]:
    """The targeting assets.

    They depend on every mart a list may read (customer_scores, customer_rfm, ...), so they
    run after them wherever those assets are defined; a key no asset defines (a step not
    merged yet) shows as an external asset and the list step fails clearly at run time
    if a list needs it.
    """
    list_deps = [*_CORE_DEPS, *_OPTIONAL_DEPS]
    results_deps = _RESULTS_DEPS

    @dg.multi_asset(
        name="target_lists",
        specs=[
            dg.AssetSpec(
                TARGET_LISTS_KEY,
                deps=list_deps,
                group_name="targeting",
                kinds={"duckdb", "python"},
                description="One row per list run: counts at each suppression stage, "
                "treated, control, expected cost and value (history, by as_of).",
            ),
            dg.AssetSpec(
                MEMBERS_KEY,
                deps=list_deps,
                group_name="targeting",
                kinds={"duckdb", "python"},
                description="Selected customers per list run, treated or control, with "
                "rank, score, P(response), expected value, offer (history, by as_of).",
            ),
        ],
    )
    def target_lists(context: dg.AssetExecutionContext, crm: CrmResource):
        settings = crm.settings
        as_of = crm.as_of(context)
        try:
            cfg = load_targeting_config(settings)
            with work_db(settings) as con:
                runs = build_target_lists(con, cfg, as_of)
        except (TargetingConfigError, MissingSourceError, RuntimeError) as exc:
            # a clear one-line reason in the run summary, not just "error in op"
            report("targeting", f"FAILED: {exc}", context)
            raise dg.Failure(description=f"target lists: {exc}") from exc
        for r in runs:
            report(
                "targeting",
                f"{r.list_name}: audience {r.audience}, eligible {r.eligible}, "
                f"treated {r.treated}, control {r.control}, EV {r.expected_value:,.0f}",
                context,
            )
        summary = {
            r.list_name: {
                "audience": r.audience,
                **{f"suppressed_{k}": v for k, v in r.stages.items()},
                "eligible": r.eligible,
                "cut_negative_ev": r.cut_negative_ev,
                "cut_budget": r.cut_budget,
                "treated": r.treated,
                "control": r.control,
            }
            for r in runs
        }
        yield dg.MaterializeResult(
            asset_key=TARGET_LISTS_KEY,
            metadata={
                "as_of": as_of.isoformat(),
                "lists_file": str(cfg.lists_file),
                "lists": dg.MetadataValue.json(summary),
            },
        )
        yield dg.MaterializeResult(
            asset_key=MEMBERS_KEY,
            metadata={
                "treated": sum(r.treated for r in runs),
                "control": sum(r.control for r in runs),
            },
        )

    @dg.asset(
        key=OUTBOX_KEY,
        deps=[TARGET_LISTS_KEY, MEMBERS_KEY],
        group_name="targeting",
        kinds={"csv"},
        description="outbox/<as_of>/<list>.csv (treated only, channel fields only) and "
        "manifest.json, verified and renamed into place atomically.",
    )
    def outbox(context: dg.AssetExecutionContext, crm: CrmResource) -> dg.MaterializeResult:
        settings = crm.settings
        as_of = crm.as_of(context)
        cfg = load_targeting_config(settings)
        with work_db(settings) as con:
            folder = write_outbox(con, cfg, settings.outbox_dir, as_of, context.run_id)
        report("targeting", f"outbox {folder}", context)
        return dg.MaterializeResult(metadata={"path": str(folder), "as_of": as_of.isoformat()})

    @dg.asset(
        key=RESULTS_KEY,
        deps=[TARGET_LISTS_KEY, MEMBERS_KEY, *results_deps],
        group_name="targeting",
        kinds={"duckdb", "python"},
        description="Closed loop: per list run treated/control responders, uplift with "
        "z-test, incremental revenue and margin, cost, ROI; response rates of external "
        "campaigns.",
    )
    def campaign_results(
        context: dg.AssetExecutionContext, crm: CrmResource
    ) -> dg.MaterializeResult:
        settings = crm.settings
        as_of = crm.as_of(context)
        cfg = load_targeting_config(settings)
        with work_db(settings) as con:
            rows = build_campaign_results(con, cfg, as_of)
        report("targeting", f"campaign_results: {rows} campaign rows", context)
        return dg.MaterializeResult(metadata={"rows": rows, "as_of": as_of.isoformat()})

    return [target_lists, outbox, campaign_results]
