"""The pooled SQLite event log writes exactly what Dagster's own storage reads."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from pipelines.event_log import PooledSqliteEventLogStorage


def _materialization(run_id: str, asset: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level="INFO",
        user_message="",
        run_id=run_id,
        timestamp=time.time(),
        step_key="step",
        job_name="nightly",
        dagster_event=DagsterEvent(
            DagsterEventType.ASSET_MATERIALIZATION.value,
            "nightly",
            event_specific_data=StepMaterializationData(dg.AssetMaterialization(asset_key=asset)),
        ),
    )


def test_pooled_event_log_is_read_back_by_dagsters_storage(tmp_path: Path) -> None:
    pooled = PooledSqliteEventLogStorage(str(tmp_path))
    runs = [f"run{i:02d}" for i in range(12)]
    for run_id in runs:
        for asset in ("a", "b", "c"):
            pooled.store_event(_materialization(run_id, asset))
    # one engine per database, the least recently used ones closed
    assert len(pooled._engines) <= 8

    plain = SqliteEventLogStorage(str(tmp_path))
    for run_id in runs:
        logs = plain.get_logs_for_run(run_id)
        assert [e.dagster_event.asset_key.to_user_string() for e in logs] == ["a", "b", "c"]
    latest = plain.get_latest_materialization_events([dg.AssetKey("b")])[dg.AssetKey("b")]
    assert latest is not None and latest.run_id == runs[-1]
    pooled.dispose()
    plain.dispose()


def test_wipe_closes_the_engines_and_starts_empty(tmp_path: Path) -> None:
    pooled = PooledSqliteEventLogStorage(str(tmp_path))
    pooled.store_event(_materialization("run1", "a"))
    pooled.wipe()
    assert "run1" not in pooled._engines  # the deleted run database is not held open
    assert pooled.get_logs_for_run("run1") == []
    pooled.store_event(_materialization("run2", "a"))
    assert len(pooled.get_logs_for_run("run2")) == 1


def test_crm_instance_writes_where_dagsters_default_instance_reads(tmp_path: Path) -> None:
    from pipelines.cli import _instance
    from pipelines.settings import REPO_ROOT, Settings

    settings = Settings.load(tmp_path)
    pooled = _instance(settings)
    assert isinstance(pooled.event_log_storage, PooledSqliteEventLogStorage)
    pooled.event_log_storage.store_event(_materialization("run1", "a"))
    pooled.dispose()
    # `make dev` copies the plain dagster.yaml: Dagster's default storage in the same home
    (settings.dagster_home / "dagster.yaml").write_bytes((REPO_ROOT / "dagster.yaml").read_bytes())
    plain = dg.DagsterInstance.from_config(str(settings.dagster_home))
    assert type(plain.event_log_storage) is SqliteEventLogStorage
    assert len(plain.event_log_storage.get_logs_for_run("run1")) == 1
    plain.dispose()
