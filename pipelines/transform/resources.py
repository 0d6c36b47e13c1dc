"""The dbt CLI resource of the nightly job."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from typing import Any

from dagster_dbt import DbtCliResource
from packaging.version import Version


class CrmDbtCliResource(DbtCliResource):
    """``DbtCliResource`` without two start-up costs of every ``dbt.cli`` call.

    * The dbt version: dagster-dbt runs ``dbt --version`` in a subprocess (~5 s on the
      2-core machine). The executable is the dbt next to this interpreter
      (``DBT_EXECUTABLE``), so the installed dbt-core package has the same version.
    * A dbt adapter built in the Dagster process (~3 s: loads the project, profile and
      macros). dagster-dbt only needs it for ``fetch_row_counts()`` and
      ``fetch_column_metadata()``, which the job does not use; the dbt subprocess
      builds its own.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None
