"""marts.campaign_results: the closed loop from contacts and orders back to each list run.

Per list run (marts.target_lists row with as_of <= the run's as_of):

* treated / control: members of the run (intent to treat: every exported member counts,
  whether or not a contact came back).
* responders: members with a purchase order (fct_orders.is_purchase) whose business_date
  is in [list as_of + 1, list as_of + attribution_days] (and <= the run's as_of).
* uplift = treated rate - control rate; two-sided pooled two-proportion z-test p-value and
  a 95% Wald interval.
* revenue / margin: net amount and margin of every order of the members in the window
  (margin of an order without complete cost = net_amount x economics.margin_rate).
  Incremental revenue = treated x (revenue per treated member - revenue per control
  member); the same for margin.
* contact_cost = sum over the outbound contacts carrying the run's campaign_id of their
  cost (the list's cost_per_contact when a contact has none).
* roi = (incremental margin - contact cost) / contact cost.

Campaigns from outside the project (outbound contacts whose campaign_id belongs to no
list run): contacted customers and the share of them with a purchase order within
attribution_days after their first contact of that campaign. There is no control group,
so uplift and ROI are null.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from pipelines.targeting.config import TargetingConfig
from pipelines.targeting.economics import two_proportion_ztest, uplift_confidence_interval
from pipelines.targeting.lists import LISTS_DDL, LISTS_TABLE, MEMBERS_DDL, MEMBERS_TABLE
from pipelines.targeting.sources import table_exists

RESULTS_TABLE = "marts.campaign_results"

RESULTS_COLUMNS: list[tuple[str, str]] = [
    ("as_of", "date"),
    ("source", "varchar"),
    ("campaign_id", "varchar"),
    ("campaign_name", "varchar"),
    ("list_name", "varchar"),
    ("list_as_of", "date"),
    ("strategy", "varchar"),
    ("channel", "varchar"),
    ("attribution_days", "integer"),
    ("window_start", "date"),
    ("window_end", "date"),
    ("days_observed", "integer"),
    ("window_complete", "boolean"),
    ("treated", "bigint"),
    ("control", "bigint"),
    ("contacted", "bigint"),
    ("control_contacted", "bigint"),
    ("contacts", "bigint"),
    ("treated_responders", "bigint"),
    ("control_responders", "bigint"),
    ("treated_response_rate", "double"),
    ("control_response_rate", "double"),
    ("uplift", "double"),
    ("uplift_ci_low", "double"),
    ("uplift_ci_high", "double"),
    ("z_score", "double"),
    ("p_value", "double"),
    ("treated_revenue", "double"),
    ("control_revenue", "double"),
    ("treated_margin", "double"),
    ("control_margin", "double"),
    ("incremental_revenue", "double"),
    ("incremental_margin", "double"),
    ("contact_cost", "double"),
    ("roi", "double"),
]


def _d(value: dt.date) -> str:
    return f"date '{value.isoformat()}'"


def _list_run_rows(
    con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, as_of: dt.date
) -> list[dict[str, Any]]:
    n = int(cfg.attribution_days)
    margin_rate = float(cfg.margin_rate)
    campaign_names = (
        "select campaign_id, max(campaign_name) as name from marts.dim_campaigns group by campaign_id"
        if table_exists(con, "marts.dim_campaigns")
        else "select cast(null as varchar) as campaign_id, cast(null as varchar) as name where false"
    )
    sql = f"""
        with runs as (
            select * from {LISTS_TABLE} where as_of <= {_d(as_of)}
        ),
        members as (
            select m.as_of, m.list_name, m.customer_key, m.treatment_group
            from {MEMBERS_TABLE} m
            join runs r on r.as_of = m.as_of and r.list_name = m.list_name
        ),
        orders as (
            select customer_key, business_date, is_purchase, net_amount,
                   coalesce(margin, cast(net_amount * {margin_rate!r} as decimal(38, 7))) as margin
            from marts.fct_orders
            where customer_key is not null and business_date <= {_d(as_of)}
        ),
        member_outcomes as (
            select m.as_of, m.list_name, m.customer_key, m.treatment_group,
                   coalesce(bool_or(o.is_purchase), false) as responded,
                   coalesce(sum(o.net_amount), 0) as revenue,
                   coalesce(sum(o.margin), 0) as margin
            from members m
            left join orders o
              on o.customer_key = m.customer_key
             and o.business_date > m.as_of
             and o.business_date <= m.as_of + {n}
            group by all
        ),
        per_run as (
            select as_of, list_name,
                   count(*) filter (where treatment_group = 'treated') as treated,
                   count(*) filter (where treatment_group = 'control') as control,
                   count(*) filter (where treatment_group = 'treated' and responded) as treated_responders,
                   count(*) filter (where treatment_group = 'control' and responded) as control_responders,
                   coalesce(sum(revenue) filter (where treatment_group = 'treated'), 0) as treated_revenue,
                   coalesce(sum(revenue) filter (where treatment_group = 'control'), 0) as control_revenue,
                   coalesce(sum(margin) filter (where treatment_group = 'treated'), 0) as treated_margin,
                   coalesce(sum(margin) filter (where treatment_group = 'control'), 0) as control_margin
            from member_outcomes group by as_of, list_name
        ),
        contacts as (
            select r.as_of, r.list_name, c.customer_key,
                   cast(coalesce(c.cost, r.cost_per_contact) as decimal(38, 4)) as cost
            from marts.fct_contacts c
            join runs r on r.campaign_id = c.campaign_id
            where lower(c.direction) = 'outbound' and c.business_date <= {_d(as_of)}
        ),
        contact_stats as (
            select c.as_of, c.list_name,
                   count(distinct c.customer_key) filter (where m.treatment_group = 'treated') as contacted,
                   count(distinct c.customer_key) filter (where m.treatment_group = 'control') as control_contacted,
                   count(*) as contacts,
                   sum(c.cost) as contact_cost
            from contacts c
            left join members m
              on m.as_of = c.as_of and m.list_name = c.list_name and m.customer_key = c.customer_key
            group by c.as_of, c.list_name
        ),
        names as ({campaign_names})
        select r.as_of as list_as_of, r.list_name, r.campaign_id, names.name,
               r.strategy, r.channel,
               coalesce(p.treated, 0), coalesce(p.control, 0),
               coalesce(cs.contacted, 0), coalesce(cs.control_contacted, 0),
               coalesce(cs.contacts, 0),
               coalesce(p.treated_responders, 0), coalesce(p.control_responders, 0),
               coalesce(p.treated_revenue, 0), coalesce(p.control_revenue, 0),
               coalesce(p.treated_margin, 0), coalesce(p.control_margin, 0),
               coalesce(cs.contact_cost, 0)
        from runs r
        left join per_run p on p.as_of = r.as_of and p.list_name = r.list_name
        left join contact_stats cs on cs.as_of = r.as_of and cs.list_name = r.list_name
        left join names on names.campaign_id = r.campaign_id
        order by r.as_of, r.priority, r.list_name
    """
    out: list[dict[str, Any]] = []
    for (
        list_as_of, list_name, campaign_id, name, strategy, channel,
        treated, control, contacted, control_contacted, contacts,
        xt, xc, rev_t, rev_c, mar_t, mar_c, cost,
    ) in con.execute(sql).fetchall():  # fmt: skip
        rev_t, rev_c, mar_t, mar_c, cost = (float(v) for v in (rev_t, rev_c, mar_t, mar_c, cost))
        observed = max(0, min((as_of - list_as_of).days, n))
        if observed == 0:
            # nothing observed yet: sizes and cost, but no rates or uplift
            xt = xc = rev_t = rev_c = mar_t = mar_c = None
        rt = xt / treated if treated and xt is not None else None
        rc = xc / control if control and xc is not None else None
        uplift = rt - rc if rt is not None and rc is not None else None
        if uplift is not None:
            z, p_value = two_proportion_ztest(xt, treated, xc, control)
            lo, hi = uplift_confidence_interval(xt, treated, xc, control)
        else:
            z = p_value = lo = hi = None
        if treated and control and rev_t is not None:
            inc_rev = treated * (rev_t / treated - rev_c / control)
            inc_mar = treated * (mar_t / treated - mar_c / control)
        else:
            inc_rev = inc_mar = None
        roi = (inc_mar - cost) / cost if inc_mar is not None and cost > 0 else None
        out.append(
            {
                "as_of": as_of,
                "source": "target_list",
                "campaign_id": campaign_id,
                "campaign_name": name,
                "list_name": list_name,
                "list_as_of": list_as_of,
                "strategy": strategy,
                "channel": channel,
                "attribution_days": n,
                "window_start": list_as_of + dt.timedelta(days=1),
                "window_end": list_as_of + dt.timedelta(days=n),
                "days_observed": observed,
                "window_complete": observed >= n,
                "treated": treated,
                "control": control,
                "contacted": contacted,
                "control_contacted": control_contacted,
                "contacts": contacts,
                "treated_responders": xt,
                "control_responders": xc,
                "treated_response_rate": rt,
                "control_response_rate": rc,
                "uplift": uplift,
                "uplift_ci_low": lo,
                "uplift_ci_high": hi,
                "z_score": z,
                "p_value": p_value,
                "treated_revenue": rev_t,
                "control_revenue": rev_c,
                "treated_margin": mar_t,
                "control_margin": mar_c,
                "incremental_revenue": inc_rev,
                "incremental_margin": inc_mar,
                "contact_cost": float(cost),
                "roi": roi,
            }
        )
    return out


def _external_rows(
    con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, as_of: dt.date
) -> list[dict[str, Any]]:
    n = int(cfg.attribution_days)
    margin_rate = float(cfg.margin_rate)
    names = (
        "select campaign_id, max(campaign_name) as name, max(campaign_type) as campaign_type "
        "from marts.dim_campaigns group by campaign_id"
        if table_exists(con, "marts.dim_campaigns")
        else "select cast(null as varchar) as campaign_id, cast(null as varchar) as name, "
        "cast(null as varchar) as campaign_type where false"
    )
    sql = f"""
        with contacted as (
            select campaign_id, customer_key, min(occurred_at) as first_contact_at,
                   min(business_date) as first_contact_date,
                   count(*) as contacts, sum(cast(coalesce(cost, 0) as decimal(38, 4))) as cost,
                   min(lower(channel)) as channel
            from marts.fct_contacts
            where lower(direction) = 'outbound' and campaign_id is not null
              and customer_key is not null and business_date <= {_d(as_of)}
              and campaign_id not in (select campaign_id from {LISTS_TABLE})
            group by campaign_id, customer_key
        ),
        outcomes as (
            select c.campaign_id, c.customer_key, c.first_contact_date, c.contacts, c.cost,
                   c.channel,
                   coalesce(bool_or(o.is_purchase), false) as responded,
                   coalesce(sum(o.net_amount), 0) as revenue,
                   coalesce(sum(coalesce(o.margin, cast(o.net_amount * {margin_rate!r} as decimal(38, 7)))), 0) as margin
            from contacted c
            left join marts.fct_orders o
              on o.customer_key = c.customer_key
             and o.ordered_at > c.first_contact_at
             and o.ordered_at <= c.first_contact_at + to_days({n})
             and o.business_date <= {_d(as_of)}
            group by all
        ),
        names as ({names})
        select o.campaign_id, max(names.name), max(names.campaign_type), min(o.channel),
               min(o.first_contact_date), max(o.first_contact_date),
               count(*), sum(o.contacts), count(*) filter (where o.responded),
               sum(o.revenue), sum(o.margin), sum(o.cost)
        from outcomes o left join names on names.campaign_id = o.campaign_id
        group by o.campaign_id
        order by o.campaign_id
    """
    out: list[dict[str, Any]] = []
    for (
        campaign_id, name, ctype, channel, first_day, last_day, contacted, contacts,
        responders, revenue, margin, cost,
    ) in con.execute(sql).fetchall():  # fmt: skip
        observed = max(0, min((as_of - last_day).days, n))
        out.append(
            {
                "as_of": as_of,
                "source": "external",
                "campaign_id": campaign_id,
                "campaign_name": name,
                "list_name": None,
                "list_as_of": None,
                "strategy": ctype,
                "channel": channel,
                "attribution_days": n,
                "window_start": first_day,
                "window_end": last_day + dt.timedelta(days=n),
                "days_observed": observed,
                "window_complete": observed >= n,
                "treated": contacted,
                "control": None,
                "contacted": contacted,
                "control_contacted": None,
                "contacts": contacts,
                "treated_responders": responders,
                "control_responders": None,
                "treated_response_rate": responders / contacted if contacted else None,
                "control_response_rate": None,
                "uplift": None,
                "uplift_ci_low": None,
                "uplift_ci_high": None,
                "z_score": None,
                "p_value": None,
                "treated_revenue": float(revenue),
                "control_revenue": None,
                "treated_margin": float(margin),
                "control_margin": None,
                "incremental_revenue": None,
                "incremental_margin": None,
                "contact_cost": float(cost),
                "roi": None,
            }
        )
    return out


def build_campaign_results(
    con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, as_of: dt.date
) -> int:
    """Rebuild marts.campaign_results as of ``as_of``; returns the number of rows."""
    for needed in ("marts.fct_orders", "marts.fct_contacts"):
        if not table_exists(con, needed):
            raise RuntimeError(f"campaign_results needs {needed} (core marts), not found")
    con.execute("create schema if not exists marts")
    # Lists may not have run yet (first night of a new warehouse): empty history tables.
    con.execute(LISTS_DDL)
    con.execute(MEMBERS_DDL)
    rows = _list_run_rows(con, cfg, as_of) + _external_rows(con, cfg, as_of)
    ddl = ", ".join(f"{name} {typ}" for name, typ in RESULTS_COLUMNS)
    names = [c for c, _ in RESULTS_COLUMNS]
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace table {RESULTS_TABLE} ({ddl})")
        if rows:
            con.executemany(
                f"insert into {RESULTS_TABLE} values ({', '.join('?' for _ in names)})",
                [[r[c] for c in names] for r in rows],
            )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(rows)
