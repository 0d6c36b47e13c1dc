"""Benchmark of the analytics marts (issue 4): build time at 1M customers / 10M lines.

Not a test. The upstream core tables are synthesised directly in DuckDB, shaped
like the foundation's marts (fct_transactions → fct_orders aggregated with the
same rules, fct_contacts, dim_customers), so only the analytics models are timed:

    nice /work/main/.venv/bin/python bench/bench_marts.py            # full size
    /work/main/.venv/bin/python bench/bench_marts.py --customers 10000 --lines 100000

Scenarios, each one `dbt run` of the analytics models (+ their intermediates and seed):

* backfill  – first run / --full-refresh: every table, and rfm_segment_history for every
              month-end since the first order (--months of history);
* nightly   – the next night (as_of + 1 day, no new month-end): incremental history
              recomputes only the lookback month-end;
* month_end – the night of the next month-end: one new snapshot is added;
* data_tests – `dbt test` of these models and the reconciliations (no unit tests).

Reported: dbt's own elapsed time for the run (model execution, what the 15 s target
is about), the wall time of the whole dbt command (adds dbt start-up and parsing), and
each model's execution time. Results go to bench/results/marts_<date>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from pipelines.settings import DBT_PROJECT_DIR  # noqa: E402

SELECT = (
    "rfm_segment_map int_rfm_cells_segmented int_customer_orders_summarised "
    "int_campaign_contacts_attributed path:models/marts/analytics"
)


def synthesise(db: Path, customers: int, lines: int, as_of: dt.date, months: int) -> dict:
    """Core-mart-shaped tables with a skewed (Pareto-like) spend distribution.

    Pseudo-random numbers come from hash(i, salt), so the data are identical on every
    run whatever the thread count.
    """
    start = as_of - dt.timedelta(days=months * 365 // 12)
    span = (as_of - start).days + 1
    con = duckdb.connect(str(db))
    con.execute("set threads = 2; set memory_limit = '4GB'; set preserve_insertion_order = false")
    con.execute("create schema if not exists marts")
    u = "(hash({x}, '{salt}') % 1000000000)::double / 1000000000"  # uniform [0, 1)
    con.execute(
        f"""
        create or replace table marts.fct_transactions as
        with base as (
            select
                i as line_no,
                (i * 2) // 5 as order_no          -- 2.5 lines per order
            from range({lines}) t(i)
        ),
        per_order as (
            select distinct order_no,
                -- 5% anonymous; the rest skewed towards low keys (heavy buyers)
                case when {u.format(x="order_no", salt="anon")} < 0.05 then null
                     else 1 + cast(floor({customers} * power({u.format(x="order_no", salt="cust")}, 2.2)) as bigint)
                end as customer_key,
                date '{start}' + cast(floor({span} * {u.format(x="order_no", salt="day")}) as integer) as business_date,
                ['store', 'web', 'app', 'call_centre', 'marketplace'][
                    1 + cast(floor(5 * power({u.format(x="order_no", salt="chan")}, 1.5)) as integer)] as channel,
                {u.format(x="order_no", salt="ret")} < 0.02 as is_return_only
            from base
        )
        select
            'bench:' || base.order_no || ':' || base.line_no as transaction_line_id,
            'bench:' || base.order_no as order_id,
            per_order.customer_key,
            per_order.business_date,
            per_order.channel,
            'P' || cast(hash(base.line_no, 'prod') % 500 as varchar) as product_id,
            case when per_order.is_return_only or {u.format(x="base.line_no", salt="lret")} < 0.04
                 then -1 else 1 end
              * (1000 + cast(hash(base.line_no, 'amt') % 80000 as decimal(18, 4))) as net_amount,
            cast(0.6 * (1000 + hash(base.line_no, 'amt') % 80000) as decimal(18, 7)) as cost_amount  -- unit_cost x quantity: scale 7, as in fct_transactions
        from base
        join per_order using (order_no)
        """
    )
    con.execute(
        """
        create or replace table marts.fct_orders as
        select
            order_id,
            max(customer_key) as customer_key,
            min(business_date) as business_date,
            min(channel) as channel,
            count(*) as line_count,
            sum(case when net_amount >= 0 then net_amount else 0 end) as gross_amount,
            -sum(case when net_amount < 0 then net_amount else 0 end) as returned_amount,
            sum(net_amount) as net_amount,
            sum(net_amount - sign(net_amount) * cost_amount) as margin,
            sum(case when net_amount >= 0 then 1 else 0 end) > 0 as is_purchase,
            sum(case when net_amount >= 0 then 1 else 0 end) = 0 as is_return_only,
            max(customer_key) is null as is_anonymous,
            cast(null as varchar) as campaign_id
        from marts.fct_transactions
        group by order_id
        """
    )
    contacts = lines * 3 // 10
    con.execute(
        f"""
        create or replace table marts.fct_contacts as
        select
            'bench:' || i as contact_key,
            1 + cast(floor({customers} * {u.format(x="i", salt="ccust")}) as bigint) as customer_key,
            date '{start}' + cast(floor({span} * {u.format(x="i", salt="cday")}) as integer) as business_date,
            case when {u.format(x="i", salt="dir")} < 0.85 then 'outbound' else 'inbound' end as direction,
            case when {u.format(x="i", salt="dir")} < 0.85
                 then ['email', 'sms', 'push', 'phone', 'direct_mail'][1 + cast(hash(i, 'ch') % 5 as integer)]
                 else ['phone', 'chat'][1 + cast(hash(i, 'ch') % 2 as integer)] end as channel,
            case when {u.format(x="i", salt="dir")} < 0.85 then 'campaign'
                 else ['service', 'complaint', 'inquiry'][1 + cast(hash(i, 'typ') % 3 as integer)] end as contact_type,
            case when {u.format(x="i", salt="dir")} < 0.6 then 'CMP' || cast(hash(i, 'cmp') % 100 as varchar) end as campaign_id,
            ['delivered', 'opened', 'clicked', 'responded', 'bounced'][1 + cast(hash(i, 'out') % 5 as integer)] as outcome,
            cast(50 as decimal(18, 4)) as cost
        from range({contacts}) t(i)
        """
    )
    con.execute(
        f"""
        create or replace table marts.dim_customers as
        select
            i as customer_key,
            'region_' || cast(hash(i, 'reg') % 17 as varchar) as region,
            'city_' || cast(hash(i, 'reg') % 17 as varchar) || '_' || cast(hash(i, 'city') % 8 as varchar) as city,
            'district_' || cast(hash(i, 'dis') % 6 as varchar) as district
        from range(1, {customers} + 1) t(i)
        """
    )
    counts = {
        t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]
        for t in ("fct_transactions", "fct_orders", "fct_contacts", "dim_customers")
    }
    con.close()
    return counts


def run_dbt(db: Path, work: Path, as_of: dt.date, full_refresh: bool, command: str = "run") -> dict:
    env = dict(os.environ)
    env.update(
        CRM_WORK_DB=str(db),
        CRM_PII_SALT="bench",
        DBT_TARGET_PATH=str(work / "target"),
        DBT_LOG_PATH=str(work / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        CRM_DUCKDB_MEMORY_LIMIT="4GB",
    )

    def dbt(command: str, select: str) -> list[str]:
        return [
            str(Path(sys.executable).with_name("dbt")),
            command,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--select",
            *select.split(),
            "--vars",
            json.dumps({"as_of": as_of.isoformat()}),
        ]

    subprocess.run(dbt("seed", "rfm_segment_map"), env=env, check=True, capture_output=True)
    if command == "test":
        # data tests of these models and the reconciliations (no unit tests)
        args = dbt("test", SELECT + " path:tests/analytics")
        args += ["--exclude-resource-type", "unit_test"]
    else:
        args = dbt(command, SELECT)
    if full_refresh:
        args.append("--full-refresh")
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-5000:] + proc.stderr[-3000:])
    results = json.loads((work / "target" / "run_results.json").read_text())
    kind = "test." if command == "test" else "model."
    models = {
        r["unique_id"].split(".")[2]: round(r["execution_time"], 2)
        for r in results["results"]
        if r["unique_id"].startswith(kind)
    }
    failed = [r["unique_id"] for r in results["results"] if r["status"] not in ("success", "pass")]
    if failed:
        raise SystemExit(f"failed: {failed}")
    return {
        "as_of": as_of.isoformat(),
        "full_refresh": full_refresh,
        "dbt_elapsed_s": round(results["elapsed_time"], 2),
        "wall_s": round(wall, 2),
        # CPU seconds of the dbt process (DuckDB runs in it): less sensitive to other
        # load on a shared machine than wall time; on 2 idle cores wall ≈ cpu / 2 + overhead
        "cpu_s": round(cpu, 2),
        "load_average_before": round(load_before, 2),
        "sum_model_s": round(sum(models.values()), 2),
        "models": dict(sorted(models.items(), key=lambda kv: -kv[1])),
    }


def row_counts(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    names = [
        "customer_value",
        "pareto_summary",
        "pareto_curve",
        "customer_rfm",
        "rfm_segment_history",
        "rfm_segment_migration",
        "cohort_retention",
        "channel_summary",
        "region_summary",
        "customer_contact_summary",
    ]
    out = {n: con.execute(f"select count(*) from marts.{n}").fetchone()[0] for n in names}
    out["history_snapshots"] = con.execute(
        "select count(distinct snapshot_date) from marts.rfm_segment_history"
    ).fetchone()[0]
    con.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--months", type=int, default=36, help="months of history")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2025, 6, 15))
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_marts_"))
    db = work / "bench.duckdb"
    t0 = time.monotonic()
    counts = synthesise(db, args.customers, args.lines, args.as_of, args.months)
    synth_s = round(time.monotonic() - t0, 1)
    print(f"synthesised {counts} in {synth_s}s", flush=True)

    month_end = (args.as_of.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(
        days=1
    )
    scenarios = {}
    for name, as_of, full in (
        ("backfill", args.as_of, True),
        ("nightly", args.as_of + dt.timedelta(days=1), False),
        ("month_end", month_end, False),
    ):
        scenarios[name] = run_dbt(db, work, as_of, full)
        print(
            name,
            json.dumps({k: v for k, v in scenarios[name].items() if k != "models"}),
            flush=True,
        )
    # the data tests of these models after the month-end night (dbt build runs them too)
    scenarios["data_tests"] = run_dbt(db, work, month_end, False, command="test")
    print("data_tests", scenarios["data_tests"]["dbt_elapsed_s"], flush=True)

    result = {
        "benchmark": "analytics marts (issue 4)",
        "date": dt.date.today().isoformat(),
        "machine": {
            "cpus_visible": os.cpu_count(),
            "dbt_threads": 2,
            "duckdb_threads": 2,
            "memory_limit": "4GB",
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "data": {**counts, "months_of_history": args.months, "synthesise_s": synth_s},
        "scenarios": scenarios,
        "rows": row_counts(db),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"marts_{args.customers}c_{args.lines}l"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(f"wrote {stem}.json and .md")
    if not args.keep:
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()
    else:
        print(f"kept {db}")


def markdown(r: dict) -> str:
    d = r["data"]
    lines = [
        f"# Analytics marts benchmark ({r['date']})",
        "",
        f"Data (synthesised in DuckDB, see bench/bench_marts.py): {d['dim_customers']:,} customers, "
        f"{d['fct_transactions']:,} lines, {d['fct_orders']:,} orders, {d['fct_contacts']:,} contacts, "
        f"{d['months_of_history']} months. dbt and DuckDB with 2 threads, memory limit "
        f"{r['machine']['memory_limit']}; run under `nice` on a shared machine.",
        "",
        "| scenario | as_of | dbt elapsed (s) | wall incl. dbt start-up (s) | CPU (s) | load avg | slowest (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in r["scenarios"].items():
        slow = ", ".join(f"{m} {t}" for m, t in list(s["models"].items())[:4])
        lines.append(
            f"| {name} | {s['as_of']} | {s['dbt_elapsed_s']} | {s['wall_s']} | {s['cpu_s']} "
            f"| {s['load_average_before']} | {slow} |"
        )
    lines += ["", "Rows after the last scenario:", ""]
    lines += [f"- {k}: {v:,}" for k, v in r["rows"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
