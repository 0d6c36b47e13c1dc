"""One GX validation per entity per night (per group of files up to quality.gx.chunk_rows
rows), with every outcome still per file: quarantine rows, findings, shares, uniqueness
within a file, ledger entries in file order."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pytest
from great_expectations.datasource.fluent.interfaces import Batch

import pipelines.ingest.loader as loader
from pipelines.ingest.checks import GxInput, validate_files
from pipelines.ingest.contract import CONTRACTS
from pipelines.ingest.reader import detect_format, read_file
from pipelines.ingest.rowchecks import IngestRules, build_checked_table
from pipelines.quality.config import QualityConfig
from tests.fixtures.bad_files.corpus import CU_HEADER, TX_HEADER, cu, to_csv, tx
from tests.quality.helpers import AS_OF, load, make_home, query


@pytest.fixture
def suite_runs(monkeypatch) -> list[int]:
    """Counts GX suite validations (GX's own Batch.validate called with a suite)."""
    import great_expectations as gx

    calls: list[int] = []
    real = Batch.validate

    def counting(self, expect, **kwargs):
        if isinstance(expect, gx.ExpectationSuite):
            calls.append(len(self.data.dataframe))
        return real(self, expect, **kwargs)

    monkeypatch.setattr(Batch, "validate", counting)
    return calls


def _write(settings, entity: str, name: str, header: list[str], rows: list[dict]) -> None:
    (settings.landing_entity_dir(entity) / name).write_bytes(to_csv(header, rows))


def _ledger(settings) -> list[tuple[str, str, int, int, dict[str, Any]]]:
    return [
        (name, status, loaded, quarantined, json.loads(v) if v else {})
        for name, status, loaded, quarantined, v in query(
            settings,
            "select file_name, status, rows_loaded, rows_quarantined, validation "
            "from raw._batches order by batch_id",
        )
    ]


def _leaky(monkeypatch, code: str) -> None:
    """Simulate a gap in the SQL row checks: they stop reporting ``code``."""
    real = loader.build_checked_table

    def leaky(con, contract, rules, present):
        real(con, contract, rules, present)
        con.execute(
            f"update _checked set _all_problems = [] where _all_problems[1] like '{code}|%'"
        )

    monkeypatch.setattr(loader, "build_checked_table", leaky)


def test_three_files_of_a_night_share_one_gx_run(tmp_path, suite_runs) -> None:
    settings = make_home(tmp_path)
    for f in range(3):
        rows = [tx(100 * f + n) for n in range(1, 6 + f)]
        _write(settings, "transactions", f"tx_{f}.csv", TX_HEADER, rows)
    results = load(settings, "transactions")
    assert [r.status for r in results] == ["loaded"] * 3
    assert suite_runs == [5 + 6 + 7]  # one suite validation over the rows of all three files
    ledger = _ledger(settings)
    assert [name for name, *_ in ledger] == [f"transactions/tx_{f}.csv" for f in range(3)]
    for f, (_, _, loaded, _, summary) in enumerate(ledger):
        assert summary["mode"] == "full"
        assert summary["candidate_rows"] == summary["validated_rows"] == loaded == 5 + f
        assert summary["shared"] == {**ledger[0][4]["shared"], "files": 3, "run": 1}
        assert summary["shared"]["validated_rows"] == 18
        assert summary["shared"]["suite_runs"] == 1
    # the files' shares of the run's seconds add up to the run
    shared_seconds = ledger[0][4]["shared"]["seconds"]
    assert sum(s["seconds"] for *_, s in ledger) == pytest.approx(shared_seconds, abs=0.01)


def test_groups_are_bounded_by_chunk_rows(tmp_path, suite_runs) -> None:
    """4 files of 6 rows with chunk_rows 12: two groups of two files, one GX run each."""
    settings = make_home(tmp_path, {"quality": {"gx": {"mode": "full", "chunk_rows": 12}}})
    for f in range(4):
        _write(
            settings, "transactions", f"tx_{f}.csv", TX_HEADER, [tx(100 * f + n) for n in range(6)]
        )
    load(settings, "transactions")
    assert suite_runs == [12, 12]
    runs = [(s["shared"]["run"], s["shared"]["files"]) for *_, s in _ledger(settings)]
    assert runs == [(1, 2), (1, 2), (2, 2), (2, 2)]


def test_gx_flagged_row_is_quarantined_under_its_own_file(tmp_path, monkeypatch) -> None:
    settings = make_home(tmp_path, {"quality": {"checks": {"gx_contract": "warning"}}})
    _write(settings, "transactions", "tx_1.csv", TX_HEADER, [tx(n) for n in range(1, 6)])
    _write(
        settings,
        "transactions",
        "tx_2.csv",
        TX_HEADER,
        [tx(11), tx(12), tx(13), tx(14, channel="fax"), tx(15)],
    )
    _write(settings, "transactions", "tx_3.csv", TX_HEADER, [tx(n) for n in range(21, 26)])
    _leaky(monkeypatch, "unknown_channel")
    results = load(settings, "transactions")
    assert [(r.status, r.rows_loaded, r.rows_quarantined) for r in results] == [
        ("loaded", 5, 0),
        ("loaded", 4, 1),
        ("loaded", 5, 0),
    ]
    [(name, row, code, message, channel)] = query(
        settings,
        "select _file_name, _row_number, reason_code, reason_message, channel "
        "from quarantine.transactions",
    )
    assert (name, row, code, channel) == ("transactions/tx_2.csv", 4, "unknown_channel", "fax")
    assert "GX expect_column_values_to_be_in_set(channel)" in message
    logged = query(
        settings,
        "select file_name, failed_count, sample from marts.data_quality_log "
        "where check_name = 'gx_contract'",
    )
    assert [(f, n) for f, n, _ in logged] == [("transactions/tx_2.csv", 1)]
    assert '"row": 4' in logged[0][2]
    ledger = _ledger(settings)
    assert [s["failed"] for *_, s in ledger] == [
        [],
        [
            {
                "expectation": "expect_column_values_to_be_in_set(channel)",
                "code": "unknown_channel",
                "unexpected": 1,
            }
        ],
        [],
    ]
    assert {s["shared"]["run"] for *_, s in ledger} == {1}


def test_blocking_gx_finding_holds_only_its_own_file(tmp_path, monkeypatch) -> None:
    settings = make_home(tmp_path)  # gx_contract: blocking
    _write(settings, "transactions", "tx_1.csv", TX_HEADER, [tx(n) for n in range(1, 6)])
    _write(settings, "transactions", "tx_2.csv", TX_HEADER, [tx(11), tx(12, channel="fax")])
    _write(settings, "transactions", "tx_3.csv", TX_HEADER, [tx(n) for n in range(21, 26)])
    _leaky(monkeypatch, "unknown_channel")
    results = load(settings, "transactions")
    assert [r.status for r in results] == ["loaded", "held", "loaded"]
    assert (settings.landing_entity_dir("transactions") / "tx_2.csv").exists()
    ids = query(settings, "select distinct transaction_id from raw.transactions order by 1")
    assert [i for (i,) in ids] == [
        *(f"T{n:04d}" for n in range(1, 6)),
        *(f"T{n:04d}" for n in range(21, 26)),
    ]
    assert query(settings, "select count(*) from quarantine.transactions") == [(0,)]


def test_a_key_in_two_files_is_not_a_duplicate_but_twice_in_one_file_is(
    tmp_path, monkeypatch
) -> None:
    """GX key uniqueness is within one file, like the SQL duplicate checks: with the SQL
    duplicate checks switched off, GX alone flags the repeated key inside tx_2 only."""
    settings = make_home(tmp_path, {"quality": {"checks": {"gx_contract": "warning"}}})
    _write(settings, "transactions", "tx_1.csv", TX_HEADER, [tx(n) for n in range(1, 6)])
    _write(
        settings,
        "transactions",
        "tx_2.csv",
        TX_HEADER,  # T0005 again (a redelivery) and T0006 twice with different amounts
        [tx(5, amount="9000"), tx(6), tx(6, amount="7500"), tx(7)],
    )
    _leaky(monkeypatch, "duplicate_key")
    results = load(settings, "transactions")
    assert [(r.status, r.rows_loaded, r.rows_quarantined) for r in results] == [
        ("loaded", 5, 0),
        ("loaded", 2, 2),
    ]
    quarantined = query(
        settings,
        "select _file_name, _row_number, reason_code, transaction_id from quarantine.transactions "
        "order by 2",
    )
    # GX flags every row of a repeated key (the SQL check only the later ones)
    assert quarantined == [
        ("transactions/tx_2.csv", 2, "duplicate_key", "T0006"),
        ("transactions/tx_2.csv", 3, "duplicate_key", "T0006"),
    ]
    found = {(f.check, f.file_name) for r in results for f in r.findings}
    assert ("gx_contract", "transactions/tx_1.csv") not in found
    assert ("gx_contract", "transactions/tx_2.csv") in found
    assert ("redelivered_lines", "transactions/tx_2.csv") in found  # T0005: latest file wins


def test_batch_shares_are_judged_per_file(tmp_path) -> None:
    settings = make_home(tmp_path)
    _write(settings, "transactions", "tx_1.csv", TX_HEADER, [tx(n) for n in range(1, 11)])
    returns = [tx(n, quantity="-1", amount="-500") for n in range(11, 16)]
    _write(
        settings, "transactions", "tx_2.csv", TX_HEADER, [*returns, *(tx(n) for n in range(16, 21))]
    )
    _write(settings, "transactions", "tx_3.csv", TX_HEADER, [tx(n) for n in range(21, 31)])
    _write(settings, "customers", "cu_1.csv", CU_HEADER, [cu(n) for n in range(1, 11)])
    _write(
        settings,
        "customers",
        "cu_2.csv",
        CU_HEADER,
        [*(cu(n, email="nope") for n in range(11, 14)), *(cu(n) for n in range(14, 21))],
    )
    results = [*load(settings, "transactions"), *load(settings, "customers")]
    shares = sorted(
        (f.check, f.file_name, f.count, f.checked)
        for r in results
        for f in r.findings
        if f.check in ("return_share", "identified_share", "email_format")
    )
    # 5 of 10 lines of tx_2 are returns (max 30 %); over all 30 lines it would be 17 %
    assert shares == [
        ("email_format", "customers/cu_2.csv", 3, 10),
        ("return_share", "transactions/tx_2.csv", 5, 10),
    ]


def _checked_table(con, settings, entity: str, path, name: str) -> None:
    read = read_file(con, path, detect_format(path))
    build_checked_table(
        con, CONTRACTS[entity], IngestRules.from_settings(settings, AS_OF), set(read.columns)
    )
    con.execute(f"alter table _checked rename to {name}")


def _per_file(report) -> list[tuple]:
    return [
        (
            o.label,
            o.success,
            o.checked,
            o.unexpected,
            o.row_numbers,
            json.dumps(o.sample, default=str),
            o.error,
        )
        for o in report.outcomes
    ]


@pytest.mark.parametrize("chunk_rows", [1000, 10])  # 10: one frame mixes a.csv and b.csv
def test_validating_files_together_equals_validating_each_alone(tmp_path, chunk_rows) -> None:
    """Every row GX sees, dirty ones included: the combined run splits back exactly."""
    settings = make_home(tmp_path, {"quality": {"gx": {"mode": "full", "chunk_rows": chunk_rows}}})
    files = {
        "a.csv": [tx(n, source_customer_id="" if n % 4 else "C1") for n in range(1, 13)],
        "b.csv": [
            tx(1),  # the same key as a.csv's first line
            tx(2, channel="fax"),
            tx(3, amount="-100", quantity="-1"),
            tx(4, amount="abc"),
            tx(5, occurred_at="2025-04-09 10:00:00"),
            tx(5, amount="1"),  # a repeated key in this file
            tx(6, discount=""),
        ],
        "c.csv": [tx(n, amount=str(-100 * n), quantity="-1") for n in range(1, 5)],
    }
    con = duckdb.connect()
    for i, (name, rows) in enumerate(files.items()):
        path = tmp_path / name
        path.write_bytes(to_csv(TX_HEADER, rows))
        _checked_table(con, settings, "transactions", path, f"_c{i}")
    rules = IngestRules.from_settings(settings, AS_OF)
    cfg = QualityConfig.from_settings(settings)
    contract = CONTRACTS["transactions"]
    inputs = [GxInput(f"_c{i}", "true") for i in range(3)]
    together = validate_files(con, contract, rules, cfg, inputs)
    alone = [validate_files(con, contract, rules, cfg, [inp])[0] for inp in inputs]
    for t, a in zip(together, alone, strict=True):
        assert (t.candidate_rows, t.validated_rows) == (a.candidate_rows, a.validated_rows)
        assert _per_file(t) == _per_file(a)
    assert [r.validated_rows for r in together] == [12, 7, 4]
    assert together[0].shared["files"] == 3
    # the dirt is where it was planted
    by_code = {(k, o.code): o.row_numbers for k, r in enumerate(together) for o in r.failed("row")}
    assert by_code == {
        (1, "unknown_channel"): [2],
        (1, "missing_required"): [4],
        (1, "future_date"): [5],
        (1, "duplicate_key"): [5, 6],
    }
    failed_batch = {
        (k, o.code, o.unexpected, o.checked)
        for k, r in enumerate(together)
        for o in r.failed("batch")
    }
    assert failed_batch == {(0, "identified_share", 9, 12), (2, "return_share", 4, 4)}


def test_sample_mode_samples_across_the_files(tmp_path) -> None:
    settings = make_home(tmp_path, {"quality": {"gx": {"mode": "sample", "sample_rows": 7}}})
    for f in range(3):
        _write(
            settings, "transactions", f"tx_{f}.csv", TX_HEADER, [tx(100 * f + n) for n in range(6)]
        )
    load(settings, "transactions")
    summaries = [s for *_, s in _ledger(settings)]
    assert {s["mode"] for s in summaries} == {"sample"}
    assert sum(s["validated_rows"] for s in summaries) == 7
    assert all(s["candidate_rows"] == 6 for s in summaries)
    assert summaries[0]["shared"]["validated_rows"] == 7


def test_rejected_and_duplicate_files_keep_their_place_in_a_group(tmp_path, suite_runs) -> None:
    settings = make_home(tmp_path)
    folder = settings.landing_entity_dir("transactions")
    body = to_csv(TX_HEADER, [tx(n) for n in range(1, 4)])
    (folder / "a.csv").write_bytes(body)
    (folder / "b.csv").write_bytes(b"source_system,transaction_id\npos,T1\n")
    (folder / "c.csv").write_bytes(body)  # same content as a.csv: a duplicate
    (folder / "d.csv").write_bytes(to_csv(TX_HEADER, [tx(n) for n in range(11, 14)]))
    results = load(settings, "transactions")
    assert [(r.file_name, r.status) for r in results] == [
        ("transactions/a.csv", "loaded"),
        ("transactions/b.csv", "rejected"),
        ("transactions/c.csv", "duplicate"),
        ("transactions/d.csv", "loaded"),
    ]
    # batch ids in file order, as when every file was finished before the next was read
    assert [(name, status) for name, status, *_ in _ledger(settings)] == [
        (r.file_name, r.status) for r in results
    ]
    # a.csv had to commit before c.csv could be recognised as its duplicate: two runs
    assert suite_runs == [3, 3]
    assert query(settings, "select count(*) from raw.transactions") == [(6,)]
