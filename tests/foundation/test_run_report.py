"""The figures behind `crm run`'s summary and the benchmarks: the process sampler (peak memory
and CPU time per step), the dbt step by layer and the ingest step by part."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg

from pipelines.run_report import (
    PUBLISH_PARTS,
    ProcessSampler,
    dbt_layer_figures,
    ingest_figures,
    publish_figures,
)

_HOLD_300_MB = (
    "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(2.5)"
)


def test_the_sampler_counts_a_child_started_after_it() -> None:
    """dbt is a child the sampler finds while it runs, between its child-list refreshes."""
    with ProcessSampler(interval=0.05, children_every=0.5) as sampler:
        time.sleep(0.3)
        before = time.time()
        child = subprocess.Popen([sys.executable, "-c", _HOLD_300_MB])
        child.wait()
        after = time.time()
    own = sampler.peak_mb(0, before)
    with_child = sampler.peak_mb(before, after)
    assert own is not None and with_child is not None
    assert with_child - own > 250  # the child's 300 MB, seen within a second of its start


_BURN_CPU = (
    "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass"
)


def test_the_sampler_counts_a_childs_cpu_while_it_runs_and_after_it_exits() -> None:
    """A child (like dbt) that burns 1.5 s of CPU: the window around it shows that CPU, from
    the live child while it runs and from this process's waited-for children once it exited;
    an idle window shows next to none. The child measures its own CPU (process_time), an
    independent account of what the sampler should find."""
    with ProcessSampler(interval=0.05, children_every=0.2) as sampler:
        time.sleep(0.3)
        idle_end = time.time()
        time.sleep(0.5)
        start = time.time()
        child = subprocess.Popen([sys.executable, "-c", _BURN_CPU.format(seconds=1.5)])
        time.sleep(1.0)
        mid = time.time()  # the child still runs: its CPU so far comes from the live process
        child.wait()
        end = time.time()
        time.sleep(0.3)
    idle = sampler.cpu_seconds(idle_end, start)
    running = sampler.cpu_seconds(start, mid)
    burnt = sampler.cpu_seconds(start, end)
    assert idle is not None and idle < 0.2
    assert running is not None and 0.5 < running < 1.3
    # 1.5 s in the loop plus the interpreter's start-up, at most 2 CPU-s per s on 2 cores
    assert burnt is not None and 1.4 < burnt < 2 * (end - start) + 0.2
    assert sampler.cpu_seconds(end + 10, end + 11) is None  # no sample after the window


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


def _batches(*seconds: dict[str, float]) -> dict[str, dg.MetadataValue]:
    return {"batches": dg.MetadataValue.json([{"file_name": "f", "seconds": s} for s in seconds])}


def test_ingest_figures_sum_each_part_over_the_files_of_every_entity() -> None:
    """From the raw/<entity> materializations of a real (ephemeral) Dagster run; another
    asset's metadata with the same shape is not ingest and does not count."""

    @dg.asset(key=["raw", "transactions"])
    def transactions() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata=_batches(
                {"read": 1.0, "gx": 2.0, "commit": 0.5},
                {"read": 0.5, "handover": 0.25, "gx": 0.25},
            )
        )

    @dg.asset(key=["raw", "customers"])
    def customers() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=_batches({"row_checks": 0.75, "insert": 0.25}))

    @dg.asset(key=["marts", "other"])
    def other() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=_batches({"read": 100.0}))

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([transactions, customers, other], instance=instance)
        figures = {f.stage: f.seconds for f in ingest_figures(instance, result.run_id)}
    assert figures == {
        "ingest: read files": 1.5,
        "ingest: validation, SQL row checks": 0.75,
        "ingest: hand-over of files read ahead": 0.25,
        "ingest: validation, great-expectations": 2.25,
        "ingest: findings": 0.0,
        "ingest: insert raw + quarantine": 0.25,
        "ingest: commit": 0.5,
    }


def test_publish_figures_come_from_the_published_warehouse_materialization() -> None:
    parts = {"patch": 1.25, "copy": 2.5, "file": 0.5, "exports": 4.0}

    @dg.asset(key=["warehouse", "published"])
    def published() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"parts": dg.MetadataValue.json(parts)})

    @dg.asset(key=["marts", "other"])
    def other() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"parts": dg.MetadataValue.json({"copy": 99.0})})

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([published, other], instance=instance)
        figures = {f.stage: f.seconds for f in publish_figures(instance, result.run_id)}
        without = dg.materialize([other], instance=instance)
        assert publish_figures(instance, without.run_id) == []
    assert figures == {PUBLISH_PARTS[part]: seconds for part, seconds in parts.items()}
