"""Chunk worker process: ``python -m pipelines.generator.worker TASKS.pkl``.

Runs its share of chunks and pickles each ChunkResult next to the task file. A plain
subprocess (not multiprocessing) so it works whatever the parent's main module is.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from .chunk import run_chunk


def main(argv: list[str]) -> int:
    task_file = Path(argv[1])
    tasks = pickle.loads(task_file.read_bytes())
    for task in tasks:
        result = run_chunk(task)
        out = task_file.parent / f"chunk_{task.chunk:06d}.pkl"
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
