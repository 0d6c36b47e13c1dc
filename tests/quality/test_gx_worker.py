"""The GX worker process of `crm run`: same outcomes as validating in-process, a fallback
when it fails, and no worker left behind when its parent is killed."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest
from great_expectations.datasource.fluent.interfaces import Batch

from pipelines.ingest import gx_worker
from pipelines.ingest.checks import GxInput, validate_files
from pipelines.ingest.contract import CONTRACTS
from pipelines.ingest.reader import detect_format, read_file
from pipelines.ingest.rowchecks import IngestRules, build_checked_table
from pipelines.quality.config import QualityConfig
from tests.fixtures.bad_files.corpus import TX_HEADER, to_csv, tx
from tests.quality.helpers import AS_OF, REPO_ROOT, make_home

pytestmark = pytest.mark.xdist_group("gx_worker")


@pytest.fixture
def dirty_night(tmp_path):
    """Three transaction files with planted dirt, row-checked, and GX in chunks of 5 rows
    (several frames go through the pipe, one of them mixing two files)."""
    settings = make_home(tmp_path, {"quality": {"gx": {"mode": "full", "chunk_rows": 5}}})
    files = [
        [tx(n, source_customer_id="" if n % 4 else "C1") for n in range(1, 9)],
        [tx(1), tx(2, channel="fax"), tx(3, amount="abc"), tx(4, amount="1"), tx(4)],
        [tx(n, amount=str(-100 * n), quantity="-1") for n in range(1, 4)],
    ]
    con = duckdb.connect()
    rules = IngestRules.from_settings(settings, AS_OF)
    for i, rows in enumerate(files):
        path = tmp_path / f"f{i}.csv"
        path.write_bytes(to_csv(TX_HEADER, rows))
        read = read_file(con, path, detect_format(path))
        build_checked_table(con, CONTRACTS["transactions"], rules, set(read.columns))
        con.execute(f"alter table _checked rename to _c{i}")
    args = (
        con,
        CONTRACTS["transactions"],
        rules,
        QualityConfig.from_settings(settings),
        [GxInput(f"_c{i}", "true") for i in range(len(files))],
    )
    yield args
    gx_worker.stop()


@pytest.fixture
def local_suite_runs(monkeypatch) -> list[int]:
    """GX suite validations in *this* process."""
    calls: list[int] = []
    real = Batch.validate

    def counting(self, expect, **kwargs):
        calls.append(len(self.data.dataframe))
        return real(self, expect, **kwargs)

    monkeypatch.setattr(Batch, "validate", counting)
    return calls


def _comparable(reports) -> list[tuple]:
    return [
        (r.mode, r.candidate_rows, r.validated_rows, r.shared["suite_runs"])
        + tuple(repr(dataclasses.astuple(o)) for o in r.outcomes)  # repr: nan == nan
        for r in reports
    ]


def test_the_worker_finds_what_in_process_validation_finds(dirty_night, local_suite_runs):
    in_process = validate_files(*dirty_night)
    assert len(local_suite_runs) == 4  # 16 rows in frames of at most 5

    local_suite_runs.clear()
    worker = gx_worker.start()
    in_worker = validate_files(*dirty_night)
    assert local_suite_runs == []  # GX ran in the worker, not here
    assert gx_worker.current() is worker and worker.process.poll() is None
    assert _comparable(in_worker) == _comparable(in_process)
    # and the planted dirt is found at all (not two equally empty reports)
    flagged = {(k, o.code): o.row_numbers for k, r in enumerate(in_worker) for o in r.failed("row")}
    assert flagged == {
        (1, "unknown_channel"): [2],
        (1, "missing_required"): [3],
        (1, "duplicate_key"): [4, 5],
    }


def test_a_dead_worker_falls_back_to_in_process_validation(dirty_night, local_suite_runs):
    expected = _comparable(validate_files(*dirty_night))
    local_suite_runs.clear()
    worker = gx_worker.start()
    worker.process.kill()
    worker.process.wait()
    assert _comparable(validate_files(*dirty_night)) == expected
    assert len(local_suite_runs) == 4  # validated here instead
    assert gx_worker.current() is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_the_worker_dies_with_a_killed_parent() -> None:
    """A night killed while the worker still imports GX leaves no process behind."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import time
                from pipelines.ingest import gx_worker
                print(gx_worker.start().process.pid, flush=True)
                time.sleep(120)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert parent.stdout is not None
    worker_pid = int(parent.stdout.readline())
    time.sleep(1)  # the worker is importing GX now (seconds), not reading its requests
    assert _alive(worker_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 3  # well before it would finish importing and see EOF
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker_pid)
