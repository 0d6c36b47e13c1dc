"""`crm run` end to end on a dirty night: quarantine, rejected files, cross-entity
warnings in the published data_quality_log, reconciled revenue, and a blocking
check that stops publishing with a non-zero exit code."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.fixtures.bad_files.corpus import (
    CA_HEADER,
    CASES_BY_NAME,
    TX_HEADER,
    ca,
    cu,
    to_csv,
    tx,
)
from tests.quality.helpers import AS_OF, crm_run

# The next night (not a month-end; a rerun at a month-end is covered by the unit tests
# rfm_segment_history_rerun_at_a_month_end_takes_it_again and its migration twin).
NEXT_NIGHT = AS_OF + dt.timedelta(days=1)

pytestmark = pytest.mark.slow

CORPUS_FILES = [
    "non_numeric_amount",
    "malformed_lines",
    "duplicate_rows_in_file",
    "unknown_customer_and_product",
    "conflicting_redelivery",
    "truncated_parquet",
    "latin1_file",
    "same_file_twice",
]
PRODUCTS = b"product_id,name,category,department,brand,unit_cost\n" + b"".join(
    f"P{n:02d},Item {n},cat{n % 2},dept,brand,300\n".encode() for n in range(5)
)


def write_night(landing: Path) -> list[tuple[str, bytes, dict[int, str]]]:
    """Base master data plus corpus files, each under a unique name; returns the
    transaction files in load order with the records that must be quarantined."""
    for entity in ("customers", "transactions", "products", "campaigns", "contacts"):
        (landing / entity).mkdir(parents=True, exist_ok=True)
    customers = [cu(n, source_system="pos") for n in range(7)]
    (landing / "customers" / "00_customers.csv").write_bytes(to_csv(list(customers[0]), customers))
    (landing / "products" / "products.csv").write_bytes(PRODUCTS)
    (landing / "campaigns" / "campaigns.csv").write_bytes(to_csv(CA_HEADER, [ca(1)]))
    tx_files = [
        ("transactions/00_base.csv", to_csv(TX_HEADER, [tx(n) for n in range(100, 130)]), {})
    ]
    (landing / tx_files[0][0]).write_bytes(tx_files[0][1])
    for case_name in CORPUS_FILES:
        case = CASES_BY_NAME[case_name]
        for i, (name, content) in enumerate(case.files):
            rel = f"{case.entity}/{case_name}_{i}_{name}"
            (landing / rel).write_bytes(content)
            last = i == len(case.files) - 1
            if case.entity == "transactions" and case.status == "loaded":
                tx_files.append((rel, content, case.quarantined if last else {}))
    return sorted(tx_files)


def expected_revenue(tx_files: list[tuple[str, bytes, dict[int, str]]]) -> Decimal:
    """Independent of the loader: Python's csv module, the corpus's quarantine list,
    latest file wins per (source_system, transaction_id, line_number)."""
    latest: dict[tuple, Decimal] = {}
    for _name, content, quarantined in tx_files:
        reader = csv.reader(io.StringIO(content.decode("utf-8-sig")))
        header = next(reader)
        for record, values in enumerate(reader, start=1):
            if record in quarantined:
                continue
            row = dict(zip(header, values, strict=True))
            latest[(row["source_system"], row["transaction_id"], row["line_number"])] = Decimal(
                row["amount"]
            )
    return sum(latest.values(), Decimal(0))


def published(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def check_results(home: Path) -> dict[str, bool]:
    """Asset check outcomes of the latest run, from the Dagster instance."""
    from dagster import DagsterEventType, DagsterInstance

    instance = DagsterInstance.from_config(str(home / "state" / "dagster"))
    run = instance.get_runs(limit=1)[0]
    records = instance.get_records_for_run(
        run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    out = {}
    for r in records:
        data = r.event_log_entry.dagster_event.event_specific_data
        out[f"{data.asset_key.to_user_string()}:{data.check_name}"] = data.passed
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dirty_night_then_a_blocking_night(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tx_files = write_night(home / "landing")

    first = crm_run(home)
    assert first.returncode == 0, first.stdout[-5000:]
    out = first.stdout
    assert "rejected: transactions/truncated_parquet_0_tx.parquet — corrupt_parquet" in out
    assert "rejected: customers/latin1_file_0_cu.csv — not_utf8" in out
    assert "quarantine by reason:" in out and "malformed_line 3" in out

    # revenue published = valid landing amounts, computed independently
    [(revenue,)] = published(home, "select sum(net_amount) from marts.fct_orders")
    assert revenue == expected_revenue(tx_files)

    # cross-entity warnings and ingest findings reach the published log
    log = published(
        home,
        "select check_name, severity, entity, failed_count from marts.data_quality_log "
        "order by all",
    )
    checks: dict[tuple, int] = {}
    for c, s, e, n in log:
        checks[(c, s, e)] = checks.get((c, s, e), 0) + n
    assert checks[("unknown_customer", "warning", "transactions")] == 1
    assert checks[("unknown_product", "warning", "transactions")] == 1
    assert checks[("rejected_file", "warning", "transactions")] == 1
    # same_file_twice's resend, and its first file = conflicting_redelivery's first file
    assert checks[("duplicate_file", "warning", "transactions")] == 2
    # the corpus files of one night share keys: later files replace earlier lines
    assert checks[("redelivered_lines", "warning", "transactions")] > 0
    [(sample,)] = published(
        home, "select sample from marts.data_quality_log where check_name = 'unknown_customer'"
    )
    assert "NOBODY" in sample

    results = check_results(home)
    for key in (
        "raw/transactions:file_rows_reconcile",
        "raw/transactions:no_blocking_findings",
        "staging/stg_landing__transactions:revenue_reconciles",
        "marts/fct_transactions:revenue_matches_staging",
        "marts/data_quality_log:no_blocking_findings",
    ):
        assert results[key] is True, key
    assert results["raw/transactions:files_readable"] is False  # the truncated Parquet
    assert results["raw/transactions:gx_suite"] is True

    # night 2: unknown products are now blocking -> no publish, exit code 1
    warehouse = home / "warehouse" / "crm.duckdb"
    before = sha256(warehouse)
    [(published_run,)] = published(home, "select run_id from meta.publication")
    (home / "crm.yml").write_text(
        yaml.safe_dump({"quality": {"checks": {"unknown_product": "blocking"}}})
    )
    (home / "landing" / "transactions" / "zz_night2.csv").write_bytes(
        to_csv(TX_HEADER, [tx(500, product_id="P999")])
    )
    second = crm_run(home, NEXT_NIGHT)
    assert second.returncode == 1, second.stdout[-5000:]
    assert "BLOCKING unknown_product" in second.stdout
    assert "published:         unchanged" in second.stdout
    assert sha256(warehouse) == before
    assert published(home, "select run_id from meta.publication") == [(published_run,)]
    assert check_results(home)["marts/data_quality_log:no_blocking_findings"] is False

    # the analyst relaxes the check: the next night publishes everything
    (home / "crm.yml").unlink()
    third = crm_run(home, NEXT_NIGHT)
    assert third.returncode == 0, third.stdout[-5000:]
    [(revenue3,)] = published(home, "select sum(net_amount) from marts.fct_orders")
    assert revenue3 == expected_revenue(tx_files) + Decimal(tx(500)["amount"])
    assert NEXT_NIGHT.isoformat() in third.stdout
