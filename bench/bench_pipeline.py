"""Pipeline benchmark: full build, incremental night and a plain-SQL baseline.

For each size N (transaction lines) it:

1. generates a sample with ``crm generate`` (about 10 lines per customer);
2. runs the full nightly job (``crm run``) in a subprocess and reads every stage's wall time,
   CPU time and peak RSS from ``state/last_run_summary.json`` (ingest and validation per
   entity, dbt per layer, identity, scoring, targeting, publish);
3. adds a next-night delivery of 1% new lines and runs the incremental night, for
   ``--nights`` nights in a row (default 2). The first night after a full build differs from
   the ones after it: publish then patches tables it copied whole the night before, while a
   later night compares the tables found unchanged whole first
   (pipelines/publish/publisher.py). ``incremental_nights`` lists them in order;
4. runs ``bench/baseline.sql`` — one hand-written DuckDB script computing the same core marts
   from the same landing files — in a subprocess with the same memory limit and threads.
   With ``--baseline-first`` it runs right after generating instead, and its database is
   deleted once measured: a size whose disk cannot hold the build's home and the baseline's
   database and spill files at once (100M lines on this VM) still gets both measured. The
   baseline reads only lines up to the full build's as_of, so the order does not change
   what it computes.

Disk: after the full build, each night and the baseline it records the bytes the home
holds, by part (landing files, build database, published file, exports, ...), and for every
run the peak growth of the file system's used space while it ran (spill files, the published
file's copy during a night), so the disk a larger size needs is measured, not guessed.

Writes ``<out>.json`` and ``<out>.md``. Usage::

    python bench/bench_pipeline.py --lines 1000000 --lines 10000000 --out bench/results/pipeline
        [--nights 2] [--baseline-first]

``--nights 0`` measures the full build and the baseline only (for a size whose disk cannot
hold a night's copy of the published file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import psutil

REPO = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 6, 30)
LINES_PER_CUSTOMER = 10


class Measured(NamedTuple):
    seconds: float  # wall
    peak_rss_mb: float  # of the process tree
    cpu_seconds: float  # user + system of the process tree (children reaped by it included)
    cpu_system_seconds: float
    # growth of the file system's used space: its peak while the command ran, and at its end
    disk_peak_growth_mb: float = 0.0
    disk_end_growth_mb: float = 0.0

    def figures(self) -> dict[str, float]:
        return {
            "seconds": round(self.seconds, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "cpu_system_seconds": round(self.cpu_system_seconds, 1),
            "disk_peak_growth_mb": round(self.disk_peak_growth_mb, 1),
            "disk_end_growth_mb": round(self.disk_end_growth_mb, 1),
        }


def _allocated_bytes(path: Path) -> int:
    """Bytes a file or directory tree occupies on disk (allocated blocks, as ``du``)."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


# The parts of a bench home that grow with its size (crm's layout, pipelines/settings.py)
DISK_PARTS: tuple[tuple[str, str], ...] = (
    ("build database", "state/work.duckdb*"),
    ("published", "warehouse"),
    ("landing", "landing"),
    ("exports", "exports"),
    ("baseline database", "baseline.duckdb*"),
)


def disk_use(home: Path) -> dict[str, float]:
    """MB the home holds, by part; ``other`` is the rest (dbt and Dagster state, outbox,
    the generator's truth files) and ``total`` all of it."""
    parts: dict[str, float] = {}
    counted = 0
    for name, pattern in DISK_PARTS:
        paths = list(home.glob(pattern))
        size = sum(_allocated_bytes(p) for p in paths)
        counted += size
        parts[name] = round(size / 2**20, 1)
    total = _allocated_bytes(home)
    parts["other"] = round((total - counted) / 2**20, 1)
    parts["total"] = round(total / 2**20, 1)
    return parts


def _run_measured(
    cmd: list[str], env: dict[str, str], cwd: Path = REPO, disk: Path | None = None
) -> Measured:
    """Run a command; return its wall time, peak RSS, CPU time and the growth of used disk
    space on the file system holding ``disk`` (default: ``cwd``)."""
    disk = disk or cwd
    used_before = shutil.disk_usage(disk).used
    used_peak = used_before
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    ps = psutil.Process(proc.pid)
    output: list[str] = []
    import threading

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [ps, *ps.children(recursive=True)])
            peak = max(peak, rss)
        except psutil.Error:
            pass
        used_peak = max(used_peak, shutil.disk_usage(disk).used)
        time.sleep(0.1)
    reader.join(timeout=10)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write("".join(output[-80:]))
        raise SystemExit(f"{' '.join(cmd[:4])} failed with exit {proc.returncode}")
    system = after.ru_stime - before.ru_stime
    used_end = shutil.disk_usage(disk).used
    return Measured(
        seconds,
        peak / 2**20,
        after.ru_utime - before.ru_utime + system,
        system,
        disk_peak_growth_mb=(max(used_peak, used_end) - used_before) / 2**20,
        disk_end_growth_mb=(used_end - used_before) / 2**20,
    )


def _crm(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def _landing_tx_sql(landing: Path) -> str:
    folder = landing / "transactions"
    parts = []
    if list(folder.glob("*.csv")):
        parts.append(
            # malformed lines (planted dirty rows) are skipped: the pipeline quarantines them
            f"select filename, * exclude (filename) from read_csv('{folder}/*.csv', header = true, "
            "all_varchar = true, filename = true, union_by_name = true, ignore_errors = true)"
        )
    if list(folder.glob("*.jsonl")):
        parts.append(
            f"select filename, * exclude (filename) from read_json('{folder}/*.jsonl', "
            "format = 'newline_delimited', filename = true, union_by_name = true, "
            "ignore_errors = true, "
            "columns = {source_system: 'varchar', transaction_id: 'varchar', "
            "line_number: 'varchar', source_customer_id: 'varchar', occurred_at: 'varchar', "
            "channel: 'varchar', store_id: 'varchar', product_id: 'varchar', "
            "quantity: 'varchar', amount: 'varchar', discount: 'varchar', currency: 'varchar', "
            "unit_cost: 'varchar', campaign_id: 'varchar'})"
        )
    if list(folder.glob("*.parquet")):
        parts.append(
            f"select filename, columns(* exclude (filename))::varchar from read_parquet("
            f"'{folder}/*.parquet', filename = true, union_by_name = true)"
        )
    return "create or replace table landing_tx as\n" + "\nunion all by name\n".join(parts) + ";"


BASELINE_RUNNER = """
import sys, duckdb
db, script, memory, threads = sys.argv[1:5]
con = duckdb.connect(db)
con.execute(f"set memory_limit = '{memory}'")
con.execute(f"set threads = {threads}")
con.execute(open(script).read())
print(con.execute("select * from pareto").fetchall())
"""


def run_baseline(
    home: Path,
    as_of: dt.date,
    memory: str,
    threads: int,
    env: dict[str, str],
    ran_first: bool = False,
) -> dict:
    """Run baseline.sql on the home's landing files up to ``as_of``. ``ran_first`` (before
    the full build): its database is deleted once its disk use is recorded."""
    sql = (REPO / "bench" / "baseline.sql").read_text(encoding="utf-8")
    sql = sql.replace("{landing_tx}", _landing_tx_sql(home / "landing"))
    sql = sql.replace("{as_of}", as_of.isoformat())
    script = home / "baseline.sql"
    script.write_text(sql, encoding="utf-8")
    db = home / "baseline.duckdb"
    db.unlink(missing_ok=True)
    figures = _run_measured(
        [sys.executable, "-c", BASELINE_RUNNER, str(db), str(script), memory, str(threads)],
        env,
        disk=home,
    ).figures()
    result = {**figures, "disk": disk_use(home), "ran_first": ran_first}
    if ran_first:
        db.unlink()
        db.with_name(db.name + ".wal").unlink(missing_ok=True)
    return result


def _night(home: Path, env: dict[str, str], seed: int, night: dt.date) -> dict:
    """Deliver the next night's files (1 % new lines) and run the job as of ``night``."""
    code = (
        "import datetime as dt, sys; from pipelines.settings import Settings; "
        "from pipelines.generator import generate_next_night; "
        f"generate_next_night(Settings.load(sys.argv[1]), seed={seed}, "
        f"day=dt.date.fromisoformat('{night.isoformat()}'), new_line_fraction=0.01)"
    )
    _run_measured([sys.executable, "-c", code, str(home)], env, disk=home)
    inc = _run_measured(
        _crm("run", "--home", str(home), "--as-of", night.isoformat()), env, disk=home
    )
    run = json.loads((home / "state" / "last_run_summary.json").read_text())
    print(
        f"[bench] incremental night {night} {inc.seconds:.1f}s, peak {inc.peak_rss_mb:,.0f} MB, "
        f"CPU {inc.cpu_seconds:.0f}s",
        flush=True,
    )
    return {
        **inc.figures(),
        "as_of": night.isoformat(),
        "rows_loaded": run.get("rows_loaded"),
        "stages": run.get("stages", []),
        "dbt_layers": run.get("dbt_layers", []),
        "ingest_parts": run.get("ingest_parts", []),
        "publish_parts": run.get("publish_parts", []),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "disk": disk_use(home),
    }


def bench_size(
    lines: int,
    work: Path,
    seed: int,
    progress: Callable[[dict], None] = lambda result: None,
    nights: int = 2,
    baseline_first: bool = False,
) -> dict:
    customers = max(100, lines // LINES_PER_CUSTOMER)
    home = work / f"lines_{lines}"
    # A full build starts from nothing: a home left by an earlier bench would hold its
    # loaded batches and later nights (the build would load nothing and rerun the past).
    shutil.rmtree(home, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CRM_HOME": str(home), "CRM_PII_SALT": "bench-salt"}
    result: dict = {"lines_target": lines, "customers": customers, "as_of": AS_OF.isoformat()}

    gen = _run_measured(
        _crm(
            "generate",
            "--home",
            str(home),
            "--customers",
            str(customers),
            "--seed",
            str(seed),
            "--end-date",
            AS_OF.isoformat(),
        ),
        env,
        disk=work,
    )
    summary = json.loads((home / "truth" / "summary.json").read_text())
    result["lines"] = summary["counts"]["transactions"]["rows"]
    result["generate"] = gen.figures()
    print(f"[bench] {result['lines']:,} lines generated in {gen.seconds:.1f}s", flush=True)

    sys.path.insert(0, str(REPO))
    from pipelines.settings import Settings

    duck = Settings.load(home).duckdb_settings

    def baseline() -> None:
        result["baseline"] = run_baseline(
            home, AS_OF, duck["memory_limit"], duck["threads"], env, ran_first=baseline_first
        )
        print(f"[bench] baseline {result['baseline']['seconds']:.1f}s", flush=True)

    if baseline_first:
        baseline()

    full = _run_measured(
        _crm("run", "--home", str(home), "--as-of", AS_OF.isoformat()), env, disk=home
    )
    run = json.loads((home / "state" / "last_run_summary.json").read_text())
    result["full_build"] = {
        **full.figures(),
        "stages": run.get("stages", []),
        "dbt_layers": run.get("dbt_layers", []),
        "ingest_parts": run.get("ingest_parts", []),
        "publish_parts": run.get("publish_parts", []),
    }
    result["full_build"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["full_build"]["disk"] = disk_use(home)
    print(
        f"[bench] full build {full.seconds:.1f}s, peak {full.peak_rss_mb:,.0f} MB, "
        f"CPU {full.cpu_seconds:.0f}s",
        flush=True,
    )
    progress(result)

    result["incremental_nights"] = []
    for k in range(1, nights + 1):
        result["incremental_nights"].append(_night(home, env, seed, AS_OF + dt.timedelta(days=k)))
        progress(result)

    if not baseline_first:
        baseline()

    full, base = result["full_build"], result["baseline"]
    result["ratios"] = {
        "full_build_vs_baseline": round(full["seconds"] / base["seconds"], 2),
        "nights_vs_full": [
            round(n["seconds"] / full["seconds"], 3) for n in result["incremental_nights"]
        ],
    }
    return result


def _nights(size: dict) -> list[dict]:
    # results written before --nights hold a single "incremental_night"
    if "incremental_nights" in size:
        return size["incremental_nights"]
    return [size["incremental_night"]]


def _night_labels(size: dict) -> list[str]:
    nights = _nights(size)
    if len(nights) == 1:
        return ["incremental night"]
    return [f"incremental night {k}" for k in range(1, len(nights) + 1)]


def _runs(size: dict) -> list[tuple[str, dict]]:
    """The measured runs of a size, labelled, in the order they ran."""
    pipeline = [
        ("full build", size["full_build"]),
        *zip(_night_labels(size), _nights(size), strict=True),
    ]
    if size["baseline"].get("ran_first"):
        return [("baseline (ran first, database then deleted)", size["baseline"]), *pipeline]
    return [*pipeline, ("baseline", size["baseline"])]


def to_markdown(report: dict) -> str:
    out = [
        f"# Pipeline benchmark ({report['date']})",
        "",
        f"Machine: {report['machine']}. DuckDB memory_limit {report['memory_limit']}, "
        f"threads {report['threads']}. Load average before the run: "
        f"{report.get('load_average_before')}.",
        *(
            [
                "",
                "Nights are incremental runs with 1 % new lines, one after another (the first"
                " follows the full build).",
            ]
            if any(_nights(r) for r in report["sizes"])
            else []
        ),
        *(f"\n**Note:** {note}" for note in report.get("notes", [])),
        "",
        "| lines | customers | full build s | baseline s | full/baseline | nights s "
        "| night/full | peak RSS MB (full) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["sizes"]:
        full = r["full_build"]["seconds"]
        nights = _nights(r)
        out.append(
            f"| {r['lines']:,} | {r['customers']:,} | {full:.1f} | "
            f"{r['baseline']['seconds']:.1f} | {r['ratios']['full_build_vs_baseline']:.2f} | "
            + (", ".join(f"{n['seconds']:.1f}" for n in nights) or "–")
            + " | "
            + (", ".join(f"{n['seconds'] / full:.1%}" for n in nights) or "–")
            + f" | {r['full_build']['peak_rss_mb']:,.0f} |"
        )
    if any("cpu_seconds" in r["full_build"] for r in report["sizes"]):
        out += [
            "",
            "CPU time (user + system, process tree) against wall time: on 2 cores a run can use"
            " at most 2 CPU-seconds per second.",
            "",
            "| lines | run | wall s | CPU s | of which system s | CPU / wall |",
            "| ---: | --- | ---: | ---: | ---: | ---: |",
        ]
        for r in report["sizes"]:
            for label, m in _runs(r):
                if "cpu_seconds" in m:
                    out.append(
                        f"| {r['lines']:,} | {label} | {m['seconds']:.1f} | "
                        f"{m['cpu_seconds']:.1f} | {m['cpu_system_seconds']:.1f} | "
                        f"{m['cpu_seconds'] / m['seconds']:.2f} |"
                    )
    if any("disk" in r["full_build"] for r in report["sizes"]):
        out += _disk_table(report["sizes"])
    for r in report["sizes"]:
        nights, labels = _nights(r), _night_labels(r)
        # CPU per step: results from before the process sampler measured it have none
        cpu = any("cpu_seconds" in s for s in r["full_build"].get("stages", []))
        per_run = ["CPU s", "peak RSS MB"] if cpu else ["peak RSS MB"]
        out += [
            "",
            f"## {r['lines']:,} lines: stages",
            "",
            "| "
            + " | ".join(
                ["stage", "full build s", *per_run]
                + [cell for label in labels for cell in (f"{label} s", *per_run)]
            )
            + " |",
            "| --- |" + " ---: |" * ((1 + len(per_run)) * (1 + len(labels))),
        ]
        for key, note in (
            ("stages", None),
            ("ingest_parts", "sum over files"),
            ("dbt_layers", "sum of node times"),
            ("publish_parts", "wall time"),
        ):
            parts = [{s["stage"]: s for s in n.get(key, [])} for n in nights]
            for s in r["full_build"].get(key, []):
                out.append(_stage_row(s, [night.get(s["stage"]) for night in parts], note, cpu))
        for label, m in (
            ("generate (not part of the build)", r["generate"]),
            ("baseline.sql (plain DuckDB)", r["baseline"]),
        ):
            cells = [label, f"{m['seconds']:.1f}"]
            if cpu:
                cells.append(f"{m['cpu_seconds']:.1f}" if "cpu_seconds" in m else "")
            cells += [f"{m['peak_rss_mb']:,.0f}"] + [""] * ((1 + len(per_run)) * len(labels))
            out.append(_row(cells))
    return "\n".join(out) + "\n"


def _disk_table(sizes: list[dict]) -> list[str]:
    names = [name for name, _ in DISK_PARTS]
    out = [
        "",
        "Disk: MB the home holds after each run, by part, and the peak growth of the file"
        " system's used space while the run went on (DuckDB's spill files, the copy of the"
        " published file a night patches).",
        "",
        "| lines | after | " + " | ".join(names) + " | other | total | peak growth in run |",
        "| ---: | --- | " + " | ".join("---:" for _ in names) + " | ---: | ---: | ---: |",
    ]
    for r in sizes:
        for label, m in _runs(r):
            if "disk" not in m:
                continue
            d = m["disk"]
            cells = [f"{d.get(name, 0):,.0f}" for name in [*names, "other", "total"]]
            out.append(
                f"| {r['lines']:,} | {label} | "
                + " | ".join(cells)
                + f" | {m.get('disk_peak_growth_mb', 0):,.0f} |"
            )
    return out


def _stage_row(full: dict, nights: list[dict | None], note: str | None, cpu: bool) -> str:
    """One stage: the full build's and each night's seconds; CPU seconds (``cpu``) and peak
    RSS for whole steps (``note`` None), not for parts of a step."""

    def cells(m: dict | None) -> list[str]:
        if m is None:
            return [""] * (2 + cpu)  # seconds, CPU, peak RSS
        whole = note is None
        cpu_cell = f"{m['cpu_seconds']:.1f}" if whole and m.get("cpu_seconds") is not None else ""
        return [f"{m['seconds']:.1f}", *([cpu_cell] if cpu else []), _mb(m) if whole else ""]

    name = full["stage"] if note is None else f"{full['stage']} ({note})"
    return _row([name, *(cell for m in [full, *nights] for cell in cells(m))])


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _mb(stage: dict) -> str:
    return f"{stage['peak_rss_mb']:,.0f}" if stage.get("peak_rss_mb") else ""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--lines",
        type=int,
        action="append",
        help="transaction lines (repeatable; default 1,000,000)",
    )
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "pipeline"))
    parser.add_argument(
        "--work",
        help="working directory (default: a temp dir); its lines_<N> homes are emptied first",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--nights",
        type=int,
        default=2,
        help="incremental nights in a row (0: full build and baseline only)",
    )
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a circumstance of this run to print with its results (repeatable)",
    )
    parser.add_argument(
        "--baseline-first",
        action="store_true",
        help="run the baseline before the full build and delete its database once measured",
    )
    args = parser.parse_args()
    if args.nights < 0:
        parser.error("--nights must not be negative")

    sys.path.insert(0, str(REPO))
    from pipelines.settings import Settings

    duck = Settings.load(tempfile.gettempdir()).duckdb_settings
    work = Path(args.work or tempfile.mkdtemp(prefix="crm-bench-"))
    report = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "memory_limit": duck["memory_limit"],
        "threads": duck["threads"],
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "notes": args.note,
        "sizes": [],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(partial: dict | None = None) -> None:
        # after every phase, so a long 10M run keeps what it has measured so far
        data = {**report, "sizes": report["sizes"] + ([partial] if partial else [])}
        out.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        complete = {**report, "sizes": [r for r in data["sizes"] if "ratios" in r]}
        out.with_suffix(".md").write_text(to_markdown(complete), encoding="utf-8")

    for n in args.lines or [1_000_000]:
        report["sizes"].append(
            bench_size(
                n,
                work,
                args.seed,
                progress=write,
                nights=args.nights,
                baseline_first=args.baseline_first,
            )
        )
        write()
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
