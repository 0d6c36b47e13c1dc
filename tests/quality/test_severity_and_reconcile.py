"""Blocking vs warning, and the reconciliation checks (failing loudly on tampering)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from pipelines.quality.config import CHECKS, QualityConfig
from pipelines.quality.reconcile import file_rows, revenue
from pipelines.settings import Settings
from tests.fixtures.bad_files.corpus import CASES_BY_NAME, TX_HEADER, to_csv, tx, write_case
from tests.quality.helpers import load, make_home, query, work_con


def test_crm_yml_configures_every_check() -> None:
    cfg = QualityConfig.from_settings(Settings.load("/nonexistent-home"))
    assert set(cfg.severities) == set(CHECKS)
    assert cfg.severity("reconcile_revenue") == "blocking"
    assert cfg.severity("unknown_customer") == "warning"


def test_unknown_check_or_severity_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown check"):
        QualityConfig.from_settings(
            make_home(tmp_path / "a", {"quality": {"checks": {"nope": "warning"}}})
        )
    with pytest.raises(ValueError, match="blocking|warning"):
        QualityConfig.from_settings(
            make_home(tmp_path / "b", {"quality": {"checks": {"sign_mismatch": "fatal"}}})
        )


def test_blocking_row_check_holds_the_file_until_resolved(tmp_path) -> None:
    case = CASES_BY_NAME["foreign_currency"]
    settings = make_home(tmp_path, {"quality": {"checks": {"foreign_currency": "blocking"}}})
    [path] = write_case(case, settings.landing_dir)
    [held] = load(settings, "transactions")
    assert held.status == "held" and "foreign_currency" in held.message
    assert path.exists(), "a held file stays in landing/"
    assert query(settings, "select count(*) from raw.transactions")[0][0] == 0
    assert query(settings, "select count(*) from quarantine.transactions")[0][0] == 0
    assert query(settings, "select status, rows_loaded from raw._batches") == [("held", 0)]
    logged = dict(query(settings, "select check_name, severity from marts.data_quality_log"))
    assert logged["foreign_currency"] == "blocking"
    # every later run looks at it again; once the check is a warning, it loads
    [again] = load(settings, "transactions", "run-2")
    assert again.status == "held"
    (settings.home / "crm.yml").unlink()  # the override goes: back to warning
    [loaded] = load(Settings.load(settings.home), "transactions", "run-3")
    assert loaded.status == "loaded" and loaded.rows_loaded == 5 and loaded.rows_quarantined == 1


def test_blocking_rejected_file_is_logged_as_blocking(tmp_path) -> None:
    settings = make_home(tmp_path, {"quality": {"checks": {"rejected_file": "blocking"}}})
    write_case(CASES_BY_NAME["empty_file"], settings.landing_dir)
    [result] = load(settings, "transactions")
    assert result.status == "rejected"
    assert query(settings, "select check_name, severity from marts.data_quality_log") == [
        ("rejected_file", "blocking")
    ]


def test_file_rows_reconciliation_fails_when_a_row_goes_missing(tmp_path) -> None:
    settings = make_home(tmp_path)
    write_case(CASES_BY_NAME["non_numeric_amount"], settings.landing_dir)
    load(settings, "transactions")
    con = work_con(settings)
    try:
        [ok] = file_rows(con, settings, "transactions", "run-1")
        assert ok.ok and (ok.recounted, ok.rows_loaded, ok.rows_quarantined) == (3, 2, 1)
        con.execute("delete from raw.transactions where transaction_id = 'T0003'")
        [bad] = file_rows(con, settings, "transactions", "run-1")
    finally:
        con.close()
    assert not bad.ok
    assert "raw has 1" in bad.describe()


def test_file_rows_reconciliation_uses_an_independent_count(tmp_path) -> None:
    settings = make_home(tmp_path)
    [path] = write_case(CASES_BY_NAME["quoted_newlines"], settings.landing_dir)
    load(settings, "customers")
    # the file changes after loading: the re-count no longer matches the ledger
    path.write_bytes(path.read_bytes() + path.read_bytes().splitlines(keepends=True)[-1])
    con = work_con(settings)
    try:
        [result] = file_rows(con, settings, "customers")
    finally:
        con.close()
    assert result.recounted == 4 and result.rows_in_file == 3 and not result.ok


def _expected_valid_total(files: list[bytes]) -> Decimal:
    """Latest delivery of each (source_system, transaction_id, line_number) wins."""
    latest: dict[tuple, Decimal] = {}
    for content in files:
        for row in csv.DictReader(io.StringIO(content.decode())):
            latest[(row["source_system"], row["transaction_id"], row["line_number"])] = Decimal(
                row["amount"]
            )
    return sum(latest.values(), Decimal(0))


def test_revenue_reconciles_with_redeliveries_and_fails_on_tampering(tmp_path) -> None:
    settings = make_home(tmp_path)
    case = CASES_BY_NAME["conflicting_redelivery"]
    write_case(case, settings.landing_dir)
    third = to_csv(TX_HEADER, [tx(1, amount="1"), tx(7)])
    (settings.landing_entity_dir("transactions") / "2025-03-03_tx.csv").write_bytes(third)
    load(settings, "transactions")
    expected = _expected_valid_total([content for _, content in case.files] + [third])
    con = work_con(settings)
    try:
        result = revenue(con)
        assert result.ledger_total == result.raw_total
        assert result.valid_landing_total == expected == result.latest_total
        assert result.distinct_keys == 5 and not result.batch_mismatches
        # raw keeps history: 3 + 2 + 2 lines delivered, 5 distinct
        assert con.execute("select count(*) from raw.transactions").fetchone()[0] == 7
        con.execute(
            "update raw.transactions set amount = amount + 1 where transaction_id = 'T0007'"
        )
        tampered = revenue(con)
    finally:
        con.close()
    assert tampered.batch_mismatches and tampered.ledger_total != tampered.raw_total


def test_data_quality_log_columns_are_documented() -> None:
    import duckdb

    from pipelines.quality.assets import LOG_COLUMNS
    from pipelines.quality.log import ensure_log

    con = duckdb.connect()
    ensure_log(con)
    columns = [row[0] for row in con.execute("describe marts.data_quality_log").fetchall()]
    assert columns == list(LOG_COLUMNS)
