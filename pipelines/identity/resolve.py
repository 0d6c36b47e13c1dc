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

import dataclasses
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
    apply_phone_fallback,
    identifiers_query,
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
    email_key varchar,
    email_status varchar not null,
    phone_e164 varchar,
    phone_is_mobile boolean,
    phone_status varchar not null,
    loyalty_status varchar not null,
    first_as_of date not null,
    changed_as_of date not null
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
    map_rows_written: int = 0
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


# ---- 1+2. records and normalisation --------------------------------------------------
VALUE_COLUMNS = {"email": "email_key", "phone": "phone_e164", "loyalty_id": "loyalty_key"}
STATUS_COLUMNS = {"email": "email_status", "phone": "phone_status", "loyalty_id": "loyalty_status"}

# The latest version of every customers-file record (stg_landing__customers' rule).
LATEST_CUSTOMERS_SQL = """
    select * from raw.customers
    where rowid in (
        select arg_max(rowid, (updated_at, _batch_id, _row_number))
        from raw.customers
        group by source_system, source_customer_id
    )
"""


def collect_records(con: duckdb.DuckDBPyConnection, cfg: IdentityConfig) -> None:
    """Temp view ``_id_records``: one row per source record with normalised identifiers.

    ``rec_id`` numbers the records 0..n-1 for the graph (in no particular order);
    ``rec_order`` (a hash of source_system and source_customer_id) orders them where the
    order matters (tie-breaks, numbering of new keys), so results are deterministic.
    """
    parts = []
    if _table_exists(con, "raw", "customers"):
        parts.append(
            "select source_system, source_customer_id, 'customer_file' as record_origin, "
            f"birth_date, email, phone, loyalty_id from ({LATEST_CUSTOMERS_SQL})"
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
    nulls = "null::date, null::varchar, null::varchar, null::varchar"
    if refs:
        customers_anti = (
            "anti join (select distinct source_system, source_customer_id from raw.customers) "
            "as c using (source_system, source_customer_id)"
            if parts
            else ""
        )
        parts.append(
            f"""
            select source_system, source_customer_id, min(o) as record_origin, {nulls}
            from ({" union all ".join(refs)}) as refs
            {customers_anti}
            group by source_system, source_customer_id
            """
        )
    if not parts:
        parts.append(f"select null::varchar, null::varchar, null::varchar, {nulls} where false")
    union = " union all ".join(f"({p})" for p in parts)
    # No row_number() here: a window would run the whole (regex-heavy) pipeline on one
    # thread. The rowid of the freshly built table numbers the records 0..n-1.
    con.execute(
        f"""
        create or replace temp table _id_records_base as
        with recs as (
            select * from ({union}) as r(source_system, source_customer_id, record_origin,
                                        birth_date, email, phone, loyalty_id)
        ),
        ordered as (
            select (hash(source_system, '|', source_customer_id) >> 1)::bigint as rec_order, *
            from recs
        )
        select * from ({identifiers_query("ordered", cfg)})
        """
    )
    apply_phone_fallback(con, "_id_records_base", cfg)
    con.execute(
        "create or replace temp view _id_records as "
        "select rowid::bigint as rec_id, * from _id_records_base"
    )
    lo, hi, n = con.execute(
        "select coalesce(min(rec_id), 0), coalesce(max(rec_id), -1), count(*) from _id_records"
    ).fetchall()[0]
    if (lo, hi) != (0, n - 1):  # pragma: no cover - DuckDB numbers a new table densely
        raise RuntimeError(f"record ids are not dense: {lo}..{hi} for {n} records")


# ---- 3. guards ---------------------------------------------------------------------------
def apply_guards(con: duckdb.DuckDBPyConnection, cfg: IdentityConfig) -> None:
    """Temp table ``_id_guard``: per record and identifier the final status and link value.

    ``<kind>_link`` is what links (null when the value links nothing): the value itself,
    or value|birth_date where the value's records name different birth dates.
    ``<kind>_guard`` is the status after the guards.

    Only values held by two or more records (or blocked) need a look-up, so the
    statistics are grouped per distinct value and joined back.
    """
    max_n = int(cfg.max_records_per_identifier)
    split = "true" if cfg.split_on_birth_date_conflict else "false"
    ctes, selects, joins = [], [], []
    for kind in IDENTIFIER_KINDS:
        col, status = VALUE_COLUMNS[kind], STATUS_COLUMNS[kind]
        patterns = cfg.blocked_values.get(kind, ())
        blocked = (
            f"regexp_full_match(value, {sql_literal('|'.join(f'(?:{p})' for p in patterns))})"
            if patterns
            else "false"
        )
        ctes.append(
            f"""
            {kind}_stats as (
                select * from (
                    select value, count(*) as n,
                           coalesce(min(birth_date) <> max(birth_date), false) as conflict,
                           {blocked} as blocked
                    from (select {col} as value, birth_date from _id_records
                          where {status} = '{OK}')
                    group by value
                ) where n > 1 or blocked
            ),
            {kind}_births as (
                select n.{col} as value, n.birth_date, count(*) as n
                from _id_records as n
                join {kind}_stats as s on s.value = n.{col}
                where {split} and s.conflict and not s.blocked and n.birth_date is not null
                group by n.{col}, n.birth_date
            )"""
        )
        a, b = f"{kind}_s", f"{kind}_b"
        splitting = f"({split} and coalesce({a}.conflict, false))"
        size = f"coalesce(case when {splitting} then {b}.n else {a}.n end, 1)"
        selects.append(
            f"""
            case when n.{status} <> '{OK}' then n.{status}
                 when {a}.blocked then '{BLOCKED}'
                 when {splitting} and n.birth_date is null then '{AMBIGUOUS}'
                 when {size} > {max_n} then '{OVER_SHARED}'
                 else '{OK}' end as {kind}_guard,
            case when n.{status} = '{OK}' and not coalesce({a}.blocked, false)
                      and {size} between 2 and {max_n}
                      and not ({splitting} and n.birth_date is null)
                 then case when {splitting}
                           then n.{col} || '|' || cast(n.birth_date as varchar)
                           else n.{col} end
            end as {kind}_link"""
        )
        joins.append(
            f"""
            left join {kind}_stats as {a} on n.{status} = '{OK}' and {a}.value = n.{col}
            left join {kind}_births as {b} on {b}.value = n.{col}
                and {b}.birth_date = n.birth_date"""
        )
    con.execute(
        f"""
        create or replace temp table _id_guard as
        with {",".join(ctes)}
        select n.rec_id, {",".join(selects)}
        from _id_records as n
        {" ".join(joins)}
        """
    )


# ---- 4. links and components -------------------------------------------------------------
def deterministic_edges(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
    """Star edges: each record to the first record holding the same link value."""
    links = " union all ".join(
        f"select rec_id, '{k}' as kind, {k}_link as link from _id_guard where {k}_link is not null"
        for k in IDENTIFIER_KINDS
    )
    arrays = con.execute(
        f"""
        select rec_id, min(rec_id) over (partition by kind, link) as root
        from ({links})
        """
    ).fetchnumpy()
    left, right = np.asarray(arrays["rec_id"]), np.asarray(arrays["root"])
    keep = left != right
    return left[keep], right[keep]


def register_clusters(con: duckdb.DuckDBPyConnection, labels: np.ndarray) -> None:
    """Temp table ``_id_cluster`` (rec_id, cluster).

    Clusters are numbered 0..C-1 by their smallest ``rec_order``, so the numbering (and
    with it the order in which new keys are issued) does not depend on rec_id.
    """
    import pyarrow as pa

    n = len(labels)
    rec_order = np.empty(n, dtype=np.int64)
    got = con.execute("select rec_id, rec_order from _id_records").fetchnumpy()
    rec_order[np.asarray(got["rec_id"], dtype=np.int64)] = np.asarray(got["rec_order"])
    by = np.lexsort((rec_order, labels))  # by label, then rec_order
    first = np.ones(n, dtype=bool)
    first[1:] = labels[by][1:] != labels[by][:-1]
    heads = by[first]  # the smallest-rec_order record of every cluster
    rank = np.empty(int(labels.max()) + 1 if n else 0, dtype=np.int64)
    rank[labels[heads[np.lexsort((heads, rec_order[heads]))]]] = np.arange(len(heads))
    cluster = rank[labels] if n else labels
    table = pa.table({"rec_id": np.arange(n, dtype=np.int64), "cluster": cluster})
    con.register("_id_cluster_arrow", table)
    con.execute("create or replace temp table _id_cluster as select * from _id_cluster_arrow")
    con.unregister("_id_cluster_arrow")


# ---- 6. outputs --------------------------------------------------------------------------
def record_map_sql(prob_edges: bool) -> str:
    """This run's record map: record → key, link rule, normalised identifiers, statuses.

    Parameter: as_of. Columns in the order of ``identity.resolved_records``.
    """
    prob = "true" if prob_edges else "false"
    rule = " ".join(f"when g.{k}_link is not null then '{k}'" for k in IDENTIFIER_KINDS)
    matched = ", ".join(
        f"case when g.{k}_link is not null then '{k}' end" for k in IDENTIFIER_KINDS
    )
    return f"""
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
               r.email_key, g.email_guard as email_status,
               r.phone_e164, r.phone_is_mobile, g.phone_guard as phone_status,
               g.loyalty_id_guard as loyalty_status,
               coalesce(k.old_first_as_of, $as_of) as first_as_of,
               case when k.old_key = k.customer_key then k.old_changed_as_of
                    else $as_of end as changed_as_of
        from _id_records as r
        join _id_keyed as k using (rec_id)
        join sizes as s using (customer_key)
        join _id_guard as g using (rec_id)
    """


def _figures(con: duckdb.DuckDBPyConnection, table: str, result: ResolveResult) -> None:
    row = con.execute(
        f"""
        select count(*), count(*) filter (where record_origin = 'customer_file'),
               count(distinct customer_key),
               coalesce(max(customer_records), 0),
               count(distinct customer_key) filter (where customer_records > 1)
        from {table}
        """
    ).fetchall()[0]
    (
        result.records,
        result.customer_file_records,
        result.customers,
        result.largest_customer,
        result.multi_record_customers,
    ) = (int(v) for v in row)


def _quality_sql(result: ResolveResult) -> str:
    """Identifier statuses (from the new map) and resolution figures; params as_of, run_id."""
    selects = [
        f"select 'identifier' as metric_group, '{kind}' as identifier_type, "
        f"{col} as status, count(*) as records from identity.resolved_records "
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
    return f"""
        select $as_of, $run_id, metric_group, identifier_type, status, records::bigint,
               case when metric_group = 'identifier' then
                   records / nullif(sum(records) over (partition by metric_group,
                                                       identifier_type), 0)
               end as share
        from ({" union all ".join(selects)})
        order by metric_group, identifier_type, status
    """


def write_outputs(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    run_id: str,
    result: ResolveResult,
    prob_edges: bool,
    before_commit=None,
) -> None:
    """Record map (= key state), history, quality rows and run log in ONE transaction.

    The new map is compared with the stored one and only new, changed and vanished rows
    are written; a crash at any point leaves the previous night's state untouched.
    """
    import json

    params = {"as_of": as_of, "run_id": run_id}
    # Only new and changed rows are written: a quiet night touches few rows of the map.
    stored = con.execute("select count(*) from identity.resolved_records").fetchall()[0][0]
    if stored:
        con.execute(
            "create or replace temp table _id_map as " + record_map_sql(prob_edges),
            {"as_of": as_of},
        )
        con.execute(
            """
            create or replace temp table _id_map_changed as
            select * from _id_map except select * from identity.resolved_records;

            create or replace temp table _id_map_delete as
            select source_system, source_customer_id from _id_map_changed
            union all
            (select source_system, source_customer_id from identity.resolved_records
             except select source_system, source_customer_id from _id_map);
            """
        )
        result.map_rows_written = int(
            con.execute("select count(*) from _id_map_changed").fetchall()[0][0]
        )
    con.execute("begin transaction")
    try:
        if stored:
            con.execute(
                """
                delete from identity.resolved_records as r using _id_map_delete as d
                where r.source_system = d.source_system
                  and r.source_customer_id = d.source_customer_id
                """
            )
            con.execute("insert into identity.resolved_records select * from _id_map_changed")
        else:  # first night: every row is new, written straight from the query
            con.execute(
                "insert into identity.resolved_records " + record_map_sql(prob_edges),
                {"as_of": as_of},
            )
            result.map_rows_written = int(
                con.execute("select count(*) from identity.resolved_records").fetchall()[0][0]
            )
        keys.write_history(con, as_of, run_id)
        _figures(con, "identity.resolved_records", result)
        # A rerun of the same night must reproduce the same figures: key changes are
        # counted per night, so what an earlier run of this as_of already did still counts.
        earlier = dict(
            con.execute(
                "select status, records from identity.quality_log where as_of = ? "
                "and metric_group = 'resolution' and status in "
                "('new_keys', 'merges', 'splits', 'records_rekeyed')",
                [as_of],
            ).fetchall()
        )
        night = dataclasses.replace(
            result,
            new_keys=result.new_keys + int(earlier.get("new_keys", 0)),
            merges=result.merges + int(earlier.get("merges", 0)),
            splits=result.splits + int(earlier.get("splits", 0)),
            records_rekeyed=result.records_rekeyed + int(earlier.get("records_rekeyed", 0)),
        )
        con.execute("delete from identity.quality_log where as_of = ?", [as_of])
        con.execute("insert into identity.quality_log " + _quality_sql(night), params)
        con.execute(
            "insert into identity.runs values (?, ?::date, current_timestamp::timestamp, ?)",
            [run_id, as_of, json.dumps(result.to_dict())],
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

    con.execute(OUTPUT_DDL)
    keys.ensure_state(con)
    collect_records(con, cfg)
    lap("records")
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
    result.new_keys, result.merges, result.splits = (
        changes.new_keys,
        changes.merges,
        changes.splits,
    )
    result.records_rekeyed = changes.records_rekeyed
    lap("keys")
    write_outputs(
        con, as_of, run_id, result, cfg.probabilistic_enabled, before_commit=before_commit
    )
    lap("write")
    con.execute("drop view if exists _id_records")
    for t in (
        "_id_records_base",
        "_id_guard",
        "_id_cluster",
        "_id_prev",
        "_id_parts",
        "_id_home",
        "_id_cluster_key",
        "_id_chosen",
        "_id_map",
        "_id_map_changed",
        "_id_map_delete",
        "_id_keyed",
        "_id_key_changes",
    ):
        con.execute(f"drop table if exists {t}")
    return result
