"""Identity resolution: source customer records → persons with stable customer keys.

Steps (all in the build database, DuckDB):

1. collect records: the latest version of every customers-file record (the rule of
   ``stg_landing__customers``) plus every customer reference in transactions and contacts
   that no customers file describes;
2. normalise e-mail, phone and loyalty id (:mod:`pipelines.identity.normalise`);
3. apply the over-merge guards: blocked values, birth-date conflicts (a household phone),
   and the maximum number of records per identifier value;
4. link records that share a usable identifier value and take connected components;
5. optionally add probabilistic links (Splink) for records without a shared identifier;
6. assign stable keys (:mod:`pipelines.identity.keys`) and write, in one transaction,
   the key state, the key history, this run's record map and the quality counts.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import numpy as np

from pipelines.identity import keys
from pipelines.identity.config import IDENTIFIER_KINDS, IdentityConfig
from pipelines.identity.graph import components
from pipelines.identity.normalise import (
    AMBIGUOUS,
    BLOCKED,
    OK,
    OVER_SHARED,
    email_sql,
    loyalty_sql,
    normalise_phones_table,
    sql_literal,
)

OUTPUT_DDL = """
create schema if not exists identity;
create table if not exists identity.resolved_records (
    source_system varchar not null,
    source_customer_id varchar not null,
    record_origin varchar not null,
    customer_key bigint not null,
    link_rule varchar not null,
    matched_on varchar,
    customer_records bigint not null,
    email_address varchar,
    email_key varchar,
    email_status varchar not null,
    phone_e164 varchar,
    phone_is_mobile boolean,
    phone_status varchar not null,
    loyalty_key varchar,
    loyalty_status varchar not null,
    as_of date not null,
    run_id varchar not null
);
create table if not exists identity.quality_log (
    as_of date not null,
    run_id varchar not null,
    metric_group varchar not null,
    identifier_type varchar not null,
    status varchar not null,
    records bigint not null,
    share double
);
create table if not exists identity.runs (
    run_id varchar not null,
    as_of date not null,
    finished_at timestamp not null,
    summary json not null
);
"""

# Link rules named in the record map (besides the identifier kinds).
RULE_PROBABILISTIC = "splink"
RULE_SINGLETON = "singleton"
RULE_REFERENCE = "reference"


@dataclass
class ResolveResult:
    records: int = 0
    customer_file_records: int = 0
    customers: int = 0
    multi_record_customers: int = 0
    largest_customer: int = 0
    deterministic_links: int = 0
    probabilistic_links: int = 0
    new_keys: int = 0
    merges: int = 0
    splits: int = 0
    records_rekeyed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? "
        "and table_name = ? and table_catalog = current_database()",
        [schema, table],
    ).fetchall()[0]
    return bool(row and row[0])


# ---- 1. records --------------------------------------------------------------------------
def collect_records(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``_id_records``: one row per source record, rec_id in key order."""
    parts = []
    if _table_exists(con, "raw", "customers"):
        parts.append(
            """
            select source_system, source_customer_id, 'customer_file' as record_origin,
                   updated_at, first_name, last_name, birth_date, postal_code,
                   email, phone, loyalty_id
            from (
                select *, row_number() over (
                    partition by source_system, source_customer_id
                    order by updated_at desc, _batch_id desc, _row_number desc) as version_rank
                from raw.customers
            ) where version_rank = 1
            """
        )
    refs = []
    if _table_exists(con, "raw", "transactions"):
        refs.append(
            "select distinct source_system, source_customer_id, 'transaction_reference' as o "
            "from raw.transactions where source_customer_id is not null"
        )
    if _table_exists(con, "raw", "contacts"):
        refs.append(
            "select distinct source_system, source_customer_id, 'contact_reference' as o "
            "from raw.contacts where source_customer_id is not null"
        )
    nulls = (
        "null::timestamp, null::varchar, null::varchar, null::date, null::varchar, "
        "null::varchar, null::varchar, null::varchar"
    )
    if refs:
        ref_sql = " union all ".join(refs)
        customers_anti = (
            "anti join (select distinct source_system, source_customer_id from raw.customers) "
            "as c using (source_system, source_customer_id)"
            if parts
            else ""
        )
        parts.append(
            f"""
            select source_system, source_customer_id, min(o) as record_origin, {nulls}
            from ({ref_sql}) as refs
            {customers_anti}
            group by source_system, source_customer_id
            """
        )
    if not parts:
        parts.append(
            "select null::varchar as source_system, null::varchar as source_customer_id, "
            f"null::varchar as record_origin, {nulls} where false"
        )
    union = " union all ".join(f"({p})" for p in parts)
    con.execute(
        f"""
        create or replace temp table _id_records as
        select (row_number() over (order by source_system, source_customer_id) - 1)::bigint
                   as rec_id,
               *
        from ({union}) as r(source_system, source_customer_id, record_origin, updated_at,
                          first_name, last_name, birth_date, postal_code, email, phone,
                          loyalty_id)
        """
    )


# ---- 2. normalisation --------------------------------------------------------------------
def normalise_records(con: duckdb.DuckDBPyConnection, cfg: IdentityConfig) -> None:
    """Temp table ``_id_norm``: normalised identifiers and their pre-guard status."""
    email = email_sql("r.email", cfg)
    loyalty = loyalty_sql("r.loyalty_id", cfg)
    phone_table = normalise_phones_table(con, "_id_records", "phone", "rec_id", cfg)
    con.execute(
        f"""
        create or replace temp table _id_norm as
        select r.rec_id, r.birth_date,
               {email["address"]} as email_address,
               {email["key"]} as email_key,
               {email["status"]} as email_status,
               p.e164 as phone_e164,
               p.is_mobile as phone_is_mobile,
               p.status as phone_status,
               {loyalty["key"]} as loyalty_key,
               {loyalty["status"]} as loyalty_status
        from _id_records as r
        join {phone_table} as p on p.k = r.rec_id
        """
    )
    con.execute(f"drop table if exists {phone_table}")


# ---- 3. guards ---------------------------------------------------------------------------
def apply_guards(con: duckdb.DuckDBPyConnection, cfg: IdentityConfig) -> None:
    """Temp table ``_id_ids``: one row per (record, identifier) with its final status.

    ``link_value`` is what links: the value itself, or value|birth_date where the value's
    records name different birth dates. ``linkable`` marks rows whose link_value is
    shared by 2..max records.
    """
    selects = []
    columns = {"email": "email_key", "phone": "phone_e164", "loyalty_id": "loyalty_key"}
    statuses = {"email": "email_status", "phone": "phone_status", "loyalty_id": "loyalty_status"}
    for kind in IDENTIFIER_KINDS:
        patterns = cfg.blocked_values.get(kind, ())
        blocked = (
            " or ".join(f"regexp_full_match({columns[kind]}, {sql_literal(p)})" for p in patterns)
            or "false"
        )
        selects.append(
            f"select rec_id, '{kind}' as kind, {columns[kind]} as value, birth_date, "
            f"case when {blocked} then '{BLOCKED}' else '{OK}' end as status "
            f"from _id_norm where {statuses[kind]} = '{OK}'"
        )
    split = "true" if cfg.split_on_birth_date_conflict else "false"
    con.execute(
        f"""
        create or replace temp table _id_ids as
        with ids as ({" union all ".join(selects)}),
        births as (
            select kind, value, count(distinct birth_date) as n_births
            from ids where status = '{OK}' group by kind, value
        ),
        split as (
            select ids.rec_id, ids.kind, ids.value, ids.status,
                   case when ids.status <> '{OK}' then null
                        when {split} and b.n_births > 1 then
                            case when ids.birth_date is null then null
                                 else ids.value || '|' || cast(ids.birth_date as varchar) end
                        else ids.value end as link_value
            from ids left join births as b using (kind, value)
        ),
        sized as (
            select *,
                   case when link_value is null then 0
                        else count(*) over (partition by kind, link_value) end as n
            from split
        )
        select rec_id, kind, value, link_value, n,
               case when status <> '{OK}' then status
                    when link_value is null then '{AMBIGUOUS}'
                    when n > {int(cfg.max_records_per_identifier)} then '{OVER_SHARED}'
                    else '{OK}' end as status,
               link_value is not null and n between 2 and {int(cfg.max_records_per_identifier)}
                   as linkable
        from sized
        """
    )


# ---- 4. links and components -------------------------------------------------------------
def deterministic_edges(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
    """Star edges: each record to the first record holding the same link value."""
    arrays = con.execute(
        """
        select rec_id, min(rec_id) over (partition by kind, link_value) as root
        from _id_ids where linkable
        """
    ).fetchnumpy()
    left, right = np.asarray(arrays["rec_id"]), np.asarray(arrays["root"])
    keep = left != right
    return left[keep], right[keep]


def register_clusters(con: duckdb.DuckDBPyConnection, cluster: np.ndarray) -> None:
    import pyarrow as pa

    table = pa.table({"rec_id": np.arange(len(cluster), dtype=np.int64), "cluster": cluster})
    con.register("_id_cluster_arrow", table)
    con.execute("create or replace temp table _id_cluster as select * from _id_cluster_arrow")
    con.unregister("_id_cluster_arrow")


# ---- 6. outputs --------------------------------------------------------------------------
def build_record_map(con: duckdb.DuckDBPyConnection, prob_edges: bool) -> None:
    """Temp table ``_id_map``: record → key, link rule and normalised identifiers."""
    prob = "true" if prob_edges else "false"
    pivot = ",\n".join(
        f"max(case when kind = '{k}' then status end) as {k}_guard, "
        f"bool_or(kind = '{k}' and linkable) as {k}_linked"
        for k in IDENTIFIER_KINDS
    )
    rule = " ".join(f"when i.{k}_linked then '{k}'" for k in IDENTIFIER_KINDS)
    matched = ", ".join(f"case when i.{k}_linked then '{k}' end" for k in IDENTIFIER_KINDS)
    con.execute(
        f"""
        create or replace temp table _id_per_record as
        select rec_id, {pivot}
        from _id_ids group by rec_id;

        create or replace temp table _id_map as
        with sizes as (
            select customer_key, count(*) as customer_records from _id_keyed group by 1
        )
        select r.source_system, r.source_customer_id, r.record_origin, k.customer_key,
               case {rule}
                    when s.customer_records > 1 and {prob} then '{RULE_PROBABILISTIC}'
                    when r.record_origin <> 'customer_file' then '{RULE_REFERENCE}'
                    else '{RULE_SINGLETON}' end as link_rule,
               nullif(concat_ws(',', {matched}), '') as matched_on,
               s.customer_records,
               n.email_address, n.email_key,
               coalesce(i.email_guard, n.email_status) as email_status,
               n.phone_e164, n.phone_is_mobile,
               coalesce(i.phone_guard, n.phone_status) as phone_status,
               n.loyalty_key,
               coalesce(i.loyalty_id_guard, n.loyalty_status) as loyalty_status
        from _id_records as r
        join _id_keyed as k using (rec_id)
        join sizes as s using (customer_key)
        join _id_norm as n using (rec_id)
        left join _id_per_record as i using (rec_id)
        """
    )


def quality_rows(con: duckdb.DuckDBPyConnection, result: ResolveResult) -> None:
    """Temp table ``_id_quality``: identifier statuses and resolution figures."""
    selects = [
        f"select 'identifier' as metric_group, '{kind}' as identifier_type, "
        f"{col} as status, count(*) as records from _id_map "
        f"where record_origin = 'customer_file' group by {col}"
        for kind, col in (
            ("email", "email_status"),
            ("phone", "phone_status"),
            ("loyalty_id", "loyalty_status"),
        )
    ]
    figures = {
        "records": result.records,
        "customer_file_records": result.customer_file_records,
        "customers": result.customers,
        "multi_record_customers": result.multi_record_customers,
        "largest_customer_records": result.largest_customer,
        "deterministic_links": result.deterministic_links,
        "probabilistic_links": result.probabilistic_links,
        "new_keys": result.new_keys,
        "merges": result.merges,
        "splits": result.splits,
        "records_rekeyed": result.records_rekeyed,
    }
    selects.append(
        " union all ".join(
            f"select 'resolution', 'customer', '{name}', {int(value)}"
            for name, value in figures.items()
        )
    )
    con.execute(
        f"""
        create or replace temp table _id_quality as
        select metric_group, identifier_type, status, records::bigint as records,
               case when metric_group = 'identifier' then
                   records / nullif(sum(records) over (partition by metric_group,
                                                       identifier_type), 0)
               end as share
        from ({" union all ".join(selects)})
        """
    )


def write_outputs(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    run_id: str,
    summary: dict[str, Any],
    before_commit=None,
) -> None:
    """Key state, history, record map and quality in ONE transaction (crash-safe)."""
    import json

    con.execute(OUTPUT_DDL)
    keys.ensure_state(con)
    con.execute("begin transaction")
    try:
        keys.write_keys(con, as_of, run_id)
        con.execute("delete from identity.resolved_records")
        con.execute(
            "insert into identity.resolved_records select *, ?::date, ? from _id_map "
            "order by source_system, source_customer_id",
            [as_of, run_id],
        )
        con.execute("delete from identity.quality_log where as_of = ?", [as_of])
        con.execute(
            "insert into identity.quality_log select ?::date, ?, metric_group, identifier_type, "
            "status, records, share from _id_quality order by 3, 4, 5",
            [as_of, run_id],
        )
        con.execute(
            "insert into identity.runs values (?, ?::date, current_timestamp::timestamp, ?)",
            [run_id, as_of, json.dumps(summary)],
        )
        if before_commit is not None:
            before_commit(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


# ---- orchestration -----------------------------------------------------------------------
def resolve_identities(
    con: duckdb.DuckDBPyConnection,
    cfg: IdentityConfig,
    as_of: dt.date,
    run_id: str,
    *,
    before_commit=None,
) -> ResolveResult:
    """Run the whole resolution on the open build database and persist the result."""
    result = ResolveResult()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[name] = round(now - clock, 3)
        clock = now

    collect_records(con)
    lap("collect")
    normalise_records(con, cfg)
    lap("normalise")
    apply_guards(con, cfg)
    left, right = deterministic_edges(con)
    n = int(con.execute("select count(*) from _id_records").fetchall()[0][0])
    cluster = components(n, left, right)
    result.deterministic_links = len(left)
    lap("link")
    if cfg.probabilistic_enabled and n:
        from pipelines.identity.probabilistic import probabilistic_edges

        register_clusters(con, cluster)
        p_left, p_right = probabilistic_edges(con, cfg)
        result.probabilistic_links = len(p_left)
        if len(p_left):
            cluster = components(
                n, np.concatenate([left, p_left]), np.concatenate([right, p_right])
            )
        lap("probabilistic")
    register_clusters(con, cluster)
    changes = keys.plan_keys(con)
    lap("keys")
    build_record_map(con, cfg.probabilistic_enabled)
    stats = con.execute(
        """
        select count(*), count(*) filter (where record_origin = 'customer_file'),
               count(distinct customer_key),
               coalesce(max(customer_records), 0)
        from _id_map
        """
    ).fetchall()[0]
    multi = con.execute(
        "select count(distinct customer_key) from _id_map where customer_records > 1"
    ).fetchall()[0]
    result.records, result.customer_file_records, result.customers = (
        int(stats[0]),
        int(stats[1]),
        int(stats[2]),
    )
    result.largest_customer = int(stats[3])
    result.multi_record_customers = int(multi[0])
    result.new_keys, result.merges, result.splits = (
        changes.new_keys,
        changes.merges,
        changes.splits,
    )
    result.records_rekeyed = changes.records_rekeyed
    quality_rows(con, result)
    lap("map")
    write_outputs(con, as_of, run_id, result.to_dict(), before_commit=before_commit)
    lap("write")
    for t in (
        "_id_records",
        "_id_norm",
        "_id_ids",
        "_id_cluster",
        "_id_prev",
        "_id_parts",
        "_id_home",
        "_id_cluster_key",
        "_id_keyed",
        "_id_key_changes",
        "_id_per_record",
        "_id_map",
        "_id_quality",
    ):
        con.execute(f"drop table if exists {t}")
    return result
