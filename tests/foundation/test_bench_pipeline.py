"""The pipeline benchmark's measurements: CPU time of a whole process tree."""

from __future__ import annotations

import os
import sys

from bench.bench_pipeline import _run_measured, to_markdown

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
