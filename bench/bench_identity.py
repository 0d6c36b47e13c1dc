"""Benchmark: identity resolution of about a million source customer records.

Generates a sample with the project's generator (``--customers`` persons, about 1.55
source records each; almost no purchases: only customer records matter here),
loads the customers and contacts files with the real loader, then times
``resolve_identities`` on the build database:

1. cold: empty key state, probabilistic matching off (the default configuration);
2. rerun: the same night again (must change no key: idempotence);
3. optionally (``--splink``) cold again with the Splink matcher on.

Each resolution is scored against the generator's truth (pairwise precision / recall).
Wall time and process CPU time (all threads) are reported with the load average before
each run: the machine is shared, and while other jobs keep the 2 cores busy the wall time
mostly measures waiting; CPU time does not. DuckDB runs with the configured ``warehouse.threads`` (2).

    nice python bench/bench_identity.py --customers 650000 --splink \
        --out bench/results/identity.json

Writes the JSON and a markdown summary next to it (same name, ``.md``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.generator import GeneratorConfig, generate  # noqa: E402
from pipelines.identity.config import IdentityConfig  # noqa: E402
from pipelines.identity.report import pairwise_quality  # noqa: E402
from pipelines.identity.resolve import resolve_identities  # noqa: E402
from pipelines.ingest.loader import load_entity  # noqa: E402
from pipelines.settings import Settings  # noqa: E402
from pipelines.warehouse import work_db  # noqa: E402

AS_OF = dt.date(2025, 12, 31)
TARGET_SECONDS = 30.0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed(fn, *args, **kwargs) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def run_resolution(settings: Settings, cfg: IdentityConfig, run_id: str, *, fresh: bool) -> dict:
    with work_db(settings) as con:
        if fresh:
            con.execute("drop schema if exists identity cascade")
        load_before = load_average()
        result, wall, cpu = timed(resolve_identities, con, cfg, AS_OF, run_id)
        truth = f"read_parquet('{settings.truth_dir / 'identity.parquet'}')"
        quality = pairwise_quality(con, "identity.resolved_records", truth)
    return {
        "wall_seconds": round(wall, 2),
        "load_average_1_5_15_before": load_before,
        "cpu_seconds": round(cpu, 2),
        "stages_wall_seconds": result.seconds,
        "result": result.to_dict(),
        "quality": quality.to_dict(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=650_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", default="/tmp/crm_bench_identity")
    parser.add_argument("--reuse", action="store_true", help="reuse generated and loaded data")
    parser.add_argument("--splink", action="store_true", help="also time the Splink matcher")
    parser.add_argument("--out", default="bench/results/identity.json")
    args = parser.parse_args()

    home = Path(args.home)
    settings = Settings.load(home)
    report: dict[str, Any] = {
        "benchmark": "identity resolution",
        "date": dt.date.today().isoformat(),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "duckdb_threads": settings.duckdb_settings["threads"],
            "duckdb_memory_limit": settings.duckdb_settings["memory_limit"],
        },
        "customers": args.customers,
        "seed": args.seed,
    }
    if not (args.reuse and settings.work_db_path.exists()):
        if home.exists():
            shutil.rmtree(home)
        settings.ensure_dirs()
        config = GeneratorConfig(never_buyer_share=0.98, workers=2)
        _, wall, _ = timed(
            generate, settings, customers=args.customers, seed=args.seed, end_date=AS_OF,
            config=config,
        )  # fmt: skip
        report["generate_wall_seconds"] = round(wall, 1)
        print(f"generated in {wall:.0f}s", flush=True)
        with work_db(settings) as con:
            started = time.perf_counter()
            for entity in ("customers", "contacts"):
                load_entity(con, settings, entity, AS_OF, "bench-load")
            report["load_wall_seconds"] = round(time.perf_counter() - started, 1)
        print(f"loaded in {report['load_wall_seconds']}s", flush=True)

    cfg = IdentityConfig.from_settings(settings)
    runs: dict[str, dict] = {}
    runs["cold"] = run_resolution(settings, cfg, "bench-cold", fresh=True)
    print("cold", json.dumps({k: runs["cold"][k] for k in ("wall_seconds", "cpu_seconds")}))
    runs["rerun"] = run_resolution(settings, cfg, "bench-rerun", fresh=False)
    print("rerun", json.dumps({k: runs["rerun"][k] for k in ("wall_seconds", "cpu_seconds")}))
    if args.splink:
        prob = IdentityConfig.from_section(
            {**settings.section("identity"), "probabilistic": {
                **(settings.section("identity").get("probabilistic") or {}), "enabled": True}}
        )  # fmt: skip
        runs["cold_splink"] = run_resolution(settings, prob, "bench-splink", fresh=True)
        print("splink", json.dumps({k: runs["cold_splink"][k] for k in ("wall_seconds",)}))
    report["records"] = runs["cold"]["result"]["records"]
    report["runs"] = runs
    report["target_seconds"] = TARGET_SECONDS
    report["meets_target"] = runs["cold"]["wall_seconds"] < TARGET_SECONDS

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"# Identity resolution benchmark ({report['date']})",
        "",
        f"{report['records']:,} source customer records ({report['customers']:,} generated "
        f"persons, seed {report['seed']}); {m['cpus']} CPUs, DuckDB threads "
        f"{m['duckdb_threads']}, memory limit {m['duckdb_memory_limit']}; Python {m['python']}.",
        "",
        "| run | wall s | CPU s | load avg (1 min) | customers | new keys | merges | splits "
        "| precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in report["runs"].items():
        r, q = run["result"], run["quality"]
        lines.append(
            f"| {name} | {run['wall_seconds']:.1f} | {run['cpu_seconds']:.1f} | "
            f"{run['load_average_1_5_15_before'][0]:.1f} | "
            f"{r['customers']:,} | {r['new_keys']:,} | {r['merges']:,} | {r['splits']:,} | "
            f"{q['precision']:.4f} | {q['recall']:.4f} |"
        )
    lines += [
        "",
        f"Target: cold resolution under {report['target_seconds']:.0f} s on 2 cores — "
        f"{'met' if report['meets_target'] else 'NOT met'}.",
        "",
        "Stages (wall s, cold): "
        + ", ".join(
            f"{k} {v:.1f}" for k, v in report["runs"]["cold"]["stages_wall_seconds"].items()
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
