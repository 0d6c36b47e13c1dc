"""Optional probabilistic links with Splink (on DuckDB) for records without a shared identifier.

A record that the strong identifiers left alone (a singleton of the deterministic step)
may still be a known person: same name, birth date and postal code. Splink scores such
pairs with a Fellegi-Sunter model:

* comparisons: first + last name (exact, swapped, Jaro-Winkler), birth date, postal code;
* m probabilities are learnt from the deterministic clusters (pairs linked by a shared
  e-mail, phone or loyalty id are matches), u probabilities from random pairs, and the
  prior from the share of deterministic pairs, so no labelled data and no EM is needed;
* candidate pairs come from blocking on (birth date, postal code), (birth date, last
  name) and (first name, last name, postal code).

Only pairs with at least one deterministic singleton scoring at least
``identity.probabilistic.threshold`` are kept, and a singleton keeps only its best match,
so a probabilistic link never joins two customers that the strong identifiers built.

Splink runs in its own in-memory DuckDB so its work tables never land in the build
database.
"""

from __future__ import annotations

import logging

import duckdb
import numpy as np

from pipelines.identity.config import IdentityConfig


def _input_sql() -> str:
    from pipelines.identity.resolve import LATEST_CUSTOMERS_SQL

    return f"""
    with sizes as (select cluster, count(*) as n from _id_cluster group by cluster)
    select r.rec_id as unique_id, r.rec_order,
           nullif(regexp_replace(lower(v.first_name), '[^\\pL]', '', 'g'), '') as first_name,
           nullif(regexp_replace(lower(v.last_name), '[^\\pL]', '', 'g'), '') as last_name,
           cast(v.birth_date as varchar) as birth_date,
           nullif(regexp_replace(v.postal_code, '[^0-9A-Za-z]', '', 'g'), '') as postal_code,
           c.cluster as det_cluster,
           s.n = 1 as det_singleton
    from _id_records as r
    join ({LATEST_CUSTOMERS_SQL}) as v
        on v.source_system = r.source_system and v.source_customer_id = r.source_customer_id
    join _id_cluster as c using (rec_id)
    join sizes as s using (cluster)
    """


def _settings(prior: float):
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "last_name"),
            cl.ExactMatch("birth_date"),
            cl.ExactMatch("postal_code"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date", "postal_code"),
            block_on("birth_date", "last_name"),
            block_on("first_name", "last_name", "postal_code"),
        ],
        additional_columns_to_retain=["det_cluster", "det_singleton", "rec_order"],
        retain_matching_columns=False,
    )


def probabilistic_edges(
    con: duckdb.DuckDBPyConnection, cfg: IdentityConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Edges (rec_id pairs) the probabilistic matcher adds; empty when nothing scores."""
    from splink import DuckDBAPI, Linker

    table = con.sql(_input_sql()).to_arrow_table()
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    n = table.num_rows
    if n < 2 or not any(table.column("det_singleton").to_pylist()):
        return empty
    det_pairs = con.execute(
        "select coalesce(sum(n * (n - 1) / 2), 0) from "
        "(select count(*) as n from _id_cluster group by cluster)"
    ).fetchall()[0][0]
    prior = min(max(float(det_pairs) / (n * (n - 1) / 2), 1e-9), 0.5)

    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.WARNING)
    scon = duckdb.connect()
    try:
        scon.execute("set threads = 2")
        scon.register("_input_arrow", table)
        scon.execute("create table splink_input as select * from _input_arrow")
        db_api = DuckDBAPI(scon)
        linker = Linker(db_api.register("splink_input"), _settings(prior), log_level=30)
        linker.training.estimate_u_using_random_sampling(max_pairs=min(1e6, n * 20))
        if det_pairs:
            linker.training.estimate_m_from_label_column("det_cluster")
        pairs = linker.inference.predict(threshold_match_probability=cfg.probabilistic_threshold)
        scon.execute(
            f"""
            create table scored as
            select unique_id_l as l, unique_id_r as r, match_probability as p,
                   det_singleton_l as sl, det_singleton_r as sr,
                   rec_order_l as ol, rec_order_r as orr,
                   det_cluster_l as cl, det_cluster_r as cr
            from {pairs.physical_name}
            where (det_singleton_l or det_singleton_r) and det_cluster_l <> det_cluster_r
            """
        )
        # each singleton keeps its single best match
        result = scon.execute(
            """
            with ends as (
                select l as s, r as o, orr as o_order, p from scored where sl
                union all
                select r as s, l as o, ol as o_order, p from scored where sr
            ),
            best as (
                select s, o, row_number() over (partition by s order by p desc, o_order) as rn
                from ends
            )
            select s, o from best where rn = 1 order by s
            """
        ).fetchnumpy()
    finally:
        scon.close()
    return np.asarray(result["s"], dtype=np.int64), np.asarray(result["o"], dtype=np.int64)
