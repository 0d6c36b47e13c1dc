"""Every case of the bad-file corpus gets a precise reason, and nothing is silently dropped.

The loader runs for real on a tmp DuckDB; expectations come from the corpus
definitions, and row counts are checked against an independent re-count of the
file (pyarrow / plain Python, not DuckDB).
"""

from __future__ import annotations

import json

import pytest

from pipelines.quality.reconcile import count_records, file_rows
from tests.fixtures.bad_files.corpus import CASES, Case, write_case
from tests.quality.helpers import load, make_home, query, work_con


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(tmp_path, case: Case) -> None:
    settings = make_home(tmp_path)
    paths = write_case(case, settings.landing_dir)
    results = load(settings, case.entity)
    assert len(results) == len(case.files)
    last = results[-1]
    assert last.status == case.status, last.message

    if case.status == "rejected":
        # moved out of landing/, next to a JSON report with the precise reason
        assert not paths[-1].exists()
        folder = settings.rejected_dir / case.entity
        moved = [p for p in folder.iterdir() if not p.name.endswith(".error.json")]
        assert len(moved) == 1 and moved[0].read_bytes() == case.files[-1][1]
        report = json.loads(moved[0].with_name(moved[0].name + ".error.json").read_text())
        assert report["reason"] == case.reason, report
        assert report["message"]
        assert last.message.startswith(case.reason)
        ledger = query(
            settings,
            "select status, message from raw._batches where file_hash = ?",
            [last.file_hash],
        )
        assert ledger[0][0] == "rejected" and case.reason in ledger[0][1]
        logged = query(settings, "select check_name, severity from marts.data_quality_log")
        assert ("rejected_file", "warning") in logged
        return

    assert paths[-1].exists(), "loaded and duplicate files stay in landing/"
    if case.status == "duplicate":
        assert last.rows_loaded == 0
        assert {f.check for f in last.findings} == case.findings
        assert (
            query(settings, f"select count(*) from raw.{case.entity}")[0][0]
            == results[0].rows_loaded
        )
        return

    # the precise reason for every quarantined record
    got = dict(
        query(
            settings,
            f"select _row_number, reason_code from quarantine.{case.entity} "
            "where _batch_id = ? order by 1",
            [last.batch_id],
        )
    )
    assert got == case.quarantined
    assert last.rows_loaded == case.loaded
    assert {f.check for f in last.findings} == case.findings

    # nothing silently dropped: an independent re-count of the file
    records = count_records(paths[-1])
    raw_rows = query(
        settings, f"select count(*) from raw.{case.entity} where _batch_id = ?", [last.batch_id]
    )[0][0]
    assert records == last.rows_in_file == raw_rows + len(got)
    con = work_con(settings)
    try:
        reconciled = file_rows(con, settings, case.entity)
    finally:
        con.close()
    assert reconciled and all(r.ok for r in reconciled), [r.describe() for r in reconciled]


def test_quarantine_keeps_original_values_file_and_message(tmp_path) -> None:
    case = next(c for c in CASES if c.name == "non_numeric_amount")
    settings = make_home(tmp_path)
    write_case(case, settings.landing_dir)
    load(settings, case.entity)
    rows = query(
        settings,
        "select _file_name, _row_number, reason_code, reason_message, amount, transaction_id, "
        "currency from quarantine.transactions",
    )
    assert rows == [
        (
            "transactions/tx.csv",
            2,
            "not_numeric",
            "amount: '12,000원' is not a number",
            "12,000원",
            "T0002",
            "KRW",
        )
    ]


def test_malformed_lines_keep_the_raw_text(tmp_path) -> None:
    case = next(c for c in CASES if c.name == "malformed_lines")
    settings = make_home(tmp_path)
    write_case(case, settings.landing_dir)
    load(settings, case.entity)
    rows = query(
        settings,
        "select _row_number, reason_message, _raw_line from quarantine.transactions order by 1",
    )
    assert [r[0] for r in rows] == [3, 4, 6]
    assert "too many columns" in rows[0][1] and rows[0][2].endswith(",surplus")
    assert "missing columns" in rows[1][1]
    assert "unquoted value" in rows[2][1] or "unterminated" in rows[2][1].lower()
    # the good record after the broken ones keeps its own record number
    assert query(
        settings, "select _row_number, transaction_id from raw.transactions order by 1"
    ) == [
        (1, "T0001"),
        (2, "T0002"),
        (5, "T0005"),
    ]


def test_quoted_newline_is_kept_and_numbers_stay_right(tmp_path) -> None:
    case = next(c for c in CASES if c.name == "quoted_newlines")
    settings = make_home(tmp_path)
    write_case(case, settings.landing_dir)
    load(settings, case.entity)
    rows = query(
        settings, "select _row_number, source_customer_id, city from raw.customers order by 1"
    )
    assert rows == [(1, "C001", "Seoul\nGangnam-gu"), (2, "C002", "Seoul"), (3, "C003", "Seoul")]


def test_personal_data_never_in_messages_or_log(tmp_path) -> None:
    case = next(c for c in CASES if c.name == "invalid_boolean_and_birth_date")
    settings = make_home(tmp_path)
    write_case(case, settings.landing_dir)
    load(settings, case.entity)
    message = query(
        settings, "select reason_message from quarantine.customers where _row_number = 10"
    )[0][0]
    assert message == "birth_date: (value hidden) is not a valid date"
    logged = " ".join(str(r) for r in query(settings, "select * from marts.data_quality_log"))
    for secret in ("1985-13-01", "minji", "010-1234-5678", "Kim"):
        assert secret not in logged


def test_same_files_twice_load_once(tmp_path) -> None:
    settings = make_home(tmp_path)
    for case_name in ("conflicting_redelivery", "quoted_newlines"):
        write_case(next(c for c in CASES if c.name == case_name), settings.landing_dir)
    first = [*load(settings, "transactions"), *load(settings, "customers")]
    assert all(r.status == "loaded" for r in first)
    again = [*load(settings, "transactions", "run-2"), *load(settings, "customers", "run-2")]
    assert again == []
    assert query(settings, "select count(*) from raw._batches")[0][0] == 3
