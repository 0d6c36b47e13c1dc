"""Per-stage wall time, CPU time and peak memory of a run, for the summary and the benchmarks.

A sampler thread records the resident memory and the CPU time used so far of this process
and its children (dbt runs as a subprocess) while the job runs; afterwards each Dagster
step's start/end, taken from the event log, selects its samples. The node timings on the
dbt events split the dbt step by layer, and the per-file timings on the ingest
materializations split the ingest step (validation included).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import psutil


@dataclass
class StageFigure:
    stage: str
    seconds: float
    peak_rss_mb: float | None = None
    # user + system CPU seconds of the process tree while the step ran (up to 2 per second
    # on 2 cores), including work in the background then: the validation worker, the
    # first dbt parse of a new home
    cpu_seconds: float | None = None


class ProcessSampler:
    """Samples RSS and CPU time of this process plus all its children every ``interval``
    seconds.

    A process's CPU time counts its own and that of its children it has waited for
    (``children_user``/``children_system``), so summing it over this process and the live
    descendants keeps a child's CPU in the total after it exits (dbt, the validation worker).

    Listing the children scans every process in /proc, so the list is refreshed only every
    ``children_every`` seconds (dbt, the one long-lived child, runs for many seconds); at
    every 0.1 s that scan cost the job ~2 s of CPU a night.
    """

    def __init__(self, interval: float = 0.1, children_every: float = 1.0) -> None:
        self.interval = interval
        self.children_every = children_every
        self.samples: list[tuple[float, int, float]] = []  # (time, RSS bytes, CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-sampler", daemon=True)
        self._proc = psutil.Process()
        self._children: list[psutil.Process] = []
        self._children_at = float("-inf")

    def _sample(self) -> tuple[int, float]:
        now = time.monotonic()
        if now - self._children_at >= self.children_every:
            self._children = self._proc.children(recursive=True)
            self._children_at = now
        rss, cpu = 0, 0.0
        for proc in [self._proc, *self._children]:
            try:
                with proc.oneshot():
                    memory, times = proc.memory_info(), proc.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += memory.rss
            cpu += times.user + times.system + times.children_user + times.children_system
        return rss, cpu

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), *self._sample()))
            self._stop.wait(self.interval)

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.samples.append((time.time(), *self._sample()))  # closes the last step's window

    def peak_mb(self, start: float, end: float) -> float | None:
        values = [rss for t, rss, _ in self.samples if start <= t <= end]
        return round(max(values) / 2**20, 1) if values else None

    def cpu_seconds(self, start: float, end: float) -> float | None:
        """CPU seconds the process tree used between ``start`` and ``end``: the growth from
        the last sample up to ``start`` to the first sample from ``end``. The sample interval
        blurs each edge by up to ``interval`` seconds, and a new child's CPU before the
        sampler first lists it (up to ``children_every`` seconds) counts where it is listed:
        exact enough for steps of seconds, not for a step of a few milliseconds."""
        before = [cpu for t, _, cpu in self.samples if t <= start]
        after = [cpu for t, _, cpu in self.samples if t >= end]
        if not before or not after:
            return None
        # a child that exited but was not yet waited for drops out for a sample
        return round(max(after[0] - before[-1], 0.0), 2)


def step_figures(instance, run_id: str, sampler: ProcessSampler) -> list[StageFigure]:
    """Wall time, CPU time and peak RSS of each Dagster step of the run, in execution
    order."""
    from dagster import DagsterEventType

    starts: dict[str, float] = {}
    figures: list[StageFigure] = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            starts[event.step_key] = entry.timestamp
        elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            start = starts.get(event.step_key, entry.timestamp)
            figures.append(
                StageFigure(
                    stage=event.step_key,
                    seconds=round(entry.timestamp - start, 2),
                    peak_rss_mb=sampler.peak_mb(start, entry.timestamp),
                    cpu_seconds=sampler.cpu_seconds(start, entry.timestamp),
                )
            )
    return figures


def _materializations(instance, run_id: str) -> Iterator[tuple[list[str], Mapping[str, Any]]]:
    """(asset key path, metadata) of each asset materialization of the run, in order."""
    from dagster import DagsterEventType

    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.dagster_event.event_specific_data.materialization
        yield list(materialization.asset_key.path), materialization.metadata


# What a file's load spends its time on (BatchResult.seconds) -> stage label.
INGEST_PARTS = {
    "read": "ingest: read files",
    "row_checks": "ingest: validation, SQL row checks",
    "handover": "ingest: hand-over of files read ahead",
    "gx": "ingest: validation, great-expectations",
    "findings": "ingest: findings",
    "insert": "ingest: insert raw + quarantine",
    "commit": "ingest: commit",
}


def ingest_figures(instance, run_id: str) -> list[StageFigure]:
    """The ingest step split by part (read, validation, insert, ...): the sum over the run's
    files of each part's seconds, from the ``batches`` metadata of the raw/<entity>
    materializations. The entities load side by side, so the parts can add up to more than
    the step's wall time."""
    totals = dict.fromkeys(INGEST_PARTS, 0.0)
    for path, metadata in _materializations(instance, run_id):
        batches = metadata.get("batches")
        if path[0] != "raw" or batches is None:
            continue
        for batch in batches.value:
            for part, seconds in (batch.get("seconds") or {}).items():
                if part in totals:
                    totals[part] += float(seconds)
    return [StageFigure(INGEST_PARTS[part], round(totals[part], 2)) for part in INGEST_PARTS]


PUBLISH_PARTS = {
    "patch": "publish: diff and patch keyed tables",
    "copy": "publish: copy tables",
    "file": "publish: the rest (previous file copy, checkpoint, swap)",
    "exports": "publish: Parquet exports",
}


def publish_figures(instance, run_id: str) -> list[StageFigure]:
    """The publish step split by part, from the ``parts`` metadata of the run's
    warehouse/published materialization (none when the run did not publish)."""
    for path, metadata in _materializations(instance, run_id):
        parts = metadata.get("parts")
        if path == ["warehouse", "published"] and parts is not None:
            return [
                StageFigure(label, round(float(parts.value.get(part, 0.0)), 2))
                for part, label in PUBLISH_PARTS.items()
            ]
    return []


def dbt_layer_figures(
    seconds_by_node: dict[str, float], nodes: dict[str, dict]
) -> list[StageFigure]:
    """Seconds per dbt layer (staging, intermediate, marts) and for the tests: the sum of the
    node execution times (dbt runs two threads). ``nodes`` is a manifest's ``nodes``."""
    totals: dict[str, float] = {}
    for unique_id, seconds in seconds_by_node.items():
        node = nodes.get(unique_id, {})
        kind = node.get("resource_type", "other")
        label = f"dbt {node.get('schema', '?')}" if kind in ("model", "seed") else f"dbt {kind}s"
        totals[label] = totals.get(label, 0.0) + float(seconds or 0)
    return [StageFigure(stage, round(seconds, 2)) for stage, seconds in sorted(totals.items())]


def as_dicts(figures: list[StageFigure]) -> list[dict]:
    return [asdict(f) for f in figures]
