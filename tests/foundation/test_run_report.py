"""The RSS sampler behind the per-step peak memory of `crm run` and the benchmarks."""

from __future__ import annotations

import subprocess
import sys
import time

from pipelines.run_report import RssSampler, dbt_layer_figures

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


def test_dbt_layer_figures_sum_node_times_per_layer() -> None:
    nodes = {
        "model.p.a": {"resource_type": "model", "schema": "staging"},
        "model.p.b": {"resource_type": "model", "schema": "marts"},
        "model.p.c": {"resource_type": "model", "schema": "marts"},
        "seed.p.s": {"resource_type": "seed", "schema": "marts"},
        "test.p.t1": {"resource_type": "test", "schema": "marts"},
        "test.p.t2": {"resource_type": "test", "schema": "staging"},
    }
    seconds = {"model.p.a": 1.5, "model.p.b": 2.0, "model.p.c": 0.25, "seed.p.s": 0.5}
    seconds |= {"test.p.t1": 0.125, "test.p.t2": 0.375}
    figures = {f.stage: f.seconds for f in dbt_layer_figures(seconds, nodes)}
    assert figures == {"dbt staging": 1.5, "dbt marts": 2.75, "dbt tests": 0.5}
