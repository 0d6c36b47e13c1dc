"""The RSS sampler behind the per-step peak memory of `crm run` and the benchmarks."""

from __future__ import annotations

import subprocess
import sys
import time

from pipelines.run_report import RssSampler

_HOLD_300_MB = (
    "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(2.5)"
)


def test_the_sampler_counts_a_child_started_after_it() -> None:
    """dbt is a child the sampler finds while it runs, between its child-list refreshes."""
    with RssSampler(interval=0.05, children_every=0.5) as sampler:
        time.sleep(0.3)
        before = time.time()
        child = subprocess.Popen([sys.executable, "-c", _HOLD_300_MB])
        child.wait()
        after = time.time()
    own = sampler.peak_mb(0, before)
    with_child = sampler.peak_mb(before, after)
    assert own is not None and with_child is not None
    assert with_child - own > 250  # the child's 300 MB, seen within a second of its start
