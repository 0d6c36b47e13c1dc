"""Fixtures for targeting unit tests: a tmp home with a synthetic build database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from pipelines.settings import Settings

AS_OF = dt.date(2026, 3, 31)


def make_settings(home: Path, targeting: dict | None = None) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    if targeting is not None:
        (home / "crm.yml").write_text(yaml.safe_dump({"targeting": targeting}), encoding="utf-8")
    settings = Settings.load(home)
    settings.ensure_dirs()
    return settings


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"
