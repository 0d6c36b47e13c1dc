"""Throughput of ingest validation: read, SQL row checks, GX (full and sampled), re-count.

    python -m bench.quality_validation --rows 1000000 [--out bench/results/quality.json]

Writes one transactions CSV of N lines (about 1% dirty) into a temporary home and
times each stage of loading it, then the whole load as the nightly job runs it
(``quality.gx.mode: auto``). Prints rows per wall second and per CPU second (the
process's CPU time over all threads: steadier on a shared machine) and writes JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import duckdb

AS_OF = dt.date(2025, 3, 31)


def write_csv(path: Path, rows: int) -> None:
    con = duckdb.connect()
    con.execute(
        f"""
        copy (
            select 'pos' as source_system, 'T' || (i // 3) as transaction_id,
                   (i % 3 + 1) as line_number,
                   case when i % 5 = 0 then null else 'C' || (i % 200000) end
                       as source_customer_id,
                   strftime(timestamp '2024-01-01' + to_seconds(i % 38000000),
                            '%Y-%m-%d %H:%M:%S') as occurred_at,
                   case when i % 997 = 0 then 'fax' else ['store', 'web', 'app'][i % 3 + 1] end
                       as channel,
                   'S' || (i % 50) as store_id, 'P' || (i % 5000) as product_id,
                   (1 + i % 4) as quantity,
                   case when i % 1009 = 0 then 'n/a' else ((1 + i % 4) * 1500)::varchar end
                       as amount,
                   '0' as discount, 'KRW' as currency, '700' as unit_cost, null as campaign_id
            from range({rows}) t(i)
        ) to '{path}' (header, delimiter ',')
        """
    )
    con.close()


CPU: dict[str, float] = {}


def timed(fn, label: str | None = None):
    """Wall seconds; CPU seconds of the process (all threads) go to CPU[label]."""
    started, cpu = time.monotonic(), time.process_time()
    value = fn()
    if label:
        CPU[label] = time.process_time() - cpu
    return value, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from pipelines.ingest.checks import validate_batch
    from pipelines.ingest.contract import CONTRACTS
    from pipelines.ingest.loader import load_entity
    from pipelines.ingest.reader import read_file
    from pipelines.ingest.rowchecks import IngestRules, build_checked_table
    from pipelines.quality.config import QualityConfig
    from pipelines.quality.reconcile import count_records
    from pipelines.quality.suites import gx_context
    from pipelines.settings import Settings
    from pipelines.warehouse import connect

    result: dict = {"rows": args.rows, "stages": {}}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = Settings.load(home)
        settings.ensure_dirs()
        path = settings.landing_entity_dir("transactions") / "bench.csv"
        write_csv(path, args.rows)
        result["file_mb"] = round(path.stat().st_size / 1e6, 1)
        rules = IngestRules.from_settings(settings, AS_OF)
        cfg = QualityConfig.from_settings(settings)
        contract = CONTRACTS["transactions"]
        _, gx_import = timed(gx_context)
        result["gx_import_seconds"] = round(gx_import, 1)

        con = connect(settings, home / "scratch.duckdb")
        read, t_read = timed(lambda: read_file(con, path, "csv"), "read_csv")
        _, t_checks = timed(
            lambda: build_checked_table(con, contract, rules, set(read.columns)), "sql_row_checks"
        )
        sample, t_sample = timed(
            lambda: validate_batch(con, contract, rules, cfg, mode="sample"), "gx_sample"
        )
        full, t_full = timed(
            lambda: validate_batch(con, contract, rules, cfg, mode="full"), "gx_full_chunked"
        )
        con.close()
        _, t_count = timed(lambda: count_records(path), "independent_recount")
        stages = {
            "read_csv": (args.rows, t_read),
            "sql_row_checks": (args.rows, t_checks),
            "gx_sample": (sample.validated_rows, t_sample),
            "gx_full_chunked": (full.validated_rows, t_full),
            "independent_recount": (args.rows, t_count),
        }
        con = connect(settings)
        results, t_load = timed(
            lambda: load_entity(con, settings, "transactions", AS_OF, "bench", cfg),
            "load_entity_auto",
        )
        con.close()
        stages["load_entity_auto"] = (args.rows, t_load)
        result["load"] = {
            "rows_loaded": results[0].rows_loaded,
            "rows_quarantined": results[0].rows_quarantined,
            "reasons": results[0].reasons,
            "validation": results[0].validation,
            "seconds_by_step": results[0].seconds,
        }
        for name, (rows, seconds) in stages.items():
            result["stages"][name] = {
                "rows": rows,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(CPU.get(name, 0.0), 2),
                "rows_per_second": round(rows / seconds) if seconds else None,
                "rows_per_cpu_second": round(rows / CPU[name]) if CPU.get(name) else None,
            }
    for name, stage in result["stages"].items():
        print(
            f"{name:<20} {stage['rows']:>10,} rows {stage['seconds']:>7.2f}s wall "
            f"{stage['cpu_seconds']:>7.2f}s cpu {stage['rows_per_second'] or 0:>10,} rows/s "
            f"{stage['rows_per_cpu_second'] or 0:>10,} rows/cpu-s"
        )
    print(f"GX import {result['gx_import_seconds']}s; file {result['file_mb']} MB")
    print(f"load_entity by step: {result['load']['seconds_by_step']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
