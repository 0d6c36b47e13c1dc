"""Benchmark: the targeting step (six shipped lists, outbox, campaign_results) at scale.

Builds synthetic marts for ``--customers`` customers (tests/targeting/synth.py: the
columns the real marts have) in a temporary home, then times, with the configured
DuckDB threads:

1. build_target_lists (suppression, economics, control hash, cut, members table);
2. write_outbox (contact points, CSV files, sha256, verification, atomic rename);
3. build_campaign_results (the closed-loop table).

    nice python bench/bench_targeting.py --customers 1000000 --out bench/results/targeting.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.settings import Settings  # noqa: E402
from pipelines.targeting.config import load_targeting_config  # noqa: E402
from pipelines.targeting.lists import build_target_lists  # noqa: E402
from pipelines.targeting.outbox import write_outbox  # noqa: E402
from pipelines.targeting.results import build_campaign_results  # noqa: E402
from pipelines.warehouse import work_db  # noqa: E402
from tests.targeting.synth import build_world  # noqa: E402

AS_OF = dt.date(2026, 3, 31)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - wall, 2), round(time.process_time() - cpu, 2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(Path(tmp))
        settings.ensure_dirs()
        _, synth_s, _ = _timed(
            lambda: build_world(settings.work_db_path, AS_OF, customers=args.customers)
        )
        cfg = load_targeting_config(settings)
        result = {"customers": args.customers, "synth_seconds": synth_s,
                  "threads": settings.duckdb_settings["threads"]}  # fmt: skip
        with work_db(settings) as con:
            runs, result["lists_wall_s"], result["lists_cpu_s"] = _timed(
                lambda: build_target_lists(con, cfg, AS_OF)
            )
            _, result["outbox_wall_s"], result["outbox_cpu_s"] = _timed(
                lambda: write_outbox(con, cfg, settings.outbox_dir, AS_OF, "bench")
            )
            later = AS_OF + dt.timedelta(days=14)
            _, result["results_wall_s"], result["results_cpu_s"] = _timed(
                lambda: build_campaign_results(con, cfg, later)
            )
        result["lists"] = {r.list_name: {"audience": r.audience, "treated": r.treated,
                                         "control": r.control} for r in runs}  # fmt: skip
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
