"""The dbt project as Dagster sees it; its manifest lives under $CRM_HOME/state/dbt."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from dagster_dbt import DbtProject

from pipelines.settings import DBT_PROJECT_DIR, REPO_ROOT, SEEDS_DIR, Settings

# The dbt next to this interpreter, so runs work without the venv's bin/ on PATH.
_VENV_DBT = Path(sys.executable).with_name("dbt")
DBT_EXECUTABLE = str(_VENV_DBT) if _VENV_DBT.exists() else "dbt"


def load_dbt_project(settings: Settings) -> DbtProject:
    """The DbtProject for one runtime home, with a manifest ready to load.

    `dagster dev` re-parses on every load; elsewhere the manifest is parsed when missing
    (`crm run` re-parses before every run when the project changed).
    """
    os.environ.update(settings.dbt_env())
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        target_path=settings.dbt_target_dir,
        profiles_dir=DBT_PROJECT_DIR,
    )
    if project.preparer.using_dagster_dev() or not project.manifest_path.exists():
        from pipelines.resources import default_as_of

        parse_dbt_project(settings, default_as_of(settings))
    return project


def _fingerprint(settings: Settings, as_of: dt.date) -> str:
    """What the manifest depends on: project files, seeds, vars and the dbt version."""
    digest = hashlib.sha256(version("dbt-core").encode())
    digest.update(json.dumps(settings.dbt_vars(as_of), sort_keys=True).encode())
    digest.update(settings.pii_salt.encode())
    for root in (DBT_PROJECT_DIR, SEEDS_DIR):
        for path in sorted(root.rglob("*")):
            if path.is_file() and not {"target", "logs", "dbt_packages"} & set(path.parts):
                digest.update(str(path.relative_to(REPO_ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


class DbtParse:
    """A `dbt parse` running in the background; :meth:`wait` raises when it failed."""

    def __init__(self, proc: subprocess.Popen[str], stamp: Path, fingerprint: str):
        self.proc, self.stamp, self.fingerprint = proc, stamp, fingerprint

    def wait(self) -> None:
        stdout, stderr = self.proc.communicate()
        if self.proc.returncode != 0:
            sys.stderr.write(stdout + stderr)
            raise RuntimeError(f"dbt parse failed (exit {self.proc.returncode})")
        self.stamp.write_text(self.fingerprint)


def start_dbt_parse(settings: Settings, as_of: dt.date) -> DbtParse | None:
    """Start parsing the dbt project so Dagster loads a manifest that matches the code.

    Returns None (nothing to do) when nothing the manifest depends on has changed since
    the last parse; otherwise the running parse: the caller can do other work (imports)
    on the second core meanwhile, then :meth:`DbtParse.wait`.
    """
    fingerprint = _fingerprint(settings, as_of)
    stamp = settings.dbt_target_dir / "parse_fingerprint"
    manifest = settings.dbt_target_dir / "manifest.json"
    if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return None
    proc = subprocess.Popen(
        [
            DBT_EXECUTABLE,
            "parse",
            "--quiet",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(settings.dbt_target_dir),
            # the same --vars as the build, so the build's partial parse is a cache hit
            "--vars",
            json.dumps(settings.dbt_vars(as_of)),
        ],
        env=settings.dbt_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return DbtParse(proc, stamp, fingerprint)


def parse_dbt_project(settings: Settings, as_of: dt.date) -> None:
    """Parse the dbt project (skipped when nothing it depends on has changed)."""
    parse = start_dbt_parse(settings, as_of)
    if parse is not None:
        parse.wait()
