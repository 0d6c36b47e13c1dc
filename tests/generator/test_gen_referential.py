"""References between entities hold (except planted dirty rows and anonymous sales)."""

from __future__ import annotations


def _con(gen_con):
    return gen_con.cursor()


def test_transactions_and_contacts_reference_existing_records(gen_con) -> None:
    con = _con(gen_con)
    orphans = con.execute(
        """SELECT count(*) FROM tx_clean t WHERE source_customer_id IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM cu_clean c WHERE c.source_system = t.source_system
               AND c.source_customer_id = t.source_customer_id)"""
    ).fetchone()[0]
    assert orphans == 0
    orphans = con.execute(
        """SELECT count(*) FROM co_clean t WHERE NOT EXISTS (
             SELECT 1 FROM cu_clean c WHERE c.source_system = t.source_system
               AND c.source_customer_id = t.source_customer_id)"""
    ).fetchone()[0]
    assert orphans == 0
    assert (
        con.execute(
            "SELECT count(*) FROM tx_clean WHERE product_id NOT IN (SELECT product_id FROM pr)"
        ).fetchone()[0]
        == 0
    )
    assert (
        con.execute(
            "SELECT count(*) FROM tx_clean WHERE campaign_id NOT IN (SELECT campaign_id FROM ca)"
        ).fetchone()[0]
        == 0
    )
    assert (
        con.execute(
            "SELECT count(*) FROM co_clean WHERE campaign_id NOT IN (SELECT campaign_id FROM ca)"
        ).fetchone()[0]
        == 0
    )
    # referred_by points at a record of the same system
    assert (
        con.execute(
            """SELECT count(*) FROM cu_clean c WHERE referred_by IS NOT NULL AND NOT EXISTS (
             SELECT 1 FROM cu_clean r WHERE r.source_system = c.source_system
               AND r.source_customer_id = c.referred_by)"""
        ).fetchone()[0]
        == 0
    )
    assert con.execute("SELECT count(*) FROM cu_clean WHERE referred_by IS NOT NULL").fetchone()[0]


def test_anonymous_sales_are_store_sales_about_five_percent(gen_con) -> None:
    con = _con(gen_con)
    share, systems = con.execute(
        """SELECT avg((source_customer_id IS NULL)::INT),
                  list(DISTINCT source_system) FILTER (WHERE source_customer_id IS NULL)
           FROM tx_clean"""
    ).fetchone()
    assert 0.03 < share < 0.07
    assert systems == ["pos"]


def test_identity_truth_covers_every_customer_record(gen_con) -> None:
    con = _con(gen_con)
    missing = con.execute(
        """SELECT count(*) FROM (SELECT DISTINCT source_system, source_customer_id FROM cu_clean)
           ANTI JOIN ident USING (source_system, source_customer_id)"""
    ).fetchone()[0]
    extra = con.execute(
        """SELECT count(*) FROM ident ANTI JOIN
             (SELECT DISTINCT source_system, source_customer_id FROM cu_clean)
           USING (source_system, source_customer_id)"""
    ).fetchone()[0]
    assert missing == 0 and extra == 0
    assert con.execute(
        "SELECT count(*) = count(DISTINCT (source_system, source_customer_id)) FROM ident"
    ).fetchone()[0]


def test_returns_reference_products_the_customer_bought_before(gen_con) -> None:
    con = _con(gen_con)
    n_ret, unmatched = con.execute(
        """WITH t AS (SELECT *, TRY_CAST(occurred_at AS TIMESTAMPTZ) ts FROM tx_clean)
           SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
             SELECT 1 FROM t p WHERE p.source_system = r.source_system
               AND p.source_customer_id IS NOT DISTINCT FROM r.source_customer_id
               AND p.product_id = r.product_id AND CAST(p.amount AS BIGINT) > 0
               AND p.ts < r.ts))
           FROM t r WHERE CAST(r.amount AS BIGINT) < 0"""
    ).fetchone()
    assert n_ret > 0
    assert unmatched == 0
