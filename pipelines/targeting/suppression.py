"""Suppression: per customer and channel, the flags that keep a customer off a list.

Stages, in the order a candidate is checked (the first that applies is counted):

1. ``no_consent``           consent for the list's channel is not true (unknown = no)
2. ``unsubscribed_bounced`` an unsubscribe or hard bounce in fct_contacts (list channel, or
                            any channel with ``unsubscribe_scope: any``)
   ``unreachable``          (2b) no usable contact point for the channel, or the identity
                            step's contactable_<channel> flag is false
3. ``complaint``            a complaint within ``complaint_days``
4. ``frequency_cap``        >= ``frequency_cap_contacts`` outbound contacts, any channel,
                            within ``frequency_cap_days``
   ``recently_listed``      (4b) member (treated or control) of a list run within
                            ``relist_days`` before this run
5. ``other_list``           already selected by a higher-priority list in this run
"""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.targeting.config import TargetingConfig
from pipelines.targeting.sources import columns, table_exists

FLAGS_TABLE = "tl_flags"
CONTACT_POINTS_TABLE = "tl_contact_points"


def _quote_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join("'" + v.lower().replace("'", "''") + "'" for v in values) or "null"


def _date(value: dt.date) -> str:
    return f"date '{value.isoformat()}'"


def build_flags(
    con: duckdb.DuckDBPyConnection, cfg: TargetingConfig, as_of: dt.date, members_table: str
) -> None:
    """Create temp table tl_flags: one row per dim_customers.customer_key.

    Columns: customer_key, consent__<ch>, stopped__<ch>, reachable__<ch> for every
    configured channel, complaint, frequency_capped, recently_listed. Requires the temp
    table tl_contact_points (one row per customer_key with the contact fields).
    """
    dim_cols = set(columns(con, "marts.dim_customers"))
    as_of_sql = _date(as_of)
    stop_outcomes = _quote_list([*cfg.unsubscribe_outcomes, *cfg.hard_bounce_outcomes])
    per_channel: list[str] = []
    for ch in cfg.channels.values():
        consent = (
            f"coalesce(d.{ch.consent_column}, false)"
            if ch.consent_column and ch.consent_column in dim_cols
            else "false"
        )
        if cfg.unsubscribe_scope == "any":
            stopped = "coalesce(st.any_channel, false)"
        else:
            stopped = (
                "coalesce(list_has_any(st.channels, "
                f"[{_quote_list(list(ch.contact_channels))}]), false)"
            )
        reach_parts = [f"cp.{f} is not null" for f in ch.fields]
        if ch.contactable_column and ch.contactable_column in dim_cols:
            reach_parts.append(f"coalesce(d.{ch.contactable_column}, false)")
        reachable = " and ".join(reach_parts) if reach_parts else "true"
        per_channel += [
            f"{consent} as consent__{ch.name}",
            f"{stopped} as stopped__{ch.name}",
            f"coalesce({reachable}, false) as reachable__{ch.name}",
        ]
    if table_exists(con, members_table):
        listed = f"""
            select distinct customer_key from {members_table}
            where as_of < {as_of_sql}
              and as_of > {as_of_sql} - {int(cfg.relist_days)}
        """
    else:
        listed = "select cast(null as bigint) as customer_key where false"
    con.execute(f"""
        create or replace temp table {FLAGS_TABLE} as
        with contacts as (
            select customer_key, lower(channel) as channel, lower(direction) as direction,
                   lower(contact_type) as contact_type, lower(outcome) as outcome, business_date
            from marts.fct_contacts
            where customer_key is not null and business_date <= {as_of_sql}
        ),
        stopped as (
            select customer_key, list(distinct channel) as channels, true as any_channel
            from contacts where outcome in ({stop_outcomes})
            group by customer_key
        ),
        complaint as (
            select distinct customer_key from contacts
            where contact_type in ({_quote_list(cfg.complaint_contact_types)})
              and business_date > {as_of_sql} - {int(cfg.complaint_days)}
        ),
        capped as (
            select customer_key from contacts
            where direction = 'outbound'
              and business_date > {as_of_sql} - {int(cfg.frequency_cap_days)}
            group by customer_key
            having count(*) >= {int(cfg.frequency_cap_contacts)}
        ),
        listed as ({listed})
        select
            d.customer_key,
            {", ".join(per_channel)},
            complaint.customer_key is not null as complaint,
            capped.customer_key is not null as frequency_capped,
            listed.customer_key is not null as recently_listed
        from marts.dim_customers as d
        left join {CONTACT_POINTS_TABLE} as cp on cp.customer_key = d.customer_key
        left join stopped as st on st.customer_key = d.customer_key
        left join complaint on complaint.customer_key = d.customer_key
        left join capped on capped.customer_key = d.customer_key
        left join listed on listed.customer_key = d.customer_key
    """)


def stage_case(channel: str, taken_table: str) -> str:
    """SQL CASE naming the first suppression stage that removes a candidate, else 'passed'.

    Expects aliases ``f`` (tl_flags) and ``taken`` (customers already selected this run).
    """
    return f"""case
        when not f.consent__{channel} then 'no_consent'
        when f.stopped__{channel} then 'unsubscribed_bounced'
        when not f.reachable__{channel} then 'unreachable'
        when f.complaint then 'complaint'
        when f.frequency_capped then 'frequency_cap'
        when f.recently_listed then 'recently_listed'
        when {taken_table}.customer_key is not null then 'other_list'
        else 'passed'
    end"""
