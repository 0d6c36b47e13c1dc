"""Run every benchmark at its documented size; results land in bench/results/.

    python bench/run_all.py            # all (takes a long while: 10M-line pipeline run)
    python bench/run_all.py pipeline   # one or more by name
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"

COMMANDS: dict[str, list[str]] = {
    "pipeline": ["bench/bench_pipeline.py", "--lines", "1000000", "--lines", "10000000",
                 "--out", str(RESULTS / "pipeline")],
    "identity": ["bench/bench_identity.py", "--customers", "650000",
                 "--out", str(RESULTS / "identity.json")],
    "marts": ["bench/bench_marts.py"],
    "clv": ["bench/bench_clv.py", "--customers", "1000000", "--out", str(RESULTS / "clv.json")],
    "scoring": ["bench/bench_scoring.py", "--customers", "1000000",
                "--out", str(RESULTS / "scoring.json")],
    "targeting": ["bench/bench_targeting.py", "--customers", "1000000",
                  "--out", str(RESULTS / "targeting.json")],
    "quality": ["-m", "bench.quality_validation", "--rows", "1000000",
                "--out", str(RESULTS / "quality.json")],
}


def main(names: list[str]) -> int:
    failed = []
    for name in names or list(COMMANDS):
        print(f"== bench {name}", flush=True)
        proc = subprocess.run([sys.executable, *COMMANDS[name]], cwd=BENCH.parent, check=False)
        if proc.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
