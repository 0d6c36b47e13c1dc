"""End to end: generate a sample, run the nightly job as a real process, check the marts.

The expected figures are computed independently of the loader and dbt: the landing files are
read here with the standard library and pyarrow, the rows the generator planted as dirty are
dropped, re-deliveries are resolved (latest file wins), and timestamps are converted with zoneinfo.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.settings import Settings
from tests.conftest import REPO_ROOT, crm

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("nightly_e2e")]

AS_OF = dt.date(2026, 6, 30)
TZ = ZoneInfo("Asia/Seoul")
PUBLISHED_KEYS = {
    "dim_customers": ["customer_key"],
    "fct_transactions": ["transaction_line_id"],
    "fct_orders": ["order_id"],
    "fct_contacts": ["contact_key"],
    "dim_products": ["product_id"],
    "dim_campaigns": ["campaign_id"],
}


def _records(path: Path) -> Iterator[dict]:
    head = path.read_bytes()[:4]
    if head == b"PAR1":
        yield from pq.read_table(path).to_pylist()
    elif path.read_bytes().lstrip(b"\xef\xbb\xbf").lstrip()[:1] == b"{":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)
    else:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            yield from csv.DictReader(fh)


def _business_date(value: object) -> dt.date:
    ts = value if isinstance(value, dt.datetime) else None
    if ts is None:
        text = str(value).strip().replace("Z", "+00:00")
        ts = dt.datetime.fromisoformat(text)
    if ts.tzinfo is not None:
        ts = ts.astimezone(TZ)
    return ts.date()


def expected_transactions(home: Path, as_of: dt.date) -> dict[tuple, tuple[Decimal, dt.date]]:
    """Valid landing lines by key: later files (path order) replace earlier versions."""
    dirty = pl.read_parquet(home / "truth" / "dirty_rows.parquet").filter(
        pl.col("entity") == "transactions"
    )
    dirty_rows = {(f, int(n)) for f, n in dirty.select("file", "line_number").iter_rows()}
    lines: dict[tuple, tuple[Decimal, dt.date]] = {}
    folder = home / "landing" / "transactions"
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        for number, row in enumerate(_records(path), start=1):
            if (path.name, number) in dirty_rows:
                continue
            key = (
                str(row["source_system"]).strip().lower(),
                str(row["transaction_id"]).strip(),
                int(row.get("line_number") or 1),
            )
            lines[key] = (Decimal(str(row["amount"]).strip()), _business_date(row["occurred_at"]))
    return {k: v for k, v in lines.items() if v[1] <= as_of}


def published(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)


def table_fingerprints(home: Path) -> dict[str, str]:
    con = published(home)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema = 'marts' order by 1"
        ).fetchall()
        out = {}
        for (name,) in tables:
            rows = con.execute(f"select * from {name} order by all").fetchall()
            out[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("e2e_home")
    crm(
        "generate", "--customers", "400", "--seed", "11", "--end-date", AS_OF.isoformat(), home=home
    )
    proc = crm("run", "--as-of", AS_OF.isoformat(), home=home)
    assert "status:            OK" in proc.stdout
    return home


def test_revenue_equals_sum_of_valid_landing_amounts(night: Path) -> None:
    expected = expected_transactions(night, AS_OF)
    con = published(night)
    try:
        revenue, lines = con.execute(
            "select sum(net_amount), count(*) from marts.fct_transactions"
        ).fetchone()
        order_revenue = con.execute("select sum(net_amount) from marts.fct_orders").fetchone()[0]
    finally:
        con.close()
    assert lines == len(expected)
    assert revenue == sum(amount for amount, _ in expected.values())
    assert order_revenue == revenue


def test_order_counts_match(night: Path) -> None:
    expected_orders = {(system, txn) for system, txn, _ in expected_transactions(night, AS_OF)}
    con = published(night)
    try:
        orders = con.execute("select count(*) from marts.fct_orders").fetchone()[0]
        per_system = dict(
            con.execute(
                "select source_system, count(*) from marts.fct_orders group by 1"
            ).fetchall()
        )
    finally:
        con.close()
    assert orders == len(expected_orders)
    for system in per_system:
        assert per_system[system] == sum(1 for s, _ in expected_orders if s == system)


def test_no_duplicate_keys_in_marts(night: Path) -> None:
    con = published(night)
    try:
        for table, key in PUBLISHED_KEYS.items():
            cols = ", ".join(key)
            total, distinct = con.execute(
                f"select count(*), count(distinct ({cols})) from marts.{table}"
            ).fetchone()
            assert total == distinct > 0, table
    finally:
        con.close()


def test_quarantine_holds_exactly_the_planted_dirty_rows(night: Path) -> None:
    dirty = pl.read_parquet(night / "truth" / "dirty_rows.parquet")
    con = duckdb.connect(str(night / "state" / "work.duckdb"), read_only=True)
    try:
        for entity in ("customers", "transactions", "contacts"):
            got = {
                (Path(f).name, int(n))
                for f, n in con.execute(
                    f"select _file_name, _row_number from quarantine.{entity}"
                ).fetchall()
            }
            want = {
                (f, int(n))
                for f, n in dirty.filter(pl.col("entity") == entity)
                .select("file", "line_number")
                .iter_rows()
            }
            assert got == want, entity
    finally:
        con.close()


def test_published_warehouse_has_no_raw_schemas_or_personal_data(night: Path) -> None:
    con = published(night)
    try:
        schemas = {
            r[0]
            for r in con.execute(
                "select distinct table_schema from information_schema.tables"
            ).fetchall()
        }
        columns = con.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns"
        ).fetchall()
        assert schemas <= {"marts", "meta"}
        names = {c[2] for c in columns}
        assert not names & {"email", "phone", "first_name", "last_name"}
        emails = [
            r["email"]
            for r in _records(next((night / "landing" / "customers").glob("pos_base*")))
            if r.get("email")
        ][:20]
        assert emails
        for schema, table, column, dtype in columns:
            if dtype != "VARCHAR":
                continue
            hits = con.execute(
                f'select count(*) from {schema}."{table}" where lower("{column}") in '
                f"({', '.join('?' for _ in emails)})",
                [e.strip().lower() for e in emails],
            ).fetchone()[0]
            assert hits == 0, f"raw email found in {schema}.{table}.{column}"
    finally:
        con.close()


def test_exports_hold_every_mart_as_parquet(night: Path) -> None:
    monthly = Settings.load(night).section("exports")["monthly_partitions"]
    assert {"fct_transactions", "fct_orders", "fct_contacts"} <= set(monthly)
    con = published(night)
    marts = night / "exports" / "marts"
    try:
        for table in PUBLISHED_KEYS:
            rows = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            if table in monthly:  # crm.yml exports.monthly_partitions: one file per month
                files = sorted((marts / table).glob("*.parquet"))
                assert not (marts / f"{table}.parquet").exists()
                assert [p.stem for p in files] == [
                    m
                    for (m,) in con.execute(
                        f"select distinct strftime({monthly[table]}, '%Y-%m') as m "
                        f"from marts.{table} order by m"
                    ).fetchall()
                ]
                for p in files:  # each file holds its month's rows and no other
                    assert (
                        con.execute(
                            f"select count(*), count(*) filter (where strftime({monthly[table]}, "
                            f"'%Y-%m') = '{p.stem}') from read_parquet('{p}')"
                        ).fetchone()
                        == (pq.read_metadata(p).num_rows,) * 2
                    )
            else:
                files = [marts / f"{table}.parquet"]
            assert sum(pq.read_metadata(p).num_rows for p in files) == rows, table
    finally:
        con.close()


def test_second_run_without_new_files_changes_nothing(night: Path) -> None:
    before = table_fingerprints(night)
    exports_before = {
        str(p.relative_to(night)): p.read_bytes()
        for p in sorted((night / "exports" / "marts").rglob("*.parquet"))
    }
    proc = crm("run", "--as-of", AS_OF.isoformat(), home=night)
    summary = json.loads((night / "state" / "last_run_summary.json").read_text())
    assert summary["success"] is True
    assert summary["rows_loaded"] == 0 and summary.get("files", []) == []
    assert "rows loaded:       0" in proc.stdout
    assert table_fingerprints(night) == before
    exports_after = {
        str(p.relative_to(night)): p.read_bytes()
        for p in sorted((night / "exports" / "marts").rglob("*.parquet"))
    }
    assert exports_after == exports_before


def test_reader_holding_the_published_file_sees_old_snapshot_without_errors(
    night: Path, tmp_path: Path
) -> None:
    reader = published(night)
    old_revenue = reader.execute("select sum(net_amount) from marts.fct_orders").fetchone()[0]
    new_file = night / "landing" / "transactions" / "zz_late_delivery.csv"
    new_file.write_text(
        "source_system,transaction_id,line_number,source_customer_id,occurred_at,channel,"
        "product_id,quantity,amount,currency\n"
        "pos,LATE-1,1,,2026-06-30 12:00:00,store,SKU100001,1,12345,KRW\n",
        encoding="utf-8",
    )
    log = tmp_path / "late_run.log"
    job = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--home",
            str(night),
            "--as-of",
            AS_OF.isoformat(),
        ],
        cwd=REPO_ROOT,
        # a file, not a pipe: the job's output would fill an unread pipe and block the job
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**__import__("os").environ, "CRM_PII_SALT": "test-salt"},
    )
    reads = 0
    try:
        while job.poll() is None:
            # The held connection keeps answering from the old snapshot while the job runs.
            assert (
                reader.execute("select sum(net_amount) from marts.fct_orders").fetchone()[0]
                == old_revenue
            )
            # A fresh reader in another process can open the published file at any time.
            probe = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); "
                    "print(c.execute('select count(*) from marts.fct_orders').fetchone()[0])",
                    str(night / "warehouse" / "crm.duckdb"),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert probe.returncode == 0, probe.stderr
            reads += 1
            time.sleep(0.5)
        output = log.read_text(encoding="utf-8", errors="replace")
        assert job.returncode == 0, output[-3000:]
    finally:
        if job.poll() is None:
            job.kill()
    assert reads >= 3
    assert reader.execute("select sum(net_amount) from marts.fct_orders").fetchone()[0] == (
        old_revenue
    )
    reader.close()
    fresh = crm(
        "sql", "select sum(net_amount) from marts.fct_orders", "--format", "csv", home=night
    )
    assert Decimal(fresh.stdout.splitlines()[1]) == old_revenue + Decimal("12345")


def _rotation(path: Path) -> int:
    """dbt.log.2 before dbt.log.1 before dbt.log (dbt rotates its log at 10 MB)."""
    suffix = path.suffix[1:]
    return -int(suffix) if suffix.isdigit() else 0


def test_dbt_build_reused_the_homes_parse_state(night: Path) -> None:
    target = night / "state" / "dbt" / "target" / "dbt_models"
    log = "".join(p.read_text("utf-8") for p in sorted(target.glob("dbt.log*"), key=_rotation))
    first_build = log.split('"msg": "Running with dbt')[1]  # the nightly build, not the rerun
    assert "Nothing changed, skipping partial parsing." in first_build
    assert "Starting full parse" not in first_build


def test_a_night_at_another_as_of_does_not_reparse_the_project(night: Path) -> None:
    """as_of reaches dbt in CRM_AS_OF, read at execution time, not in --vars (which dbt keys
    its parse cache on): the next night reuses the parse state and still moves as_of."""
    target = night / "state" / "dbt" / "target" / "dbt_models"
    stamp = (target / "parse_fingerprint").read_text()
    next_day = AS_OF + dt.timedelta(days=1)
    proc = crm("run", "--as-of", next_day.isoformat(), home=night)
    assert "status:            OK" in proc.stdout
    log = "".join(p.read_text("utf-8") for p in sorted(target.glob("dbt.log*"), key=_rotation))
    last_build = log.split('"msg": "Running with dbt')[-1]
    assert "Partial parsing enabled, no changes found, skipping parsing" in last_build
    assert "Starting full parse" not in last_build
    assert (target / "parse_fingerprint").read_text() == stamp
    con = published(night)
    try:
        as_of_values = con.execute(
            "select distinct as_of from marts.customer_value union "
            "select distinct as_of from marts.customer_rfm"
        ).fetchall()
    finally:
        con.close()
    assert as_of_values == [(next_day,)]


def test_run_summary_splits_the_dbt_step_by_layer(night: Path) -> None:
    """From the node timings on the streamed dbt events (the build writes no run_results)."""
    summary = json.loads((night / "state" / "last_run_summary.json").read_text())
    layers = {layer["stage"]: layer["seconds"] for layer in summary["dbt_layers"]}
    assert set(layers) == {"dbt staging", "dbt intermediate", "dbt marts", "dbt tests"}
    assert all(seconds > 0 for seconds in layers.values())
    dbt_step = next(s["seconds"] for s in summary["stages"] if s["stage"] == "dbt_models")
    assert sum(layers.values()) < 2 * dbt_step  # two dbt threads at most
    from pipelines.run_report import INGEST_PARTS

    parts = [part["stage"] for part in summary["ingest_parts"]]
    assert parts == list(INGEST_PARTS.values())  # the ingest step by part, validation included


def test_run_summary_gives_each_step_its_cpu_time(night: Path) -> None:
    """CPU seconds per step from the process sampler, the dbt subprocess included: dbt's
    start-up alone takes over a second of CPU, and no step can use more than all cores
    (give or take the sampler's edges: ProcessSampler.cpu_seconds)."""
    from pipelines.run_report import ProcessSampler

    summary = json.loads((night / "state" / "last_run_summary.json").read_text())
    steps = {s["stage"]: s for s in summary["stages"]}
    assert all(s["cpu_seconds"] is not None for s in steps.values())
    assert steps["dbt_models"]["cpu_seconds"] > 1.0
    sampler = ProcessSampler()
    cores = os.cpu_count() or 1
    blur = cores * (sampler.children_every + 2 * sampler.interval)
    for step in steps.values():
        assert step["cpu_seconds"] <= cores * step["seconds"] + blur, step
    assert sum(s["cpu_seconds"] for s in steps.values()) <= cores * summary["seconds"]


def test_run_summary_splits_the_publish_step(night: Path) -> None:
    """Patch, copy, the rest of publish and the exports: each measured, within the step."""
    from pipelines.run_report import PUBLISH_PARTS

    summary = json.loads((night / "state" / "last_run_summary.json").read_text())
    parts = {part["stage"]: part["seconds"] for part in summary["publish_parts"]}
    assert list(parts) == list(PUBLISH_PARTS.values())
    step = next(s["seconds"] for s in summary["stages"] if s["stage"] == "warehouse__published")
    assert parts[PUBLISH_PARTS["copy"]] > 0 and parts[PUBLISH_PARTS["exports"]] > 0
    assert sum(parts.values()) <= step + 0.1  # parts and step are rounded separately
