"""Shared helpers: run the real `crm` command line in a subprocess on a tmp home."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Keep the parsed-dbt-manifest cache of test runs out of the user's ~/.cache.

    Set before any test imports pipelines.definitions. Entries are content-addressed
    and renamed into place atomically, so xdist workers and later runs share them.
    """
    os.environ.setdefault(
        "CRM_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"crm-test-cache-{getpass.getuser()}")
    )


def crm(
    *args: str,
    home: Path,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: int = 900,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipelines.cli <args> --home <home>` as a real process."""
    full_env = {**os.environ, "CRM_HOME": str(home), "CRM_PII_SALT": "test-salt", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args, "--home", str(home)],
        cwd=REPO_ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"crm {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture
def crm_cli():
    return crm
