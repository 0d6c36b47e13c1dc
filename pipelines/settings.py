"""The one place that defines runtime paths and settings.

Everything the job reads at run time comes from two sources:

* ``CRM_HOME`` (env var, default ``./data``, or ``--home`` on the command line):
  the directory that holds all runtime data. Paths inside it are defined here
  and nowhere else.
* ``crm.yml`` at the repository root: analyst-readable configuration (time zone,
  currency, windows, thresholds, rates). A file ``$CRM_HOME/crm.yml`` or the file
  named by ``CRM_CONFIG`` is deep-merged over it, so a deployment can override
  single values without copying the whole file.

dbt reads the same values: :meth:`Settings.dbt_env` exports the work-database
path to the dbt subprocess (``profiles.yml`` reads ``CRM_WORK_DB``) and
:meth:`Settings.dbt_vars` passes the shared settings as ``--vars``.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = REPO_ROOT / "crm.yml"
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SEEDS_DIR = REPO_ROOT / "seeds"
# The as_of of dbt's nightly build (read by dbt_project/macros/dates.sql at execution time).
AS_OF_ENV = "CRM_AS_OF"


def dbt_manifest_cache_dir() -> Path:
    """Parsed dbt manifests that Dagster's definitions load, shared by every home.

    ``CRM_CACHE_DIR`` (default ``$XDG_CACHE_HOME/crm-warehouse`` or
    ``~/.cache/crm-warehouse``) + ``dbt``; entries are keyed by a fingerprint of the
    dbt project, so a changed project never loads a stale manifest.
    """
    explicit = os.environ.get("CRM_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(explicit or Path(xdg) / "crm-warehouse") / "dbt"


ENTITIES: tuple[str, ...] = ("customers", "transactions", "contacts", "campaigns", "products")


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# libyaml's loader when available: crm.yml is read whenever a step asks for its settings.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Parsed config files by (path, mtime, size): an edited file is read again.
_YAML_CACHE: dict[tuple[str, int, int], dict[str, Any]] = {}


def _read_yaml(path: Path) -> dict[str, Any]:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    cached = _YAML_CACHE.get(key)
    if cached is None:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_YAML_LOADER) or {}
        if not isinstance(data, dict):
            raise ValueError(
                f"{path}: expected a mapping at the top level, got {type(data).__name__}"
            )
        cached = _YAML_CACHE[key] = data
    return copy.deepcopy(cached)  # callers may change their copy


def load_config(home: Path) -> dict[str, Any]:
    """Repository defaults, then ``$CRM_HOME/crm.yml``, then ``$CRM_CONFIG``."""
    config = _read_yaml(DEFAULT_CONFIG_FILE)
    for override in (home / "crm.yml", os.environ.get("CRM_CONFIG")):
        if override and Path(override).is_file():
            config = _deep_merge(config, _read_yaml(Path(override)))
    return config


@dataclass(frozen=True)
class Settings:
    """Resolved paths and configuration for one runtime home."""

    home: Path
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(cls, home: str | Path | None = None) -> Settings:
        resolved = Path(home or os.environ.get("CRM_HOME") or "data").expanduser().resolve()
        return cls(home=resolved, config=load_config(resolved))

    # ---- paths -----------------------------------------------------------------
    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    def landing_entity_dir(self, entity: str) -> Path:
        return self.landing_dir / entity

    def landing_hashes_path(self, entity: str) -> Path:
        """Content hashes of the entity's landing files, kept between nights
        (pipelines/ingest/filehash.py)."""
        return self.state_dir / "landing_hashes" / f"{entity}.json"

    @property
    def rejected_dir(self) -> Path:
        return self.landing_dir / "_rejected"

    @property
    def warehouse_path(self) -> Path:
        """The published, read-only warehouse that analysts and BI tools open."""
        return self.home / "warehouse" / "crm.duckdb"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def work_db_path(self) -> Path:
        """The job's private build database (raw history, staging, marts)."""
        return self.state_dir / "work.duckdb"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def truth_dir(self) -> Path:
        """Ground truth the generator planted (for tests and quality reports only)."""
        return self.home / "truth"

    @property
    def dbt_target_dir(self) -> Path:
        return self.state_dir / "dbt" / "target"

    @property
    def dbt_log_dir(self) -> Path:
        return self.state_dir / "dbt" / "logs"

    @property
    def dagster_home(self) -> Path:
        return self.state_dir / "dagster"

    @property
    def run_summary_path(self) -> Path:
        return self.state_dir / "last_run_summary.json"

    def ensure_dirs(self) -> None:
        for path in (
            *(self.landing_entity_dir(e) for e in ENTITIES),
            self.rejected_dir,
            self.warehouse_path.parent,
            self.state_dir,
            self.outbox_dir,
            self.exports_dir,
            self.dbt_target_dir,
            self.dbt_log_dir,
            self.dagster_home,
        ):
            path.mkdir(parents=True, exist_ok=True)

    # ---- configuration ---------------------------------------------------------
    def section(self, name: str) -> dict[str, Any]:
        """One top-level block of ``crm.yml`` (empty dict when absent)."""
        value = self.config.get(name) or {}
        if not isinstance(value, dict):
            raise ValueError(f"crm.yml: section {name!r} must be a mapping")
        return value

    @property
    def business_time_zone(self) -> str:
        return str(self.config["business_time_zone"])

    @property
    def currency(self) -> str:
        return str(self.config["currency"])

    @cached_property
    def duckdb_settings(self) -> dict[str, Any]:
        """``SET`` options for every DuckDB connection the job opens."""
        wh = self.section("warehouse")
        return {
            "memory_limit": str(wh.get("memory_limit", "4GB")),
            "threads": int(wh.get("threads", 2)),
            "preserve_insertion_order": bool(wh.get("preserve_insertion_order", False)),
            "temp_directory": str(self.state_dir / "duckdb_tmp"),
        }

    @property
    def pii_salt(self) -> str:
        """Salt for hashing email/phone. Env ``CRM_PII_SALT`` wins over config.

        The repository never holds a salt: a missing one is generated once per
        home and kept in ``state/pii_salt`` so hashes stay stable across nights.
        """
        env = os.environ.get("CRM_PII_SALT")
        if env:
            return env
        configured = self.section("privacy").get("pii_salt")
        if configured:
            return str(configured)
        salt_file = self.state_dir / "pii_salt"
        if not salt_file.exists():
            import secrets

            salt_file.parent.mkdir(parents=True, exist_ok=True)
            salt_file.write_text(secrets.token_hex(32), encoding="utf-8")
        return salt_file.read_text(encoding="utf-8").strip()

    def dbt_env(self, as_of: dt.date | None = None) -> dict[str, str]:
        """Environment for the dbt subprocess (profiles.yml reads these; ``as_of`` goes in
        ``CRM_AS_OF``, which macros/dates.sql reads when no ``--vars`` as_of is given)."""
        env = dict(os.environ)
        if as_of is not None:
            env[AS_OF_ENV] = as_of.isoformat()
        env.update(
            CRM_HOME=str(self.home),
            CRM_WORK_DB=str(self.work_db_path),
            CRM_PII_SALT=self.pii_salt,
            DBT_TARGET_PATH=str(self.dbt_target_dir),
            DBT_LOG_PATH=str(self.dbt_log_dir),
            DBT_PROFILES_DIR=str(DBT_PROJECT_DIR),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DO_NOT_TRACK="1",
        )
        return env

    def dbt_vars(self, as_of: dt.date) -> dict[str, Any]:
        """Settings shared with dbt, as_of included, for dbt run by hand or by tests (the
        nightly build passes :meth:`dbt_shared_vars` and as_of in ``CRM_AS_OF``)."""
        return {"as_of": as_of.isoformat(), **self.dbt_shared_vars()}

    def dbt_shared_vars(self) -> dict[str, Any]:
        """The ``--vars`` that stay the same night after night (everything but as_of)."""
        return {"business_time_zone": self.business_time_zone, "currency": self.currency}


def today_in_business_tz(settings: Settings) -> dt.date:
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(settings.business_time_zone)).date()
