"""Helpers shared by the ingest and quality tests: tmp homes, direct loader calls,
and the real `crm` command line in a subprocess."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

from pipelines.ingest.loader import BatchResult, load_entity
from pipelines.quality.config import QualityConfig
from pipelines.settings import ENTITIES, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 3, 31)


def make_home(tmp_path: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """A runtime home under tmp_path, with crm.yml overrides deep-merged over the repo's."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    if overrides:
        (home / "crm.yml").write_text(yaml.safe_dump(overrides), encoding="utf-8")
    settings = Settings.load(home)
    for entity in ENTITIES:
        settings.landing_entity_dir(entity).mkdir(parents=True, exist_ok=True)
    return settings


def work_con(settings: Settings) -> duckdb.DuckDBPyConnection:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(settings.work_db_path))


def load(
    settings: Settings, entity: str, run_id: str = "run-1", as_of: dt.date = AS_OF
) -> list[BatchResult]:
    """Load the entity's landing files with the real loader, on the home's build DB."""
    con = work_con(settings)
    try:
        return load_entity(
            con, settings, entity, as_of, run_id, QualityConfig.from_settings(settings)
        )
    finally:
        con.close()


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.work_db_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# ---- the real command line ------------------------------------------------------
def crm_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CRM_PII_SALT"] = "test-salt"
    env.pop("CRM_TEST_PAUSE_AT", None)
    env.update(extra or {})
    return env


def crm_run(home: Path, as_of: dt.date = AS_OF, *, timeout: int = 900, env=None):
    """`crm run` as a real process; returns the CompletedProcess (stdout+stderr merged)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--home",
            str(home),
            "--as-of",
            as_of.isoformat(),
        ],
        cwd=REPO_ROOT,
        env=crm_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def crm_run_killed(
    home: Path,
    *,
    pause_at: str | None = None,
    kill_on: str | None = None,
    as_of: dt.date = AS_OF,
    timeout: float = 900,
) -> str:
    """Start `crm run`, SIGKILL its whole process group when a line containing
    ``kill_on`` appears (or when it pauses at ``pause_at``); return the output seen."""
    marker = f"[crm-test] paused at {pause_at}" if pause_at else kill_on
    assert marker
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--home",
            str(home),
            "--as-of",
            as_of.isoformat(),
        ],
        cwd=REPO_ROOT,
        env=crm_env({"CRM_TEST_PAUSE_AT": pause_at} if pause_at else None),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    killed = False
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        if time.monotonic() > deadline:
            break
    if not killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    output = "".join(seen)
    assert killed, f"never reached {marker!r}; output:\n{output[-5000:]}"
    assert proc.returncode == -signal.SIGKILL
    return output
