"""Planted structure: Pareto skew, seasonality, churn, identity overlap, campaign uplift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl


def _con(gen_con):
    return gen_con.cursor()


def test_top_20_percent_bring_most_revenue(gen_con) -> None:
    con = _con(gen_con)
    rev = np.array(
        [r[0] for r in con.execute(
            "SELECT sum(amt) FROM t WHERE person_id IS NOT NULL GROUP BY person_id").fetchall()],
        dtype=float,
    )  # fmt: skip
    rev = np.sort(np.maximum(rev, 0))[::-1]
    top = rev[: int(len(rev) * 0.2)].sum() / rev.sum()
    assert top >= 0.6


def test_seasonality_and_weekends(gen_con) -> None:
    con = _con(gen_con)
    (novdec, rest, weekend, weekday) = con.execute(
        """WITH d AS (SELECT CAST(timezone('Asia/Seoul', ts) AS DATE) d, count(*) n FROM t
                      WHERE year(timezone('Asia/Seoul', ts)) = 2025 GROUP BY 1)
           SELECT avg(n) FILTER (WHERE month(d) IN (11, 12)), avg(n) FILTER (WHERE month(d) < 11),
                  avg(n) FILTER (WHERE dayofweek(d) IN (0, 6)),
                  avg(n) FILTER (WHERE dayofweek(d) NOT IN (0, 6)) FROM d"""
    ).fetchone()
    assert novdec > 1.2 * rest
    assert weekend > 1.1 * weekday


def test_churn_truth_is_consistent_with_purchases(gen_home, gen_con) -> None:
    settings, _ = gen_home
    persons = pl.read_parquet(Path(settings.truth_dir) / "persons.parquet")
    buyers = persons.filter(~pl.col("never_buyer"))
    alive = buyers["alive_at_end"].mean()
    assert 0.15 < alive < 0.85
    # a dropped-out customer's last natural purchase is its dropout date
    con = _con(gen_con)
    con.register("persons_arrow", persons.to_arrow())
    bad = con.execute(
        """WITH last AS (SELECT person_id, max(CAST(timezone('Asia/Seoul', ts) AS DATE)) d
                         FROM t WHERE amt > 0 AND campaign_id IS NULL GROUP BY 1)
           SELECT count(*) FROM persons_arrow p JOIN last USING (person_id)
           WHERE p.dropout_date IS NOT NULL AND last.d < p.dropout_date"""
    ).fetchone()[0]
    assert bad == 0


def test_overlap_and_linkability(gen_con) -> None:
    """Independent normalisation of the landing e-mails/phones (our SQL, not the generator's)."""
    con = _con(gen_con)
    con.execute(
        r"""CREATE TEMP TABLE keys AS
        WITH latest AS (
          SELECT * FROM cu_clean QUALIFY row_number() OVER (
            PARTITION BY source_system, source_customer_id
            ORDER BY TRY_CAST(updated_at AS TIMESTAMPTZ) DESC) = 1),
        e AS (SELECT *, lower(trim(email)) em, regexp_replace(phone, '[^0-9]', '', 'g') dg
              FROM latest),
        n AS (SELECT source_system, source_customer_id,
          CASE WHEN regexp_matches(em, '^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$') THEN
            CASE WHEN split_part(em, '@', 2) = 'gmail.com'
                 THEN replace(split_part(em, '@', 1), '.', '') || '@gmail.com' ELSE em END
          END email,
          CASE WHEN regexp_matches(dg, '^8210[0-9]{8}$') THEN '+' || dg
               WHEN regexp_matches(dg, '^010[0-9]{8}$') THEN '+82' || substr(dg, 2) END phone,
          loyalty_id FROM e)
        SELECT n.*, i.person_id FROM n JOIN ident i USING (source_system, source_customer_id)"""
    )
    persons, multi = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE k > 1)
           FROM (SELECT person_id, count(*) k FROM keys GROUP BY 1)"""
    ).fetchone()
    assert multi / persons >= 0.3
    unshared, recs = con.execute(
        """WITH m AS (SELECT * FROM keys WHERE person_id IN
                      (SELECT person_id FROM keys GROUP BY 1 HAVING count(*) > 1)),
           l AS (SELECT person_id, source_system, source_customer_id, 'e' t, email v FROM m
                 UNION ALL SELECT person_id, source_system, source_customer_id, 'p', phone FROM m
                 UNION ALL SELECT person_id, source_system, source_customer_id, 'l', loyalty_id
                 FROM m),
           s AS (SELECT DISTINCT source_system, source_customer_id FROM l WHERE v IS NOT NULL
                 QUALIFY count(*) OVER (PARTITION BY person_id, t, v) > 1)
           SELECT (SELECT count(*) FROM m) - (SELECT count(*) FROM s), (SELECT count(*) FROM m)"""
    ).fetchone()
    assert unshared / recs <= 0.02
    # over-merge traps: a generic address used by several persons; a shared household phone
    generic = con.execute(
        "SELECT max(k) FROM (SELECT email, count(DISTINCT person_id) k FROM keys "
        "WHERE email IS NOT NULL GROUP BY 1)"
    ).fetchone()[0]
    assert generic >= 5
    shared_phone = con.execute(
        "SELECT count(*) FROM (SELECT phone FROM keys WHERE phone IS NOT NULL GROUP BY 1 "
        "HAVING count(DISTINCT person_id) > 1)"
    ).fetchone()[0]
    assert shared_phone >= 1
    # exact linking (connected components over email/phone/loyalty, identifiers used by more
    # than 5 records blocked) reaches the identity targets on this noise
    rows = con.execute(
        "SELECT source_system || ':' || source_customer_id, person_id, email, phone, loyalty_id "
        "FROM keys ORDER BY 1"
    ).fetchall()
    precision, recall = _pairwise(rows, max_records=5)
    assert recall >= 0.97
    assert precision >= 0.99


def _pairwise(rows: list[tuple], max_records: int) -> tuple[float, float]:
    idx = {r[0]: i for i, r in enumerate(rows)}
    parent = list(range(len(rows)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_key: dict[tuple, list[int]] = {}
    for r in rows:
        for t, v in (("e", r[2]), ("p", r[3]), ("l", r[4])):
            if v is not None:
                by_key.setdefault((t, v), []).append(idx[r[0]])
    for members in by_key.values():
        if 1 < len(members) <= max_records:
            for m in members[1:]:
                parent[find(m)] = find(members[0])
    from collections import Counter

    comp = [find(i) for i in range(len(rows))]
    pairs = lambda c: sum(v * (v - 1) // 2 for v in c.values())  # noqa: E731
    predicted = pairs(Counter(comp))
    true = pairs(Counter(r[1] for r in rows))
    both = pairs(Counter(zip(comp, (r[1] for r in rows), strict=True)))
    return both / predicted, both / true


def test_campaign_truth_matches_landing_and_shows_uplift(gen_home, gen_con) -> None:
    settings, _ = gen_home
    truth = json.loads((Path(settings.truth_dir) / "campaign_truth.json").read_text())
    con = _con(gen_con)
    con.execute(
        """CREATE TEMP TABLE c AS SELECT co_clean.*, i.person_id,
             TRY_CAST(occurred_at AS TIMESTAMPTZ) cts FROM co_clean
           JOIN ident i USING (source_system, source_customer_id)
           WHERE direction = 'outbound' AND contact_type = 'campaign'"""
    )
    # independent recount of contacted responders: any purchase order within 14 days
    got = dict(
        (r[0], (r[1], r[2], r[3]))
        for r in con.execute(
            """WITH o AS (SELECT person_id, source_system, transaction_id, min(ts) ts
                          FROM t WHERE person_id IS NOT NULL GROUP BY ALL HAVING sum(amt) > 0)
               SELECT campaign_id, count(*),
                 count(*) FILTER (WHERE EXISTS (SELECT 1 FROM o WHERE o.person_id = c.person_id
                   AND o.ts > c.cts AND o.ts <= c.cts + INTERVAL 14 DAY)),
                 (SELECT count(DISTINCT transaction_id) FROM t
                  WHERE t.campaign_id = c.campaign_id)
               FROM c GROUP BY 1"""
        ).fetchall()
    )
    tot = {"c": 0, "rc": 0, "h": 0, "rh": 0}
    for camp in truth["campaigns"]:
        contacted, responders, attributed = got.get(camp["campaign_id"], (0, 0, 0))
        assert contacted == camp["contacted"]
        assert responders == camp["observed_contacted_responders"]
        assert attributed == camp["attributed_orders"]
        assert camp["audience"] == camp["contacted"] + camp["holdout"]
        tot["c"] += camp["contacted"]
        tot["rc"] += camp["observed_contacted_responders"]
        tot["h"] += camp["holdout"]
        tot["rh"] += camp["observed_holdout_responders"]
    assert tot["h"] > 0.05 * (tot["c"] + tot["h"])


def test_planted_uplift_is_visible(tmp_path) -> None:
    """With a large holdout and a large planted uplift, contacted persons respond more."""
    import dataclasses

    from pipelines.generator import GeneratorConfig, generate
    from pipelines.settings import Settings
    from tests.generator.gen_helpers import END

    rates = {k: (0.05, 0.25) for k in ("retention", "winback", "crosssell", "newsletter")}
    share = {k: 1.0 for k in rates}
    cfg = dataclasses.replace(
        GeneratorConfig(workers=1), campaign_rates=rates, campaign_audience_share=share,
        holdout_share=0.5, n_campaigns=8,
    )  # fmt: skip
    settings = Settings.load(tmp_path)
    generate(settings, customers=1000, seed=9, end_date=END, config=cfg)
    truth = json.loads((Path(settings.truth_dir) / "campaign_truth.json").read_text())
    c = sum(x["contacted"] for x in truth["campaigns"])
    h = sum(x["holdout"] for x in truth["campaigns"])
    rc = sum(x["observed_contacted_responders"] for x in truth["campaigns"])
    rh = sum(x["observed_holdout_responders"] for x in truth["campaigns"])
    assert c > 200 and h > 200
    uplift = rc / c - rh / h
    assert 0.15 < uplift < 0.35  # planted 0.25, plus sampling noise
