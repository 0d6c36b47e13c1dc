"""The dbt project as Dagster sees it, and the parses it needs.

* The **definitions manifest** tells Dagster which dbt assets and checks exist. It
  depends on the project's files and its steady vars, not on the home or the night,
  so it is parsed once per project version into a shared cache
  (:func:`pipelines.settings.dbt_manifest_cache_dir`), the way Dagster recommends
  preparing a manifest at deploy time (`crm prepare`, run by `make run` and `make dev`).
* The **build's parse state** (dbt's partial-parse cache in the dbt step's target dir)
  depends on the home too, since dbt re-parses everything when the profile's work DB
  path changes. It is parsed once per home and project version (:func:`start_build_parse`:
  by `crm prepare`, else in the background of the first `crm run`). The build reads
  as_of from the ``CRM_AS_OF`` env var at execution time, not from ``--vars``, so the
  state stays valid from one night to the next.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from pipelines.settings import (
    DBT_PROJECT_DIR,
    REPO_ROOT,
    SEEDS_DIR,
    Settings,
    dbt_manifest_cache_dir,
)

# The dbt next to this interpreter, so runs work without the venv's bin/ on PATH.
_VENV_DBT = Path(sys.executable).with_name("dbt")
DBT_EXECUTABLE = str(_VENV_DBT) if _VENV_DBT.exists() else "dbt"

# The op of the main dbt step: its target dir holds the night's partial-parse state.
DBT_BUILD_OP = "dbt_models"


@functools.cache
def _project_digest() -> str:
    """What every manifest depends on: the dbt versions and the project's files.

    Read once per process (a start-up asks for it several times); code changes reach a
    new process, which is what `crm run`, the schedule's runs and `dagster dev` reloads are.
    """
    digest = hashlib.sha256(f"{version('dbt-core')} {version('dbt-duckdb')}".encode())
    for root in (DBT_PROJECT_DIR, SEEDS_DIR):
        for path in sorted(root.rglob("*")):
            if path.is_file() and not {"target", "logs", "dbt_packages"} & set(path.parts):
                digest.update(str(path.relative_to(REPO_ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join([_project_digest(), *parts]).encode()).hexdigest()


def manifest_dir(settings: Settings) -> Path:
    """Cache entry of the definitions manifest for this project version and config."""
    shared_vars = json.dumps(settings.dbt_shared_vars(), sort_keys=True)
    return dbt_manifest_cache_dir() / _fingerprint(shared_vars)[:24]


def _parse_command(target: Path, dbt_vars: dict[str, Any]) -> list[str]:
    return [
        DBT_EXECUTABLE,
        "parse",
        "--quiet",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--vars",
        json.dumps(dbt_vars),
    ]


class DbtParse:
    """A `dbt parse` running in the background into a private ``staging`` directory.

    :meth:`wait` raises when it failed, else calls ``on_success`` (which moves the
    result into place), so a killed or failed parse never leaves half-written state.
    """

    def __init__(
        self, settings: Settings, staging: Path, dbt_vars: dict[str, Any], on_success: Callable
    ):
        self.on_success = on_success
        self.proc = subprocess.Popen(
            _parse_command(staging, dbt_vars),
            env=settings.dbt_env() | {"DBT_LOG_PATH": str(staging)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait(self) -> None:
        stdout, stderr = self.proc.communicate()
        if self.proc.returncode != 0:
            sys.stderr.write(stdout + stderr)
            raise RuntimeError(f"dbt parse failed (exit {self.proc.returncode})")
        self.on_success()


def _staging_dir(final: Path, tag: str) -> Path:
    staging = final.with_name(f"{final.name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    return staging


def start_manifest_prepare(settings: Settings) -> DbtParse | None:
    """Parse the definitions manifest into the cache unless it is there already.

    The parse writes into a private directory that is renamed into place when done,
    so concurrent runs (or test workers) never read a half-written manifest.
    """
    final = manifest_dir(settings)
    if (final / "manifest.json").exists():
        return None
    staging = _staging_dir(final, "tmp")

    def publish() -> None:
        try:
            os.replace(staging, final)
        except OSError:  # another process published the same entry first
            shutil.rmtree(staging, ignore_errors=True)

    return DbtParse(settings, staging, settings.dbt_shared_vars(), publish)


def prepare_manifest(settings: Settings) -> Path:
    """The definitions manifest's directory, parsed first when missing."""
    parse = start_manifest_prepare(settings)
    if parse is not None:
        parse.wait()
    return manifest_dir(settings)


def load_dbt_project(settings: Settings) -> DbtProject:
    """The DbtProject Dagster loads, with its manifest prepared."""
    os.environ.update(settings.dbt_env())
    return DbtProject(
        project_dir=DBT_PROJECT_DIR,
        target_path=prepare_manifest(settings),
        profiles_dir=DBT_PROJECT_DIR,
    )


# ---- the build's parse state -------------------------------------------------------
def build_target_dir(settings: Settings, op_name: str) -> Path:
    """A fixed target dir per dbt step, so its partial-parse state carries over."""
    return settings.dbt_target_dir / op_name


_PENDING: dict[Path, DbtParse] = {}


def _build_fingerprint(settings: Settings) -> str:
    """What the build's parse state depends on: the project, the steady vars and the
    profile (dbt re-parses everything when its connection info, the work DB path, changes).
    Not as_of, which the build reads from ``CRM_AS_OF`` at execution time."""
    shared_vars = json.dumps(settings.dbt_shared_vars(), sort_keys=True)
    return _fingerprint(shared_vars, str(settings.work_db_path))


def start_build_parse(settings: Settings, op_name: str = DBT_BUILD_OP) -> DbtParse | None:
    """Parse into the dbt build's target dir in the background, unless its state is current.

    The build passes the steady ``--vars`` only (as_of travels in ``CRM_AS_OF``), so the
    state stays valid night after night: a home parses once (`crm prepare`, or in the
    background of its first `crm run`), not every night (~13 s of CPU on 2 cores).
    The dbt step calls :func:`wait_for_build_parse` before it starts dbt.
    """
    target = build_target_dir(settings, op_name)
    if target in _PENDING:  # `crm run` started it; the dbt step asks again
        return _PENDING[target]
    fingerprint = _build_fingerprint(settings)
    stamp = target / "parse_fingerprint"
    state = target / "partial_parse.msgpack"
    if state.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return None
    target.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for leftover in target.parent.glob(f"{target.name}.parse-*"):  # of killed runs
        shutil.rmtree(leftover, ignore_errors=True)
    # Parsed beside the target and moved in when done: a killed parse never leaves a
    # half-written state for the build (which then simply parses itself).
    staging = _staging_dir(target, "parse")

    def install() -> None:
        os.replace(staging / state.name, state)
        stamp.write_text(fingerprint)
        shutil.rmtree(staging, ignore_errors=True)

    parse = DbtParse(settings, staging, settings.dbt_shared_vars(), install)
    _PENDING[target] = parse
    return parse


def wait_for_build_parse(target: Path) -> None:
    """Block until a background parse into ``target`` (if any) has finished."""
    parse = _PENDING.pop(target, None)
    if parse is not None:
        parse.wait()
