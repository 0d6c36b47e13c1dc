"""A loader process SIGKILLed inside a batch transaction or between the ledger entry
and the move of a rejected file: nothing half-done survives, the next load finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.fixtures.bad_files.corpus import CASES_BY_NAME, write_case
from tests.quality.helpers import REPO_ROOT, load, make_home, query

LOADER = """
import datetime as dt, sys
import duckdb
from pipelines.ingest.loader import load_entity
from pipelines.settings import Settings
settings = Settings.load(sys.argv[1])
con = duckdb.connect(str(settings.work_db_path))
load_entity(con, settings, sys.argv[2], dt.date(2025, 3, 31), "killed-run")
"""


def _load_and_kill(home, entity: str, pause_at: str) -> None:
    env = {**os.environ, "CRM_TEST_PAUSE_AT": pause_at}
    proc = subprocess.Popen(
        [sys.executable, "-c", LOADER, str(home), entity],
        cwd=REPO_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if f"[crm-test] paused at {pause_at}" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the loader never reached the pause point"


@pytest.mark.slow  # two GX imports (the killed process and the next load): ~20-35 s
def test_kill_inside_the_batch_transaction(tmp_path) -> None:
    settings = make_home(tmp_path)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    [path] = write_case(CASES_BY_NAME["non_numeric_amount"], settings.landing_dir)
    _load_and_kill(settings.home, "transactions", "ingest_commit")
    # rows and ledger entry were written but not committed: none of it survives
    assert path.exists()
    assert query(settings, "select count(*) from raw._batches")[0][0] == 0
    assert query(settings, "select count(*) from raw.transactions")[0][0] == 0
    assert query(settings, "select count(*) from quarantine.transactions")[0][0] == 0
    assert query(settings, "select count(*) from marts.data_quality_log")[0][0] == 0
    [result] = load(settings, "transactions", "next-run")
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 2, 1)
    assert query(settings, "select count(*), min(run_id) from raw._batches") == [(1, "next-run")]


def test_kill_between_reject_ledger_and_move(tmp_path) -> None:
    settings = make_home(tmp_path)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    [path] = write_case(CASES_BY_NAME["latin1_file"], settings.landing_dir)
    _load_and_kill(settings.home, "customers", "ingest_reject")
    assert path.exists(), "killed before the move: the file is still in landing/"
    assert query(settings, "select status from raw._batches") == [("rejected",)]
    [result] = load(settings, "customers", "next-run")
    assert result.status == "rejected"
    assert not path.exists()
    moved = [p.name for p in (settings.rejected_dir / "customers").iterdir()]
    assert len(moved) == 2 and any(n.endswith(".error.json") for n in moved)
    # finishing the move does not record the rejection twice
    assert query(settings, "select count(*) from raw._batches")[0][0] == 1
