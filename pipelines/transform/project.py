"""The dbt project as Dagster sees it; its manifest lives under $CRM_HOME/state/dbt."""

from __future__ import annotations

import os

from dagster_dbt import DbtProject

from pipelines.settings import DBT_PROJECT_DIR, Settings


def load_dbt_project(settings: Settings) -> DbtProject:
    """The DbtProject for one runtime home, with a manifest ready to load.

    `dagster dev` re-parses on every load (prepare_if_dev); elsewhere the manifest
    is parsed once when missing (`crm run` re-parses before every run).
    """
    os.environ.update(settings.dbt_env())
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR,
        target_path=settings.dbt_target_dir,
        profiles_dir=DBT_PROJECT_DIR,
    )
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project
