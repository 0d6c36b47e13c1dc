"""Build one night's target lists: audience, suppression, economics, control, cut.

Writes marts.target_lists (one row per list run) and marts.target_list_members (one row
per selected customer, treated or control). Both keep history across nights; a rerun for
the same as_of replaces that as_of's rows. A list run is identified by (as_of, list_name)
and its campaign_id; the tables carry no Dagster run id, so a rerun on the same inputs
reproduces them exactly (the outbox manifest records the run id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipelines.targeting.config import (
    SOURCE_OWNERS,
    SOURCE_TABLES,
    STAGES,
    TargetingConfig,
    TargetList,
    referenced_sources,
)
from pipelines.targeting.economics import control_hash_sql, p_response_sql
from pipelines.targeting.sources import (
    MissingSourceError,
    contact_points_sql,
    require_tables,
    require_unique_keys,
    table_exists,
)
from pipelines.targeting.suppression import (
    CONTACT_POINTS_TABLE,
    FLAGS_TABLE,
    build_flags,
    stage_case,
)

LISTS_TABLE = "marts.target_lists"
MEMBERS_TABLE = "marts.target_list_members"

LISTS_DDL = f"""
create table if not exists {LISTS_TABLE} (
    as_of date not null,
    list_name varchar not null,
    campaign_id varchar not null,
    strategy varchar,
    priority integer,
    channel varchar,
    offer varchar,
    cost_per_contact double,
    expected_response_rate double,
    control_share double,
    max_size bigint,
    budget double,
    audience bigint,
    suppressed_no_consent bigint,
    suppressed_unsubscribed_bounced bigint,
    suppressed_unreachable bigint,
    suppressed_complaint bigint,
    suppressed_frequency_cap bigint,
    suppressed_recently_listed bigint,
    suppressed_other_list bigint,
    eligible bigint,
    cut_negative_ev bigint,
    cut_budget bigint,
    selected bigint,
    treated bigint,
    control bigint,
    expected_responses double,
    expected_cost double,
    expected_margin double,
    expected_value double,
    outbox_file varchar
)
"""

MEMBERS_DDL = f"""
create table if not exists {MEMBERS_TABLE} (
    as_of date not null,
    list_name varchar not null,
    campaign_id varchar not null,
    customer_key bigint not null,
    treatment_group varchar not null,
    rank bigint not null,
    score double,
    p_response double,
    expected_margin double,
    expected_value double,
    control_hash double,
    offer varchar,
    category varchar,
    reason varchar
)
"""

_COMPUTED_RANKINGS = {"expected_value", "p_response", "expected_margin"}


@dataclass(frozen=True)
class ListRun:
    """Counts of one list in one run (mirrors a marts.target_lists row)."""

    list_name: str
    campaign_id: str
    audience: int
    stages: dict[str, int]
    eligible: int
    cut_negative_ev: int
    cut_budget: int
    treated: int
    control: int
    expected_value: float
    expected_cost: float


def _sql_date(value: dt.date) -> str:
    return f"date '{value.isoformat()}'"


def _lit(value: str | None) -> str:
    return "null" if value is None else "'" + value.replace("'", "''") + "'"


def sources_for(cfg: TargetingConfig, target: TargetList) -> list[str]:
    """The marts a list reads (dim_customers always)."""
    exprs = target.expressions()
    if not target.response_score:
        exprs.append(cfg.default_response_score)
    if not target.expected_margin and not target.expected_order_value:
        exprs.append(cfg.default_expected_order_value)
    refs = referenced_sources(exprs)
    return ["dim_customers", *[r for r in refs if r != "dim_customers"]]


def _candidates_sql(
    cfg: TargetingConfig, target: TargetList, sources: list[str], as_of: dt.date
) -> str:
    joins = [
        f"left join {SOURCE_TABLES[s]} as {s} on {s}.customer_key = dim_customers.customer_key"
        for s in sources
        if s != "dim_customers"
    ]
    ranking = "null" if target.ranking.strip() in _COMPUTED_RANKINGS else f"({target.ranking})"
    response_score = target.response_score or cfg.default_response_score
    if target.expected_margin:
        margin = f"({target.expected_margin})"
    else:
        eov = target.expected_order_value or cfg.default_expected_order_value
        margin = f"({eov}) * (run.margin_rate - {float(target.discount_rate)!r})"
    return f"""
        select
            dim_customers.customer_key,
            cast({ranking} as double) as rank_score,
            cast(({response_score}) as double) as response_score,
            cast({margin} as double) as expected_margin,
            cast({f"({target.category})" if target.category else "null"} as varchar) as category,
            cast({f"({target.reason})" if target.reason else "null"} as varchar) as reason,
            {stage_case(target.channel, "taken")} as stage
        from marts.dim_customers as dim_customers
        {" ".join(joins)}
        cross join (
            select {_sql_date(as_of)} as as_of, {cfg.margin_rate!r} as margin_rate
        ) as run
        join {FLAGS_TABLE} as f on f.customer_key = dim_customers.customer_key
        left join tl_taken as taken on taken.customer_key = dim_customers.customer_key
        where coalesce(({target.audience}), false)
    """


def _build_one(
    con: duckdb.DuckDBPyConnection,
    cfg: TargetingConfig,
    target: TargetList,
    as_of: dt.date,
) -> ListRun:
    sources = sources_for(cfg, target)
    campaign_id = cfg.campaign_id(target.name, as_of)
    try:
        con.execute(
            "create or replace temp table tl_cand as "
            + _candidates_sql(cfg, target, sources, as_of)
        )
    except duckdb.Error as exc:
        raise RuntimeError(
            f"list {target.name!r} ({cfg.lists_file}): its SQL does not run: {exc}"
        ) from exc

    ranking = target.ranking.strip()
    rank_expr = ranking if ranking in _COMPUTED_RANKINGS else "rank_score"
    max_treated = target.max_treated()
    limit = "true" if max_treated is None else f"treated_before < {int(max_treated)}"
    p_resp = p_response_sql(
        target.expected_response_rate,
        cfg.max_response_probability,
        "response_score",
        "m.mean_score",
    )
    con.execute(f"""
        create or replace temp table tl_scored as
        with passed as (select * from tl_cand where stage = 'passed'),
        m as (select sum(greatest(response_score, 0) order by customer_key) / count(response_score) as mean_score from passed),
        econ as (
            select passed.*,
                   {p_resp} as p_response,
                   coalesce(passed.expected_margin, 0) as margin_or_zero
            from passed cross join m
        ),
        valued as (
            select *, p_response * margin_or_zero - {target.cost_per_contact!r} as expected_value
            from econ
        ),
        ranked as (
            select *,
                   row_number() over (
                       order by {rank_expr} desc nulls last, customer_key
                   ) as candidate_rank,
                   {control_hash_sql(cfg.control_seed, target.name, "customer_key")} as u
            from valued
            where expected_value >= 0
        ),
        grouped as (
            select *,
                   u < {target.control_share!r} as is_control,
                   coalesce(sum(case when u < {target.control_share!r} then 0 else 1 end) over (
                       order by candidate_rank rows between unbounded preceding and 1 preceding
                   ), 0) as treated_before
            from ranked
        )
        select * from grouped where {limit}
    """)
    con.execute(f"""
        insert into tl_members_run
        select {_sql_date(as_of)}, {_lit(target.name)}, {_lit(campaign_id)},
               customer_key,
               case when is_control then 'control' else 'treated' end,
               candidate_rank,
               {rank_expr},
               p_response, margin_or_zero, expected_value, u,
               {_lit(target.offer)}, category, reason
        from tl_scored
    """)
    con.execute("insert into tl_taken select customer_key from tl_scored")

    stage_counts = dict(
        con.execute("select stage, count(*) from tl_cand group by stage").fetchall()
    )
    audience = sum(stage_counts.values())
    passed = int(stage_counts.get("passed", 0))
    negative = con.execute(f"""
        with m as (select sum(greatest(response_score, 0) order by customer_key) / count(response_score) as mean_score from tl_cand
                   where stage = 'passed')
        select count(*) from tl_cand cross join m
        where stage = 'passed'
          and {p_resp} * coalesce(expected_margin, 0) - {target.cost_per_contact!r} < 0
    """).fetchone()[0]
    treated, control, exp_resp, exp_margin, exp_value = con.execute("""
        select count(*) filter (where not is_control), count(*) filter (where is_control),
               coalesce(sum(p_response order by candidate_rank) filter (where not is_control), 0),
               coalesce(sum(p_response * margin_or_zero order by candidate_rank) filter (where not is_control), 0),
               coalesce(sum(expected_value order by candidate_rank) filter (where not is_control), 0)
        from tl_scored
    """).fetchone()
    selected = int(treated) + int(control)
    cut_budget = passed - int(negative) - selected
    stages = {s: int(stage_counts.get(s, 0)) for s in STAGES}
    expected_cost = int(treated) * target.cost_per_contact
    con.execute(
        "insert into tl_lists_run values (" + ", ".join(["?"] * 31) + ")",
        [
            as_of,
            target.name,
            campaign_id,
            target.strategy,
            target.priority,
            target.channel,
            target.offer,
            target.cost_per_contact,
            target.expected_response_rate,
            target.control_share,
            target.max_size,
            target.budget,
            audience,
            *[stages[s] for s in STAGES],
            passed,
            int(negative),
            cut_budget,
            selected,
            int(treated),
            int(control),
            float(exp_resp),
            expected_cost,
            float(exp_margin),
            float(exp_value),
            f"{as_of.isoformat()}/{target.name}.csv",
        ],
    )
    return ListRun(
        list_name=target.name,
        campaign_id=campaign_id,
        audience=audience,
        stages=stages,
        eligible=passed,
        cut_negative_ev=int(negative),
        cut_budget=cut_budget,
        treated=int(treated),
        control=int(control),
        expected_value=float(exp_value),
        expected_cost=float(expected_cost),
    )


def build_target_lists(
    con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, as_of: dt.date
) -> list[ListRun]:
    """Build every enabled list for ``as_of`` and replace that as_of's rows in the marts."""
    lists = cfg.enabled_lists()
    require_tables(con, ["dim_customers"], "targeting")
    for needed in ("marts.fct_contacts",):
        schema, table = needed.split(".")
        if not con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]:
            raise RuntimeError(f"targeting needs {needed} (core marts), not found")
    # Fail early and clearly: every list's sources, before any work.
    needed_by: dict[str, list[str]] = {}
    for target in lists:
        for source in sources_for(cfg, target):
            needed_by.setdefault(source, []).append(target.name)
    missing = [s for s in needed_by if not table_exists(con, SOURCE_TABLES[s])]
    if missing:
        raise MissingSourceError(
            "target lists need tables that are not in the build database: "
            + "; ".join(
                f"{SOURCE_TABLES[s]} (built by {SOURCE_OWNERS.get(s, 'the core marts')}) "
                f"for {', '.join(needed_by[s])}"
                for s in missing
            )
            + f". Build those steps first, or disable/adjust the lists in {cfg.lists_file}."
        )
    require_unique_keys(con, sorted({s for t in lists for s in sources_for(cfg, t)}))

    cp_sql, _ = contact_points_sql(con, cfg)
    con.execute(f"create or replace temp table {CONTACT_POINTS_TABLE} as {cp_sql}")
    build_flags(con, cfg, as_of, MEMBERS_TABLE)
    con.execute("create or replace temp table tl_taken (customer_key bigint)")
    con.execute("create schema if not exists marts")
    con.execute(LISTS_DDL)
    con.execute(MEMBERS_DDL)
    con.execute(f"create or replace temp table tl_lists_run as select * from {LISTS_TABLE} limit 0")
    con.execute(
        f"create or replace temp table tl_members_run as select * from {MEMBERS_TABLE} limit 0"
    )
    runs = [_build_one(con, cfg, target, as_of) for target in lists]

    con.execute("begin transaction")
    try:
        con.execute(f"delete from {LISTS_TABLE} where as_of = ?", [as_of])
        con.execute(f"delete from {MEMBERS_TABLE} where as_of = ?", [as_of])
        con.execute(f"insert into {LISTS_TABLE} select * from tl_lists_run")
        con.execute(
            f"insert into {MEMBERS_TABLE} select * from tl_members_run order by list_name, rank"
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return runs
