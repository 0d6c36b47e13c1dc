"""Benchmark: models.clv versus lifetimes on simulated BG/NBD + Gamma-Gamma customers.

Simulates ``--customers`` customers (seeded) from the BG/NBD + Gamma-Gamma process with
CDNOW-like parameters over two years of daily data (time unit: weeks), then times

* ours:      BetaGeoModel.fit + GammaGammaModel.fit + scoring every customer
             (P(alive), expected purchases over 52 weeks, expected average value,
             12-month discounted CLV);
* lifetimes: BetaGeoFitter.fit + GammaGammaFitter.fit + the same four scores
             (lifetimes 0.11.3), on the first ``--lifetimes-customers`` customers
             (default: all of them);

and compares the fitted parameters (relative difference) and the scores. Writes a JSON
file and a markdown snippet next to it.

    python bench/bench_clv.py --customers 1000000 --out bench/results/clv.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value  # noqa: E402
from models.clv.simulate import simulate_summaries  # noqa: E402

TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL 2005a, CDNOW
TRUE_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}  # FHL 2005b, CDNOW
MAX_AGE_DAYS = 730
TIME_UNIT_DAYS = 7.0
HORIZON_WEEKS = 52.0
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01  # lifetimes' parameter; annual equivalent used for ours
WEEKS_PER_MONTH_LIFETIMES = 4.345  # lifetimes' freq="W" month length, used by both
LT_NAMES = {"gamma": "v"}


class Stopwatch:
    """Wall-clock and process-CPU time per step.

    The machine is shared: wall time includes waiting for other jobs, process CPU time
    does not (and neither side uses multi-threaded BLAS in its hot loop).
    """

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._start = (self._wall, self._cpu)

    def lap(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.wall[name] = wall - self._wall
        self.cpu[name] = cpu - self._cpu
        self._wall, self._cpu = wall, cpu

    def finish(self) -> dict[str, dict[str, float]]:
        self.wall["total"] = self._wall - self._start[0]
        self.cpu["total"] = self._cpu - self._start[1]
        return {"wall": self.wall, "cpu": self.cpu}


def run_ours(d: dict[str, np.ndarray]) -> dict[str, Any]:
    f, r, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
    clock = Stopwatch()
    bg = BetaGeoModel().fit(f, r, T)
    clock.lap("fit_bg")
    rep = (f > 0) & (m > 0)
    gg = GammaGammaModel().fit(f[rep], m[rep])
    clock.lap("fit_gg")
    scores = {
        "p_alive": bg.probability_alive(f, r, T),
        "expected_purchases": bg.expected_purchases(HORIZON_WEEKS, f, r, T),
        "expected_value": gg.expected_average_value(f, m),
        "clv": customer_lifetime_value(
            bg,
            gg,
            f,
            r,
            T,
            m,
            horizon_months=CLV_MONTHS,
            annual_discount_rate=(1 + MONTHLY_DISCOUNT) ** 12 - 1,
            margin_rate=1.0,
            time_unit_days=TIME_UNIT_DAYS,
            days_per_month=WEEKS_PER_MONTH_LIFETIMES * TIME_UNIT_DAYS,
        ),
    }
    clock.lap("score")
    return {"bg": bg, "gg": gg, "scores": scores, **clock.finish()}


def run_lifetimes(d: dict[str, np.ndarray]) -> dict[str, Any]:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    f, r, T, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clock = Stopwatch()
        # numpy inputs: lifetimes 0.11.3's input checks misbehave on pandas>=3 Series.
        bg = BetaGeoFitter().fit(f, r, T)
        clock.lap("fit_bg")
        rep = (f > 0) & (m > 0)
        gg = GammaGammaFitter().fit(f[rep], m[rep])
        clock.lap("fit_gg")
        scores = {
            "p_alive": bg.conditional_probability_alive(f, r, T),
            "expected_purchases": bg.conditional_expected_number_of_purchases_up_to_time(
                HORIZON_WEEKS, f, r, T
            ),
            "expected_value": gg.conditional_expected_average_profit(f, m),
            "clv": gg.customer_lifetime_value(
                bg,
                pd.Series(f),
                pd.Series(r),
                pd.Series(T),
                pd.Series(m),
                time=CLV_MONTHS,
                discount_rate=MONTHLY_DISCOUNT,
                freq="W",
            ).to_numpy(),
        }
        clock.lap("score")
    return {"bg": bg, "gg": gg, "scores": scores, **clock.finish()}


def rel_diff(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / abs(theirs)


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--lifetimes-customers",
        type=int,
        default=None,
        help="fit lifetimes on the first N customers only (default: all); reported",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of ours (median)")
    parser.add_argument("--seed", type=int, default=20260501)
    parser.add_argument("--out", type=Path, default=Path("bench/results/clv.json"))
    args = parser.parse_args(argv)

    n = args.customers
    n_lt = min(args.lifetimes_customers or n, n)
    load_before = os.getloadavg()
    t = time.perf_counter()
    data = simulate_summaries(
        n,
        TRUE_BG,
        TRUE_GG,
        max_age_days=MAX_AGE_DAYS,
        time_unit_days=TIME_UNIT_DAYS,
        seed=args.seed,
    )
    simulate_seconds = time.perf_counter() - t
    print(f"simulated {n:,} customers in {simulate_seconds:.1f}s", flush=True)

    runs = [run_ours(data) for _ in range(max(1, args.repeats))]
    ours_times = {
        kind: {k: statistics.median(run[kind][k] for run in runs) for k in runs[0][kind]}
        for kind in ("wall", "cpu")
    }
    ours = runs[0]
    print(f"ours (median of {len(runs)}): {ours_times}", flush=True)

    lt_data = data if n_lt == n else {k: v[:n_lt] for k, v in data.items()}
    ours_on_lt = ours if n_lt == n else run_ours(lt_data)
    print(f"lifetimes on {n_lt:,} customers ...", flush=True)
    lt = run_lifetimes(lt_data)
    print(f"lifetimes: wall {lt['wall']} cpu {lt['cpu']}", flush=True)

    param_rel = {}
    params = {"ours": {}, "lifetimes": {}, "true": {**TRUE_BG, **TRUE_GG}}
    for model_key in ("bg", "gg"):
        model = ours_on_lt[model_key]
        for name, value in model.params_.items():
            theirs = float(lt[model_key].params_[LT_NAMES.get(name, name)])
            params["ours"][name] = value
            params["lifetimes"][name] = theirs
            param_rel[name] = rel_diff(value, theirs)
    # Which optimum is better? Evaluate both parameter sets with the same likelihood.
    f, r, T, m = (lt_data[k] for k in ("frequency", "recency", "T", "monetary_value"))
    lt_bg_params = {k: float(lt["bg"].params_[k]) for k in ("r", "alpha", "a", "b")}
    ll_bg_lt = BetaGeoModel().set_params(lt_bg_params).log_likelihood(f, r, T)
    rep = (f > 0) & (m > 0)
    lt_gg_params = {k: float(lt["gg"].params_[LT_NAMES.get(k, k)]) for k in ("p", "q", "gamma")}
    ll_gg_lt = GammaGammaModel().set_params(lt_gg_params).log_likelihood(f[rep], m[rep])
    score_rel = {k: max_rel_diff(ours_on_lt["scores"][k], lt["scores"][k]) for k in lt["scores"]}

    same_data = n_lt == n
    ratios: dict[str, float | None] = {}
    for kind in ("wall", "cpu"):
        o, t = ours_times[kind], lt[kind]
        lt_fit = t["fit_bg"] + t["fit_gg"]
        ratios[f"{kind}_total"] = o["total"] / t["total"]
        ratios[f"{kind}_fit"] = (o["fit_bg"] + o["fit_gg"]) / lt_fit
        # Strict reading of the target: our fit + scoring vs lifetimes' fit alone.
        ratios[f"{kind}_ours_fit_and_score_vs_lifetimes_fit"] = o["total"] / lt_fit
    if not same_data:
        ratios = {k: None for k in ratios}
    result = {
        "customers": n,
        "lifetimes_customers": n_lt,
        "same_data": same_data,
        "seed": args.seed,
        "simulation": {
            "true_params": {**TRUE_BG, **TRUE_GG},
            "max_age_days": MAX_AGE_DAYS,
            "time_unit_days": TIME_UNIT_DAYS,
            "repeat_customers": int((data["frequency"] > 0).sum()),
            "seconds": simulate_seconds,
        },
        "ours": {
            "seconds_median": ours_times,
            "seconds_runs": [{"wall": run["wall"], "cpu": run["cpu"]} for run in runs],
            "bg_summary": {k: v for k, v in ours["bg"].summary().items() if k != "message"},
            "gg_summary": {k: v for k, v in ours["gg"].summary().items() if k != "message"},
        },
        "lifetimes": {"seconds": {"wall": lt["wall"], "cpu": lt["cpu"]}},
        "params": params,
        "param_rel_diff": param_rel,
        "param_rel_diff_max": max(param_rel.values()),
        "log_likelihood": {
            "bg_ours": ours_on_lt["bg"].log_likelihood_,
            "bg_lifetimes_params": ll_bg_lt,
            "gg_ours": ours_on_lt["gg"].log_likelihood_,
            "gg_lifetimes_params": ll_gg_lt,
        },
        "score_max_rel_diff": score_rel,
        "time_ratios": ratios,
        "targets": {"param_rel_diff_max": 1e-4, "time_ratio": 0.1},
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": __import__("scipy").__version__,
            "lifetimes": __import__("lifetimes").__version__,
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


def markdown(res: dict[str, Any]) -> str:
    o, lt = res["ours"]["seconds_median"], res["lifetimes"]["seconds"]
    env = res["environment"]
    lines = [
        f"### CLV benchmark: {res['customers']:,} simulated customers",
        "",
        f"BG/NBD + Gamma-Gamma fit and scoring (P(alive), 52-week expected purchases, expected"
        f" average value, 12-month discounted CLV); seed {res['seed']}; "
        f"{res['simulation']['repeat_customers']:,} repeat customers; "
        f"{env['cpus']} CPUs shared with other jobs, 1-min load average "
        f"{env['loadavg_before'][0]:.2f} before / {env['loadavg_after'][0]:.2f} after. "
        f"Ours: median of {len(res['ours']['seconds_runs'])} runs; lifetimes: one run. "
        "Wall = elapsed time; CPU = process CPU time (not inflated by other jobs).",
        "",
    ]
    if not res["same_data"]:
        lines += [
            f"**lifetimes was run on the first {res['lifetimes_customers']:,} customers only "
            f"(`--lifetimes-customers`); its times are not for the same data and no time "
            f"ratio is reported.**",
            "",
        ]
    lines += [
        "| step | ours wall (s) | ours CPU (s) | lifetimes wall (s) | lifetimes CPU (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label in (
        ("fit_bg", "BG/NBD fit"),
        ("fit_gg", "Gamma-Gamma fit"),
        ("score", "scoring"),
        ("total", "**total**"),
    ):
        lines.append(
            f"| {label} | {o['wall'][key]:.2f} | {o['cpu'][key]:.2f} | "
            f"{lt['wall'][key]:.2f} | {lt['cpu'][key]:.2f} |"
        )
    lines.append("")
    ratios = res["time_ratios"]
    if ratios["wall_total"] is not None:
        lines += [
            "| time ratio ours / lifetimes (target <= 0.1) | wall | CPU |",
            "|---|---:|---:|",
            f"| fit + scoring vs fit + scoring | {ratios['wall_total']:.3f} | "
            f"{ratios['cpu_total']:.3f} |",
            f"| fit vs fit | {ratios['wall_fit']:.3f} | {ratios['cpu_fit']:.3f} |",
            f"| our fit + scoring vs lifetimes' fit alone | "
            f"{ratios['wall_ours_fit_and_score_vs_lifetimes_fit']:.3f} | "
            f"{ratios['cpu_ours_fit_and_score_vs_lifetimes_fit']:.3f} |",
        ]
    lines += [
        "",
        f"BG/NBD likelihood evaluated on {res['ours']['bg_summary']['n_unique']:,} distinct "
        f"(x, t_x, T) rows for {res['customers']:,} customers; Gamma-Gamma on "
        f"{res['ours']['gg_summary']['n_unique']:,} rows for "
        f"{res['simulation']['repeat_customers']:,} repeat customers (simulated mean spends "
        "are all distinct, so nothing to collapse).",
        "",
        "| param | true | ours | lifetimes | rel. diff |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rel in res["param_rel_diff"].items():
        lines.append(
            f"| {name} | {res['params']['true'][name]:g} | {res['params']['ours'][name]:.6g} | "
            f"{res['params']['lifetimes'][name]:.6g} | {rel:.2e} |"
        )
    ll = res["log_likelihood"]
    lines += [
        "",
        f"Max parameter relative difference: **{res['param_rel_diff_max']:.2e}** (target <= 1e-4)."
        f" Log-likelihood at our / lifetimes' estimates: BG/NBD {ll['bg_ours']:.4f} / "
        f"{ll['bg_lifetimes_params']:.4f}; Gamma-Gamma {ll['gg_ours']:.4f} / "
        f"{ll['gg_lifetimes_params']:.4f}.",
        "",
        "Max relative difference of scores: "
        + ", ".join(f"{k} {v:.1e}" for k, v in res["score_max_rel_diff"].items())
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
