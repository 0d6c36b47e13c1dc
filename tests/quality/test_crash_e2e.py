"""Real process kills (SIGKILL of the whole `crm run` process group) during ingest,
dbt, the post-dbt Python stage and publishing. After every kill the published
warehouse is still a complete one, no landing file is lost or marked loaded
without its rows, and the next run completes. The recovered home ends up with
exactly the marts of a home that never crashed (the data-quality log aside: it
names the runs). Rerunning a night byte for byte: tests/foundation/test_nightly_e2e.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.quality.reconcile import file_rows
from pipelines.settings import ENTITIES, Settings
from tests.fixtures.bad_files.corpus import CASES_BY_NAME, TX_HEADER, to_csv, tx
from tests.quality.helpers import AS_OF, crm_run, crm_run_killed
from tests.quality.test_night_e2e import PRODUCTS

pytestmark = pytest.mark.slow

NIGHT_TWO = AS_OF + dt.timedelta(days=1)


def night_one(landing: Path) -> None:
    from tests.fixtures.bad_files.corpus import CA_HEADER, ca, cu

    for entity in ENTITIES:
        (landing / entity).mkdir(parents=True, exist_ok=True)
    customers = [cu(n, source_system="pos") for n in range(7)]
    (landing / "customers" / "n1_customers.csv").write_bytes(to_csv(list(customers[0]), customers))
    (landing / "products" / "n1_products.csv").write_bytes(PRODUCTS)
    (landing / "campaigns" / "n1_campaigns.csv").write_bytes(to_csv(CA_HEADER, [ca(1)]))
    (landing / "transactions" / "n1_tx.csv").write_bytes(
        to_csv(TX_HEADER, [tx(n) for n in range(1, 40)])
    )


def night_two(landing: Path) -> None:
    (landing / "transactions" / "n2_tx.csv").write_bytes(
        to_csv(TX_HEADER, [tx(2, amount="123456"), *[tx(n) for n in range(40, 60)]])
    )
    (landing / "transactions" / "n2_bad_rows.csv").write_bytes(
        CASES_BY_NAME["absurd_outliers"].files[0][1]
    )
    (landing / "transactions" / "n2_truncated.parquet").write_bytes(
        CASES_BY_NAME["truncated_parquet"].files[0][1]
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def landing_names(home: Path) -> set[str]:
    """Every delivered file, wherever it is now (landing/ or landing/_rejected/)."""
    names = set()
    for path in (home / "landing").rglob("*"):
        if path.is_file() and not path.name.endswith(".error.json"):
            names.add(path.name.split("__", 1)[-1])
    return names


def assert_consistent(home: Path, delivered: set[str]) -> None:
    assert landing_names(home) == delivered, "a landing file was lost"
    settings = Settings.load(home)
    con = duckdb.connect(str(settings.work_db_path))
    try:
        for entity in ENTITIES:
            for batch in file_rows(con, settings, entity):
                assert batch.ok, batch.describe()  # loaded <=> rows present, nothing partial
        loaded = {
            name.split("/")[-1]
            for (name,) in con.execute(
                "select file_name from raw._batches where status = 'loaded'"
            ).fetchall()
        }
    finally:
        con.close()
    for name in loaded:
        assert any((home / "landing").rglob(name)), f"{name} marked loaded but not in landing/"


def publication(home: Path) -> str:
    con = duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)
    try:
        return con.execute("select run_id from meta.publication").fetchone()[0]
    finally:
        con.close()


# Columns that name the run which wrote a row: they differ between two histories by design.
RUN_COLUMNS = {"run_id", "model_run_id", "logged_at", "recorded_at"}


def marts(home: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(content fingerprint of every published mart without run columns, sha256 of the
    Parquet export of every mart that has no run columns)."""
    con = duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)
    try:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'marts' order by table_name, ordinal_position"
        ).fetchall():
            columns.setdefault(table, []).append(column)
        content = {}
        for table, cols in columns.items():
            keep = ", ".join(f'"{c}"' for c in cols if c not in RUN_COLUMNS)
            rows = con.execute(f'select {keep} from marts."{table}" order by all').fetchall()
            content[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    finally:
        con.close()
    exported = home / "exports" / "marts"
    files = {}
    for p in sorted(exported.rglob("*.parquet")):  # <table>.parquet or <table>/<month>.parquet
        relative = p.relative_to(exported)
        if not RUN_COLUMNS & set(columns.get(relative.parts[0].removesuffix(".parquet"), [])):
            files[str(relative)] = sha256(p)
    return content, files


def test_kill_at_every_stage_then_recover(tmp_path: Path) -> None:
    home = tmp_path / "home"
    night_one(home / "landing")
    first = crm_run(home)
    assert first.returncode == 0, first.stdout[-4000:]
    reference = tmp_path / "reference"
    shutil.copytree(home, reference)

    night_two(home / "landing")
    night_two(reference / "landing")
    delivered = landing_names(home)
    warehouse = home / "warehouse" / "crm.duckdb"
    night_one_hash = sha256(warehouse)
    night_one_run = publication(home)

    kills = [
        ("ingest", {"pause_at": "ingest_commit"}),
        ("dbt", {"kill_on": "START sql table model marts."}),
        ("scoring", {"kill_on": "scoring    summary:"}),
        ("post-dbt python", {"pause_at": "quality_checks"}),
        ("publish", {"pause_at": "publish_swap"}),
    ]
    for stage, how in kills:
        crm_run_killed(home, as_of=NIGHT_TWO, **how)
        assert sha256(warehouse) == night_one_hash, f"published warehouse changed ({stage})"
        assert publication(home) == night_one_run
        assert not (home / "warehouse" / ".crm.duckdb.building").exists() or stage == "publish"
        assert_consistent(home, delivered)

    # killed between swapping the new warehouse in and swapping the new exports in:
    # the warehouse is the new complete one, the previous exports are set aside
    crm_run_killed(home, as_of=NIGHT_TWO, pause_at="publish_exports")
    assert publication(home) != night_one_run
    assert (home / ".exports.previous").exists()
    assert_consistent(home, delivered)

    final = crm_run(home, NIGHT_TWO)
    assert final.returncode == 0, final.stdout[-4000:]
    assert_consistent(home, delivered)
    assert not (home / ".exports.previous").exists()

    clean = crm_run(reference, NIGHT_TWO)
    assert clean.returncode == 0, clean.stdout[-4000:]
    content, files = marts(home)
    assert content and files
    assert (content, files) == marts(reference)
