"""Stable customer keys across nightly runs.

State lives in the build database, schema ``identity``:

* ``identity.resolved_records``: every source record → its customer_key after the last
  run (the record map is the key state);
* ``identity.key_history``: old_customer_key → new_customer_key per merge or split.

Rules, given this run's clusters (connected components) and the previous state:

* every previous key has a *home*: the cluster holding most of its records (ties: the
  cluster with the smallest record ``rec_order``, a hash of the record's id);
* a cluster that is home to previous keys takes the oldest of them (keys are assigned in
  increasing order, so the smallest is the oldest); the others are merged into it
  (history ``merge``);
* the records of a previous key that ended up outside its home were split off; their
  cluster's key is recorded as ``split`` from the old key (the old key stays with the
  largest part);
* a cluster that is home to no previous key gets a new key, above every key ever issued
  (``identity.key_sequence`` remembers the highest).

Rerunning with the same input changes nothing: the state already holds the answer, so no
key moves and no history row is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

STATE_DDL = """
create schema if not exists identity;
create table if not exists identity.key_sequence (last_customer_key bigint not null);
create table if not exists identity.key_history (
    old_customer_key bigint not null,
    new_customer_key bigint not null,
    change_type varchar not null,
    as_of date not null,
    run_id varchar not null,
    records_moved bigint not null,
    recorded_at timestamp not null,
    current_customer_key bigint
);
"""


@dataclass(frozen=True)
class KeyChanges:
    new_keys: int
    merges: int
    splits: int
    records_rekeyed: int


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(STATE_DDL)


def plan_keys(con: duckdb.DuckDBPyConnection) -> KeyChanges:
    """Compute ``_id_keyed`` (rec_id → customer_key) and ``_id_key_changes`` (history rows).

    Needs temp tables ``_id_records`` (rec_id, rec_order, source_system,
    source_customer_id) and ``_id_cluster`` (rec_id, cluster; clusters numbered in a
    deterministic order), and the previous map ``identity.resolved_records`` (see
    :data:`pipelines.identity.resolve.OUTPUT_DDL`). Writes nothing persistent.
    """
    import numpy as np
    import pyarrow as pa

    ensure_state(con)
    con.execute(
        """
        create or replace temp table _id_prev as
        select r.rec_id, r.rec_order, c.cluster, s.customer_key as old_key,
               s.first_as_of as old_first_as_of, s.changed_as_of as old_changed_as_of
        from _id_records as r
        join _id_cluster as c using (rec_id)
        left join identity.resolved_records as s
            on s.source_system = r.source_system
            and s.source_customer_id = r.source_customer_id;

        create or replace temp table _id_parts as
        select old_key, cluster, count(*) as n, min(rec_order) as first_rec
        from _id_prev where old_key is not null
        group by old_key, cluster;

        create or replace temp table _id_home as
        select old_key, cluster
        from (
            select old_key, cluster,
                   row_number() over (partition by old_key order by n desc, first_rec) as rn
            from _id_parts
        ) where rn = 1;

        create or replace temp table _id_chosen as
        select cluster, min(old_key) as customer_key from _id_home group by cluster;
        """
    )
    top = con.execute(
        """
        select coalesce(max(k), 0) from (
            select max(customer_key) as k from identity.resolved_records
            union all select max(old_customer_key) from identity.key_history
            union all select max(new_customer_key) from identity.key_history
            union all select max(last_customer_key) from identity.key_sequence
        )
        """
    ).fetchall()[0][0]
    # new keys in cluster order (numbered in numpy: a window sort over a million fresh
    # clusters on the first night costs more than the whole rest of this step)
    fresh = con.execute(
        "select distinct cluster from _id_cluster anti join _id_chosen using (cluster)"
    ).fetchnumpy()["cluster"]
    fresh = np.sort(np.asarray(fresh, dtype=np.int64))
    con.register(
        "_id_fresh_arrow",
        pa.table(
            {
                "cluster": fresh,
                "customer_key": np.arange(1, len(fresh) + 1, dtype=np.int64) + int(top),
            }
        ),
    )
    try:
        con.execute(
            """
            create or replace temp table _id_cluster_key as
            select cluster, customer_key, false as is_new from _id_chosen
            union all
            select cluster, customer_key, true from _id_fresh_arrow
            """
        )
    finally:
        con.unregister("_id_fresh_arrow")
    con.execute(
        """
        create or replace temp table _id_keyed as
        select p.rec_id, k.customer_key, p.old_key, p.old_first_as_of, p.old_changed_as_of
        from _id_prev as p join _id_cluster_key as k using (cluster);

        create or replace temp table _id_key_changes as
        select h.old_key as old_customer_key, k.customer_key as new_customer_key,
               'merge' as change_type, p.n as records_moved
        from _id_home as h
        join _id_cluster_key as k using (cluster)
        join _id_parts as p on p.old_key = h.old_key and p.cluster = h.cluster
        where h.old_key <> k.customer_key
        union all
        select p.old_key, k.customer_key, 'split', p.n
        from _id_parts as p
        join _id_home as h on h.old_key = p.old_key
        join _id_cluster_key as k on k.cluster = p.cluster
        where p.cluster <> h.cluster;
        """
    )
    row = con.execute(
        """
        select (select count(*) from _id_cluster_key where is_new),
               (select count(*) from _id_key_changes where change_type = 'merge'),
               (select count(*) from _id_key_changes where change_type = 'split'),
               (select count(*) from _id_keyed where old_key is not null
                    and old_key <> customer_key)
        """
    ).fetchall()[0]
    return KeyChanges(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def write_history(con: duckdb.DuckDBPyConnection, as_of: dt.date, run_id: str) -> None:
    """Append this run's key changes. Call inside the caller's transaction."""
    con.execute(
        """
        insert into identity.key_history
        select old_customer_key, new_customer_key, change_type, ?::date, ?, records_moved,
               current_timestamp::timestamp, null::bigint
        from _id_key_changes
        order by change_type, old_customer_key, new_customer_key
        """,
        [as_of, run_id],
    )
    _update_current_keys(con)
    # keys are never reissued, even if every record of a key vanished from the sources
    con.execute(
        """
        create or replace temp table _id_top as
        select greatest(
            coalesce((select max(customer_key) from _id_keyed), 0),
            coalesce((select max(last_customer_key) from identity.key_sequence), 0)) as k
        """
    )
    con.execute("delete from identity.key_sequence")
    con.execute("insert into identity.key_sequence select k from _id_top")
    con.execute("drop table _id_top")


def current_key_map(merges: list[tuple[int, int]]) -> dict[int, int]:
    """Retired key → the key its records carry now (following later merges too)."""
    successor = dict(merges)
    resolved: dict[int, int] = {}
    for old in successor:
        key = old
        while key in successor:  # merges always go to a smaller key: the chain ends
            key = successor[key]
        resolved[old] = key
    return resolved


def _update_current_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Set key_history.current_customer_key: where new_customer_key's records are now."""
    import pyarrow as pa

    merges = con.execute(
        "select old_customer_key, new_customer_key from identity.key_history "
        "where change_type = 'merge'"
    ).fetchall()
    resolved = current_key_map([(int(a), int(b)) for a, b in merges])
    con.register(
        "_id_current_arrow",
        pa.table(
            {
                "k": pa.array(list(resolved), pa.int64()),
                "current_key": pa.array(list(resolved.values()), pa.int64()),
            }
        ),
    )
    try:
        con.execute(
            """
            update identity.key_history as h
            set current_customer_key = coalesce(
                (select c.current_key from _id_current_arrow as c
                 where c.k = h.new_customer_key), h.new_customer_key)
            """
        )
    finally:
        con.unregister("_id_current_arrow")
