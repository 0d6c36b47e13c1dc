"""The dbt manifest Dagster loads, the build's parse state, and the dbt resource."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from dagster_dbt import DbtCliResource
from packaging.version import Version

from pipelines.settings import DBT_PROJECT_DIR, Settings
from pipelines.transform.project import (
    DBT_EXECUTABLE,
    build_target_dir,
    manifest_dir,
    start_build_parse,
    wait_for_build_parse,
)
from pipelines.transform.resources import CrmDbtCliResource


def _home(root: Path, name: str, config: str = "") -> Settings:
    home = root / name
    home.mkdir()
    if config:
        (home / "crm.yml").write_text(config, encoding="utf-8")
    return Settings.load(home)


def test_manifest_cache_entry_is_shared_by_homes_and_follows_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_CACHE_DIR", str(tmp_path / "cache"))
    first, second = _home(tmp_path, "a"), _home(tmp_path, "b")
    assert manifest_dir(first) == manifest_dir(second)
    assert manifest_dir(first).parent == tmp_path / "cache" / "dbt"
    # a var dbt sees (currency) gives another manifest; the home path does not
    other = _home(tmp_path, "c", "currency: EUR\n")
    assert manifest_dir(other) != manifest_dir(first)


def test_dbt_resource_takes_the_version_from_the_installed_package() -> None:
    resource = CrmDbtCliResource(project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE)
    assert resource._cli_version == Version(version("dbt-core"))
    assert resource._initialize_dbt_core_adapter(["build"]) is None
    # The overrides only help while dagster-dbt still calls these by these names.
    assert "_cli_version" in vars(DbtCliResource)
    assert "_initialize_dbt_core_adapter" in vars(DbtCliResource)


def test_the_build_parse_runs_once_per_home(tmp_path: Path) -> None:
    """`crm run` starts it and the dbt step asks again: one parse, not two; once installed,
    the state is current and nothing parses (as_of is not part of it)."""
    settings = _home(tmp_path, "a")
    settings.ensure_dirs()
    first = start_build_parse(settings)
    assert first is not None
    assert start_build_parse(settings) is first  # the same parse, its staging dir kept
    target = build_target_dir(settings, "dbt_models")
    assert len(list(target.parent.glob("dbt_models.parse-*"))) == 1
    wait_for_build_parse(target)
    assert (target / "partial_parse.msgpack").exists()
    assert start_build_parse(settings) is None
