"""The GX suites: they agree with the SQL row checks, catch what SQL would miss,
report batch-level shares, and run in full, chunked or sampled mode."""

from __future__ import annotations

import duckdb
import pytest

import pipelines.ingest.loader as loader
from pipelines.ingest.checks import validate_batch
from pipelines.ingest.contract import CONTRACTS
from pipelines.ingest.reader import detect_format, read_file
from pipelines.ingest.rowchecks import IngestRules, build_checked_table
from pipelines.quality.config import QualityConfig
from pipelines.quality.suites import build_suite
from tests.fixtures.bad_files.corpus import CU_HEADER, TX_HEADER, cu, to_csv, tx
from tests.quality.helpers import AS_OF, load, make_home, query


def _checked(settings, entity: str, path) -> duckdb.DuckDBPyConnection:
    """The loader's own typed/checked table for one file, in memory."""
    con = duckdb.connect()
    read = read_file(con, path, detect_format(path))
    build_checked_table(
        con, CONTRACTS[entity], IngestRules.from_settings(settings, AS_OF), set(read.columns)
    )
    return con


def test_every_entity_has_a_suite_from_config(tmp_path) -> None:
    settings = make_home(tmp_path)
    rules = IngestRules.from_settings(settings, AS_OF)
    cfg = QualityConfig.from_settings(settings)
    for entity in CONTRACTS:
        suite = build_suite(entity, rules, cfg)
        assert suite.name == entity and len(suite.expectations) > 3
        for exp in suite.expectations:
            assert exp.meta["tier"] in ("row", "batch")
            code = exp.meta.get("reason_code") or exp.meta.get("check")
            assert code in cfg.severities, code  # every code is configured in crm.yml
    channel = next(
        e
        for e in build_suite("transactions", rules, cfg).expectations
        if e.expectation_type == "expect_column_values_to_be_in_set" and e.column == "channel"
    )
    assert sorted(channel.value_set) == sorted(
        settings.section("ingest")["channels"]["transactions"]
    )


def test_gx_flags_the_same_rows_as_the_sql_checks(tmp_path) -> None:
    """Two implementations of the contract: GX on every typed row vs the SQL row checks."""
    settings = make_home(tmp_path)
    rows = [
        *[tx(n) for n in range(1, 21)],
        tx(21, channel="fax"),
        tx(22, currency="USD"),
        tx(23, amount="500000000"),
        tx(24, quantity="20000", amount="40000"),
        tx(25, occurred_at="2025-04-03 10:00:00"),
        tx(26, occurred_at="1985-01-01 10:00:00"),
        tx(27, product_id=""),
        tx(28, line_number="0"),
        tx(29, amount="abc"),
        tx(30, quantity="-1"),  # sign mismatch: no GX expectation covers it
    ]
    path = settings.landing_entity_dir("transactions") / "tx.csv"
    path.write_bytes(to_csv(TX_HEADER, rows))
    con = _checked(settings, "transactions", path)
    sql = dict(
        con.execute(
            "select _row_number, split_part(_all_problems[1], '|', 1) from _checked "
            "where len(_all_problems) > 0"
        ).fetchall()
    )
    assert sorted(sql) == list(range(21, 31))
    report = validate_batch(
        con,
        CONTRACTS["transactions"],
        IngestRules.from_settings(settings, AS_OF),
        QualityConfig.from_settings(settings),
        where="true",
    )
    flagged = {row for o in report.failed("row") for row in o.row_numbers}
    assert flagged == set(sql) - {30}
    by_code: dict[str, set[int]] = {}
    for o in report.failed("row"):
        by_code.setdefault(o.code, set()).update(o.row_numbers)
    assert by_code["unknown_channel"] == {21}
    assert by_code["foreign_currency"] == {22}
    assert by_code["amount_outlier"] == {23}
    assert by_code["quantity_outlier"] == {24}
    assert by_code["future_date"] == {25}
    assert by_code["implausible_date"] == {26}
    assert by_code["missing_required"] == {27, 29}  # 'abc' types to null
    assert by_code["invalid_line_number"] == {28}
    # on the rows the loader keeps, the suite passes
    clean = validate_batch(
        con,
        CONTRACTS["transactions"],
        IngestRules.from_settings(settings, AS_OF),
        QualityConfig.from_settings(settings),
    )
    assert clean.success and clean.validated_rows == 20


def _without_channel_check(monkeypatch) -> None:
    """Simulate a gap in the SQL row checks: they stop seeing unknown channels."""
    real = loader.build_checked_table

    def leaky(con, contract, rules, present):
        real(con, contract, rules, present)
        con.execute(
            "update _checked set _all_problems = [] where _all_problems[1] like 'unknown_channel|%'"
        )

    monkeypatch.setattr(loader, "build_checked_table", leaky)


def test_gx_catches_a_row_the_sql_checks_missed_and_holds_the_file(tmp_path, monkeypatch) -> None:
    settings = make_home(tmp_path)
    path = settings.landing_entity_dir("transactions") / "tx.csv"
    path.write_bytes(to_csv(TX_HEADER, [*[tx(n) for n in range(1, 10)], tx(10, channel="fax")]))
    _without_channel_check(monkeypatch)
    [result] = load(settings, "transactions")
    # gx_contract is blocking in crm.yml: nothing of the file loads, it stays in landing/
    assert result.status == "held"
    assert path.exists()
    assert query(settings, "select count(*) from raw.transactions")[0][0] == 0
    assert query(settings, "select count(*) from quarantine.transactions")[0][0] == 0
    logged = query(
        settings, "select check_name, severity, failed_count, message from marts.data_quality_log"
    )
    gx = [r for r in logged if r[0] == "gx_contract"]
    assert gx and gx[0][1] == "blocking" and gx[0][2] == 1
    assert "expect_column_values_to_be_in_set(channel)" in gx[0][3]


def test_gx_quarantines_the_row_when_configured_as_warning(tmp_path, monkeypatch) -> None:
    settings = make_home(tmp_path, {"quality": {"checks": {"gx_contract": "warning"}}})
    path = settings.landing_entity_dir("transactions") / "tx.csv"
    path.write_bytes(to_csv(TX_HEADER, [*[tx(n) for n in range(1, 10)], tx(10, channel="fax")]))
    _without_channel_check(monkeypatch)
    [result] = load(settings, "transactions")
    assert result.status == "loaded" and result.rows_loaded == 9
    [(row, code, message)] = query(
        settings, "select _row_number, reason_code, reason_message from quarantine.transactions"
    )
    assert (row, code) == (10, "unknown_channel")
    assert "GX expect_column_values_to_be_in_set(channel)" in message


def test_batch_level_shares_are_logged_as_warnings(tmp_path) -> None:
    settings = make_home(tmp_path)
    anonymous = [tx(n, source_customer_id="") for n in range(1, 9)]
    returns = [tx(n, source_customer_id="", quantity="-1", amount="-500") for n in range(9, 14)]
    (settings.landing_entity_dir("transactions") / "tx.csv").write_bytes(
        to_csv(TX_HEADER, [*anonymous, *returns, tx(14)])
    )
    bad_emails = [cu(n, email="not-an-email") for n in range(1, 4)]
    (settings.landing_entity_dir("customers") / "cu.csv").write_bytes(
        to_csv(CU_HEADER, [*bad_emails, *[cu(n) for n in range(4, 11)]])
    )
    [tx_result] = load(settings, "transactions")
    [cu_result] = load(settings, "customers")
    assert tx_result.rows_loaded == 14 and cu_result.rows_loaded == 10
    found = {f.check: f for f in [*tx_result.findings, *cu_result.findings]}
    # 13 of 14 lines anonymous (at least 30% identified expected), 5 of 14 returns (max 30%)
    assert found["identified_share"].count == 13
    assert found["identified_share"].severity == "warning"
    assert found["return_share"].count == 5
    assert found["email_format"].count == 3
    # the sample never shows the email itself
    assert all(s.get("email") == "***" for s in found["email_format"].sample)


def _anonymous_file(settings, n: int) -> duckdb.DuckDBPyConnection:
    rows = [tx(i, source_customer_id="" if i % 4 == 0 else f"C{i}") for i in range(1, n + 1)]
    path = settings.landing_entity_dir("transactions") / "tx.csv"
    path.write_bytes(to_csv(TX_HEADER, rows))
    return _checked(settings, "transactions", path)


def _outcomes(report) -> list[tuple]:
    return [(o.label, o.success, o.checked, o.unexpected) for o in report.outcomes]


def test_chunked_validation_matches_one_frame(tmp_path) -> None:
    settings = make_home(tmp_path)
    con = _anonymous_file(settings, 60)
    rules = IngestRules.from_settings(settings, AS_OF)
    one = make_home(tmp_path / "a", {"quality": {"gx": {"mode": "full", "chunk_rows": 1000}}})
    many = make_home(tmp_path / "b", {"quality": {"gx": {"mode": "full", "chunk_rows": 7}}})
    whole = validate_batch(con, CONTRACTS["transactions"], rules, QualityConfig.from_settings(one))
    chunked = validate_batch(
        con, CONTRACTS["transactions"], rules, QualityConfig.from_settings(many)
    )
    assert whole.validated_rows == chunked.validated_rows == 60
    assert _outcomes(whole) == _outcomes(chunked)
    identified = next(o for o in chunked.outcomes if o.code == "identified_share")
    assert (identified.checked, identified.unexpected) == (60, 15)


def test_large_batches_are_sampled_deterministically(tmp_path) -> None:
    settings = make_home(tmp_path)
    con = _anonymous_file(settings, 60)
    rules = IngestRules.from_settings(settings, AS_OF)
    cfg = QualityConfig.from_settings(
        make_home(
            tmp_path / "s",
            {
                "quality": {
                    "gx": {"mode": "auto", "full_validation_max_rows": 50, "sample_rows": 20}
                }
            },
        )
    )
    first = validate_batch(con, CONTRACTS["transactions"], rules, cfg)
    second = validate_batch(con, CONTRACTS["transactions"], rules, cfg)
    assert first.mode == "sample" and first.candidate_rows == 60 and first.validated_rows == 20
    assert _outcomes(first) == _outcomes(second)


@pytest.mark.parametrize("mode", ["full", "sample"])
def test_validation_summary_is_recorded_in_the_ledger(tmp_path, mode) -> None:
    settings = make_home(tmp_path, {"quality": {"gx": {"mode": mode, "sample_rows": 5}}})
    (settings.landing_entity_dir("transactions") / "tx.csv").write_bytes(
        to_csv(TX_HEADER, [tx(n) for n in range(1, 13)])
    )
    load(settings, "transactions")
    import json

    [(validation,)] = query(settings, "select validation from raw._batches")
    summary = json.loads(validation)
    assert summary["mode"] == mode
    assert summary["validated_rows"] == (12 if mode == "full" else 5)
    assert summary["failed"] == []


def test_gx_file_sample_spreads_evenly_and_keeps_small_runs_whole() -> None:
    assert loader.gx_file_sample(5, 0) == set(range(5))
    assert loader.gx_file_sample(5, 8) == set(range(5))
    assert loader.gx_file_sample(10, 3) == {0, 3, 6}
    assert len(loader.gx_file_sample(320, 24)) == 24


def test_files_beyond_the_gx_file_sample_still_get_every_sql_row_check(tmp_path) -> None:
    """quality.gx.max_files_per_run: 2 of 4 new files go through GX, 2 are marked skipped;
    the dirty row of a skipped file is still quarantined and every good row loads. A later
    run samples among its own new files only."""
    import json

    settings = make_home(tmp_path, {"quality": {"gx": {"max_files_per_run": 2}}})
    folder = settings.landing_entity_dir("transactions")
    for f in range(4):
        rows = [tx(100 * f + n) for n in range(1, 6)] + [tx(100 * f + 9, channel="fax")]
        (folder / f"tx_{f}.csv").write_bytes(to_csv(TX_HEADER, rows))
    load(settings, "transactions")
    ledger = query(
        settings,
        "select file_name, validation, rows_loaded, rows_quarantined from raw._batches "
        "order by file_name",
    )
    modes = {name: json.loads(v)["mode"] for name, v, _, _ in ledger}
    assert modes == {
        "transactions/tx_0.csv": "full",
        "transactions/tx_1.csv": "skipped",
        "transactions/tx_2.csv": "full",
        "transactions/tx_3.csv": "skipped",
    }
    assert [(loaded, quarantined) for _, _, loaded, quarantined in ledger] == [(5, 1)] * 4
    reasons = query(settings, "select _file_name, reason_code from quarantine.transactions")
    assert sorted(reasons) == [(f"transactions/tx_{f}.csv", "unknown_channel") for f in range(4)]

    (folder / "tx_4.csv").write_bytes(to_csv(TX_HEADER, [tx(401)]))
    load(settings, "transactions", run_id="run-2")
    [(validation,)] = query(
        settings, "select validation from raw._batches where file_name = 'transactions/tx_4.csv'"
    )
    assert json.loads(validation)["mode"] == "full"
