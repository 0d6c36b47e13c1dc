"""Benchmark: the nightly scoring step (summary SQL, fits, scores, backtest, checks, promotion).

Simulates ``--customers`` customers' purchase orders (BG/NBD purchasing in days, Gamma
spend; seeded) straight into ``marts.fct_orders`` of a scratch home's build database, then
materialises the real Dagster scoring assets and their blocking checks in-process and
reports the wall time of each part (from the asset's own progress figures) and the peak RSS.

    python bench/bench_scoring.py --customers 1000000 --out bench/results/scoring.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AS_OF = dt.date(2026, 6, 30)
HISTORY_DAYS = 3 * 365


def simulate_orders(n: int, seed: int):
    """One order per purchase day: BG/NBD (r, alpha in days, a, b) with Gamma spend."""
    import polars as pl

    rng = np.random.default_rng(seed)
    first = rng.integers(0, HISTORY_DAYS, n)
    window = HISTORY_DAYS - first
    lam = rng.gamma(0.5, 1.0 / 30.0, n)
    p = rng.beta(0.7, 3.0, n)
    drop_after = rng.geometric(p)  # repeat purchases before dropping out
    m = rng.poisson(lam * window)
    owner = np.repeat(np.arange(n), m)
    u = rng.random(owner.shape[0])
    order = np.lexsort((u, owner))
    owner, u = owner[order], u[order]
    rank = np.arange(owner.shape[0]) - np.repeat(np.cumsum(m) - m, m)
    keep = rank < drop_after[owner]
    owner, u = owner[keep], u[keep]
    day = np.concatenate([first, first[owner] + (u * window[owner]).astype(np.int64)])
    key = np.concatenate([np.arange(n), owner]) + 1
    spend = rng.gamma(4.0, 10_000.0, n)
    amount = np.round(rng.gamma(4.0, spend[key - 1] / 4.0), 0)
    cost_known = rng.random(key.shape[0]) > 0.03
    start = np.datetime64(AS_OF - dt.timedelta(days=HISTORY_DAYS))
    return pl.DataFrame(
        {
            "order_id": np.arange(key.shape[0]),
            "customer_key": key,
            "business_date": start + day.astype("timedelta64[D]"),
            "net_amount": amount,
            "margin": np.where(cost_known, np.round(amount * 0.35, 0), np.nan),
            "is_purchase": np.ones(key.shape[0], dtype=bool),
        }
    ).with_columns(pl.col("margin").fill_nan(None))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260630)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import dagster as dg
    import duckdb
    import psutil

    from pipelines.resources import AS_OF_TAG, CrmResource
    from pipelines.scoring.assets import scoring_assets
    from pipelines.scoring.checks import scoring_checks

    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        orders = simulate_orders(args.customers, args.seed)
        db = home / "state" / "work.duckdb"
        db.parent.mkdir(parents=True)
        with duckdb.connect(str(db)) as con:
            con.execute("create schema marts")
            con.register("_o", orders.to_arrow())
            con.execute(
                "create table marts.fct_orders as select order_id::varchar as order_id, "
                "customer_key::bigint as customer_key, business_date::date as business_date, "
                "net_amount::decimal(38, 4) as net_amount, margin::decimal(38, 7) as margin, "
                "is_purchase, not is_purchase as is_return_only from _o"
            )
        simulate_seconds = time.perf_counter() - started
        rss = psutil.Process(os.getpid()).memory_info().rss
        t0 = time.perf_counter()
        result = dg.materialize(
            [*scoring_assets, *scoring_checks],
            resources={"crm": CrmResource(home=str(home))},
            tags={AS_OF_TAG: AS_OF.isoformat()},
            raise_on_error=False,
        )
        total = time.perf_counter() - t0
        state = json.loads((home / "state" / "scoring_summary.json").read_text())
        peak = psutil.Process(os.getpid()).memory_info().rss
    figures = {
        "customers_simulated": args.customers,
        "orders": orders.height,
        "customers_scored": state["customers"],
        "success": result.success,
        "simulate_seconds": round(simulate_seconds, 1),
        "candidate_asset_seconds": state["seconds"],
        "assets_checks_promotion_seconds": round(total, 1),
        "fits": state.get("fits"),
        "backtest": state.get("backtest"),
        "rss_mb_before": round(rss / 2**20),
        "rss_mb_after": round(peak / 2**20),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(figures, indent=2, default=str))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
