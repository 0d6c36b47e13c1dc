"""The pipeline benchmark's measurements: CPU time of a whole process tree, disk use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_pipeline import _run_measured, bench_size, disk_use, to_markdown

# a child that starts a grandchild burning ~0.6 s of CPU, then burns ~0.3 s itself
BURN = (
    "import subprocess, sys, time\n"
    "def burn(s):\n"
    "    end = time.process_time() + s\n"
    "    while time.process_time() < end: pass\n"
    "subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)\n"
    "burn(0.3)\n"
)
GRANDCHILD = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"


def test_cpu_time_covers_the_whole_process_tree() -> None:
    measured = _run_measured(
        [sys.executable, "-c", BURN.format(grandchild=GRANDCHILD)], dict(os.environ)
    )
    # 0.9 s burnt plus two interpreter start-ups; the grandchild alone is 0.6 s
    assert 0.85 <= measured.cpu_seconds <= 0.9 + 2.0
    assert 0 <= measured.cpu_system_seconds <= measured.cpu_seconds
    assert measured.seconds >= 0.85 / os.cpu_count()
    assert measured.figures()["cpu_seconds"] == round(measured.cpu_seconds, 1)


def run(seconds: float, cpu: float, system: float, stages: list | None = None) -> dict:
    return {
        "seconds": seconds,
        "peak_rss_mb": 100.0,
        "cpu_seconds": cpu,
        "cpu_system_seconds": system,
        "stages": stages or [],
    }


def test_markdown_reports_cpu_against_wall_time() -> None:
    size = {
        "lines": 1000,
        "customers": 100,
        "full_build": run(10.0, 15.0, 2.0),
        "incremental_night": run(4.0, 6.0, 1.0),
        "baseline": run(2.0, 3.8, 0.2),
        "generate": {"seconds": 1.0, "peak_rss_mb": 50.0},
        "ratios": {"full_build_vs_baseline": 5.0, "incremental_vs_full": 0.4},
    }
    report = {
        "date": "2026-11-23",
        "machine": "x86_64, 2 cores",
        "memory_limit": "4GB",
        "threads": 2,
        "sizes": [size],
    }
    text = to_markdown(report)
    assert "| 1,000 | full build | 10.0 | 15.0 | 2.0 | 1.50 |" in text
    assert "| 1,000 | incremental night | 4.0 | 6.0 | 1.0 | 1.50 |" in text
    assert "| 1,000 | baseline | 2.0 | 3.8 | 0.2 | 1.90 |" in text


def test_markdown_reports_every_night_against_the_full_build() -> None:
    def stages(ingest: float) -> list[dict]:
        return [{"stage": "ingest", "seconds": ingest, "peak_rss_mb": 80.0}]

    nights = [run(4.0, 6.0, 1.0, stages(1.5)), run(3.0, 5.0, 0.5, stages(0.5))]
    size = {
        "lines": 1000,
        "customers": 100,
        "full_build": run(10.0, 15.0, 2.0, stages(6.0)),
        "incremental_nights": nights,
        "baseline": run(2.0, 3.8, 0.2),
        "generate": {"seconds": 1.0, "peak_rss_mb": 50.0},
        "ratios": {"full_build_vs_baseline": 5.0, "nights_vs_full": [0.4, 0.3]},
    }
    report = {"date": "2026-11-23", "machine": "x86_64", "memory_limit": "4GB", "threads": 2}
    text = to_markdown({**report, "sizes": [size]})
    assert "| 1,000 | 100 | 10.0 | 2.0 | 5.00 | 4.0, 3.0 | 40.0%, 30.0% | 100 |" in text
    assert "| 1,000 | incremental night 1 | 4.0 | 6.0 | 1.0 | 1.50 |" in text
    assert "| 1,000 | incremental night 2 | 3.0 | 5.0 | 0.5 | 1.67 |" in text
    assert "| ingest | 6.0 | 80 | 1.5 | 80 | 0.5 | 80 |" in text


def test_markdown_gives_each_step_its_cpu_time_when_measured() -> None:
    """Steps with cpu_seconds get a CPU column per run (a part of a step gets none, nor does
    a night whose step lacks it); the baseline's is the whole run's."""

    def stages(ingest: float, cpu: float | None) -> list[dict]:
        step = {"stage": "ingest", "seconds": ingest, "peak_rss_mb": 80.0}
        return [step if cpu is None else {**step, "cpu_seconds": cpu}]

    size = {
        "lines": 1000,
        "customers": 100,
        "full_build": run(10.0, 15.0, 2.0, stages(6.0, 9.5))
        | {"ingest_parts": [{"stage": "ingest: read files", "seconds": 2.0}]},
        "incremental_nights": [
            run(4.0, 6.0, 1.0, stages(1.5, 2.25)),
            run(3, 5, 0.5, stages(1, None)),
        ],
        "baseline": run(2.0, 3.8, 0.2),
        "generate": {"seconds": 1.0, "peak_rss_mb": 50.0},
        "ratios": {"full_build_vs_baseline": 5.0, "nights_vs_full": [0.4, 0.3]},
    }
    report = {"date": "2026-11-23", "machine": "x86_64", "memory_limit": "4GB", "threads": 2}
    text = to_markdown({**report, "sizes": [size]})
    assert (
        "| stage | full build s | CPU s | peak RSS MB | incremental night 1 s | CPU s "
        "| peak RSS MB | incremental night 2 s | CPU s | peak RSS MB |"
    ) in text
    assert "| ingest | 6.0 | 9.5 | 80 | 1.5 | 2.2 | 80 | 1.0 |  | 80 |" in text
    assert "| ingest: read files (sum over files) | 2.0 |  |  |  |  |  |  |  |  |" in text
    assert "| baseline.sql (plain DuckDB) | 2.0 | 3.8 | 100 |  |  |  |  |  |  |" in text
    assert "| generate (not part of the build) | 1.0 |  | 50 |  |  |  |  |  |  |" in text
    header = next(line for line in text.splitlines() if line.startswith("| stage |"))
    for line in text.splitlines():
        if line.startswith(("| ingest", "| baseline.sql", "| generate")):
            assert line.count("|") == header.count("|"), line


def _du_mb(path: Path) -> float:
    # an independent measure: coreutils du, in KiB of allocated blocks
    out = subprocess.run(["du", "-sk", str(path)], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0]) / 1024


def test_disk_use_splits_a_home_into_its_parts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = {
        "state/work.duckdb": 3_000_000,
        "state/work.duckdb.wal": 500_000,
        "state/dagster/runs.db": 200_000,
        "warehouse/crm.duckdb": 2_000_000,
        "landing/transactions/a.csv": 1_000_000,
        "landing/customers/b.csv": 250_000,
        "exports/marts/fct.parquet": 700_000,
        "baseline.duckdb": 400_000,
    }
    for rel, size in files.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(os.urandom(size))
    d = disk_use(home)
    assert abs(d["build database"] - _du_mb(home / "state") + _du_mb(home / "state/dagster")) < 0.1
    assert abs(d["published"] - _du_mb(home / "warehouse")) < 0.1
    assert abs(d["landing"] - _du_mb(home / "landing")) < 0.1
    assert abs(d["exports"] - _du_mb(home / "exports")) < 0.1
    assert abs(d["baseline database"] - _du_mb(home / "baseline.duckdb")) < 0.1
    assert abs(d["other"] - _du_mb(home / "state/dagster")) < 0.1
    assert abs(d["total"] - sum(_du_mb(home / p) for p in os.listdir(home))) < 0.1


def test_peak_disk_growth_sees_a_file_deleted_before_the_end(tmp_path: Path) -> None:
    # writes 64 MB, holds it for a while (the sampler ticks every 0.1 s), deletes it
    code = (
        "import os, sys, time\n"
        "p = os.path.join(sys.argv[1], 'spill.bin')\n"
        "with open(p, 'wb') as f:\n"
        "    f.write(os.urandom(64 * 2**20)); f.flush(); os.fsync(f.fileno())\n"
        "time.sleep(1.0)\n"
        "os.remove(p)\n"
    )
    m = _run_measured([sys.executable, "-c", code, str(tmp_path)], dict(os.environ), disk=tmp_path)
    assert m.disk_peak_growth_mb >= 60
    assert abs(m.disk_end_growth_mb) < 30  # the file is gone; other writers add noise only


def test_markdown_reports_disk_use_by_part() -> None:
    disk = {
        "build database": 4000.0,
        "published": 1600.0,
        "landing": 1400.0,
        "exports": 640.0,
        "baseline database": 0.0,
        "other": 100.0,
        "total": 7740.0,
    }
    full = {**run(10.0, 15.0, 2.0), "disk": disk, "disk_peak_growth_mb": 9000.0}
    base = {**run(2.0, 3.8, 0.2), "disk": {**disk, "baseline database": 700.0, "total": 8440.0}}
    size = {
        "lines": 1000,
        "customers": 100,
        "full_build": full,
        "incremental_nights": [run(4.0, 6.0, 1.0)],
        "baseline": base,
        "generate": {"seconds": 1.0, "peak_rss_mb": 50.0},
        "ratios": {"full_build_vs_baseline": 5.0, "nights_vs_full": [0.4]},
    }
    report = {"date": "2026-11-23", "machine": "x86_64", "memory_limit": "4GB", "threads": 2}
    text = to_markdown({**report, "sizes": [size]})
    assert "| 1,000 | full build | 4,000 | 1,600 | 1,400 | 640 | 0 | 100 | 7,740 | 9,000 |" in text
    assert "| 1,000 | baseline | 4,000 | 1,600 | 1,400 | 640 | 700 | 100 | 8,440 | 0 |" in text
    # a night without disk figures (results from before) has no row
    assert "| 1,000 | incremental night |" not in text.split("Disk:")[1].split("##")[0]


def test_markdown_reports_a_size_without_nights_and_its_baseline_first() -> None:
    disk = {"build database": 4000.0, "baseline database": 700.0, "total": 4700.0}
    size = {
        "lines": 1000,
        "customers": 100,
        "full_build": {**run(10.0, 15.0, 2.0), "disk": {**disk, "baseline database": 0.0}},
        "incremental_nights": [],
        "baseline": {**run(2.0, 3.8, 0.2), "disk": disk, "ran_first": True},
        "generate": {"seconds": 1.0, "peak_rss_mb": 50.0},
        "ratios": {"full_build_vs_baseline": 5.0, "nights_vs_full": []},
    }
    report = {"date": "2026-11-23", "machine": "x86_64", "memory_limit": "4GB", "threads": 2}
    text = to_markdown({**report, "notes": ["landing deleted mid-run"], "sizes": [size]})
    assert "**Note:** landing deleted mid-run" in text.split("| lines |")[0]
    assert "Nights are" not in text
    assert "| 1,000 | 100 | 10.0 | 2.0 | 5.00 | – | – | 100 |" in text
    cpu = text.split("CPU time")[1].split("Disk:")[0]
    first = "| 1,000 | baseline (ran first, database then deleted) | 2.0 | 3.8 | 0.2 | 1.90 |"
    assert cpu.index(first) < cpu.index("| 1,000 | full build | 10.0 |")
    stages = text.split("## 1,000 lines: stages")[1]
    assert "| stage | full build s | peak RSS MB |\n| --- | ---: | ---: |\n" in stages
    assert "| baseline.sql (plain DuckDB) | 2.0 | 100 |\n" in stages


@pytest.mark.slow
def test_bench_runs_the_baseline_first_and_frees_its_database(tmp_path: Path) -> None:
    result = bench_size(4000, tmp_path, seed=11, nights=0, baseline_first=True)
    home = tmp_path / "lines_4000"
    assert not (home / "baseline.duckdb").exists()
    baseline, full = result["baseline"], result["full_build"]
    assert baseline["ran_first"] is True
    # measured while it existed; gone before the full build's disk was recorded
    assert baseline["disk"]["baseline database"] > 0
    assert full["disk"]["baseline database"] == 0
    assert result["incremental_nights"] == []
    assert result["ratios"]["full_build_vs_baseline"] == round(
        full["seconds"] / baseline["seconds"], 2
    )
    assert (home / "warehouse" / "crm.duckdb").exists()
