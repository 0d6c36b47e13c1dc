"""The dbt project's `unit_tests:` (ties, single orders, return-only customers,
survivorship, incremental nights, reruns at a month-end, ...).

dbt reads the column types of a unit test's inputs from the warehouse, so the relations
must exist; they need no rows. The sources get the tables the ingest and identity steps
create (their own DDL), every model is built empty (`dbt run --empty`), then
`dbt test --select test_type:unit` runs. The nightly build itself skips unit tests.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import duckdb

from pipelines.identity.keys import ensure_state
from pipelines.identity.resolve import OUTPUT_DDL
from pipelines.ingest.loader import ensure_tables
from pipelines.settings import DBT_PROJECT_DIR, Settings
from pipelines.transform.project import DBT_EXECUTABLE
from tests.quality.helpers import make_home

AS_OF = dt.date(2026, 6, 30)


def _dbt(settings: Settings, target: Path, *args: str) -> subprocess.CompletedProcess:
    # dbt_env() names the profiles dir, the build database and the log path of the home
    return subprocess.run(
        [
            DBT_EXECUTABLE,
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(target),
            "--vars",
            json.dumps(settings.dbt_vars(AS_OF)),
        ],
        env=settings.dbt_env(AS_OF),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_dbt_unit_tests_pass(tmp_path: Path) -> None:
    settings = make_home(tmp_path)
    settings.ensure_dirs()
    con = duckdb.connect(str(settings.work_db_path))
    try:
        ensure_tables(con)
        con.execute(OUTPUT_DDL)
        ensure_state(con)
    finally:
        con.close()
    target = settings.state_dir / "dbt" / "unit_tests"

    for args in (("seed",), ("run", "--empty")):
        built = _dbt(settings, target, *args)
        assert built.returncode == 0, built.stdout[-6000:]

    proc = _dbt(settings, target, "test", "--select", "test_type:unit")
    assert proc.returncode == 0, proc.stdout[-6000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    # every unit test of the project ran (and passed): none is skipped by a selector
    manifest = json.loads((target / "manifest.json").read_text())
    assert len(unit_tests) == len(manifest["unit_tests"]) >= 20
    assert all(r["status"] == "pass" for r in unit_tests)
