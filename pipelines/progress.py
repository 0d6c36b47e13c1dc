"""One-line progress messages per stage, for the `crm run` console and Dagster's log."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def report(stage: str, message: str, context=None) -> None:
    elapsed = time.monotonic() - _START
    print(f"[crm {elapsed:7.1f}s] {stage:<10} {message}", file=sys.stderr, flush=True)
    if context is not None:
        context.log.info(f"{stage}: {message}")
