"""The Definitions object that `dagster dev`, the schedule and `crm run` load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PROBE = textwrap.dedent(
    """
    import datetime as dt, json
    import dagster as dg
    from pipelines.definitions import defs
    from pipelines.settings import Settings

    job = defs.resolve_job_def("nightly")
    schedule = defs.resolve_schedule_def("nightly_schedule")
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    graph = defs.resolve_asset_graph()
    keys = sorted("/".join(k.path) for k in graph.get_all_asset_keys())
    checks = sorted(
        "/".join(c.asset_key.path) + ":" + c.name for c in graph.asset_check_keys
    )
    ctx = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 22, 2, 0)
    )
    request = schedule.evaluate_tick(ctx).run_requests[0]
    publish = graph.get(dg.AssetKey(["warehouse", "published"]))
    instance = dg.DagsterInstance.from_config(str(Settings.load().dagster_home))
    print(json.dumps({
        "keys": keys,
        "checks": checks,
        "cron": schedule.cron_schedule,
        "tz": schedule.execution_timezone,
        "schedule_default": str(schedule.default_status),
        "sensor_default": str(sensor.default_status),
        "as_of_tag": request.tags.get("crm/as_of"),
        "publish_parents": sorted("/".join(k.path) for k in publish.parent_keys),
        "executor": job.executor_def.name,
        "max_runs": instance.get_concurrency_config().run_queue_config.max_concurrent_runs,
        "writer_limit": instance.get_concurrency_config().run_queue_config.tag_concurrency_limits,
        "retries": instance.run_retries_enabled,
        "coordinator": type(instance.run_coordinator).__name__,
    }))
    """
)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("defs_home")
    dagster_home = home / "state" / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_bytes((REPO_ROOT / "dagster.yaml").read_bytes())
    env = {**os.environ, "CRM_HOME": str(home), "CRM_PII_SALT": "test-salt"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ingest_dbt_and_publish_assets_are_wired(probe: dict) -> None:
    keys = set(probe["keys"])
    for entity in ("customers", "transactions", "contacts", "campaigns", "products"):
        assert f"raw/{entity}" in keys
    for mart in (
        "dim_customers",
        "fct_transactions",
        "fct_orders",
        "fct_contacts",
        "dim_products",
        "dim_campaigns",
    ):
        assert f"marts/{mart}" in keys
        assert f"marts/{mart}" in probe["publish_parents"]
    assert "staging/stg_landing__transactions" in keys
    assert "warehouse/published" in keys


def test_dbt_tests_are_asset_checks(probe: dict) -> None:
    assert "marts/fct_orders:unique_fct_orders_order_id" in probe["checks"]
    # the not-null columns of a model are one model-level test (tests/generic/not_null_columns.sql)
    assert "marts/fct_transactions:not_null_columns_fct_transactions" in probe["checks"]
    assert not [c for c in probe["checks"] if c.startswith("marts/fct_transactions:not_null_fct")]


def test_nightly_schedule_runs_at_two_in_business_time_zone(probe: dict) -> None:
    assert probe["cron"] == "0 2 * * *"
    assert probe["tz"] == "Asia/Seoul"
    assert probe["schedule_default"].endswith("RUNNING")
    # as_of is the business day that just ended.
    assert probe["as_of_tag"] == "2026-11-21"


def test_landing_sensor_is_off_by_default(probe: dict) -> None:
    assert probe["sensor_default"].endswith("STOPPED")


def test_one_writer_at_a_time(probe: dict) -> None:
    assert probe["executor"] == "in_process"
    assert probe["coordinator"] == "QueuedRunCoordinator"
    assert probe["max_runs"] == 1
    assert probe["writer_limit"] == [{"key": "crm/warehouse_writer", "limit": 1}]
    assert probe["retries"] is True


def test_dagster_cli_loads_the_definitions(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CRM_HOME": str(tmp_path),
        "CRM_PII_SALT": "test-salt",
        "DAGSTER_HOME": str(tmp_path),
    }
    (tmp_path / "dagster.yaml").write_bytes((REPO_ROOT / "dagster.yaml").read_bytes())
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
