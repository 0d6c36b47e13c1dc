"""The model-level `not_null_columns` data test (dbt_project/tests/generic/not_null_columns.sql).

1. It fails on nulls and names the columns: a throwaway dbt project in tmp_path holds the
   project's generic test file unchanged and one tiny table with nulls in 2 of its 3
   columns; `dbt build --store-failures` runs it, and the reported failures and stored rows
   are compared with null counts computed here in Python from the same rows.
2. The real project uses it instead of per-column `not_null` tests: in the parsed
   manifest every listed column is documented for its model, no column is listed twice,
   and no plain per-column `not_null` is left (one with its own config may stay).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import Settings
from pipelines.transform.project import DBT_EXECUTABLE, prepare_manifest
from tests.conftest import REPO_ROOT

GENERIC_TEST = REPO_ROOT / "dbt_project" / "tests" / "generic" / "not_null_columns.sql"

# (id, city, amount): city null twice, amount null three times, id never.
ROWS = [
    (1, "Seoul", 10),
    (2, None, None),
    (3, "Busan", None),
    (4, None, 40),
    (5, "Suwon", None),
]
COLUMNS = ("id", "city", "amount")
WHERE = "id >= 3"

PROJECT_YML = """\
name: nn_probe
version: "1.0.0"
config-version: 2
profile: nn_probe
model-paths: ["models"]
test-paths: ["tests"]
"""

PROFILES_YML = """\
nn_probe:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{path}"
      threads: 1
"""

SCHEMA_YML = f"""\
version: 2
models:
  - name: people
    data_tests:
      - not_null_columns:
          name: nn_all
          arguments:
            columns: [id, city, amount]
      - not_null_columns:
          name: nn_filtered
          arguments:
            columns: [id, city, amount]
          config:
            where: "{WHERE}"
      - not_null_columns:
          name: nn_clean
          arguments:
            columns: [id]
"""


def _literal(value: object) -> str:
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


def _model_sql() -> str:
    casts = ("integer", "varchar", "integer")
    selects = [
        "select "
        + ", ".join(
            f"cast({_literal(v)} as {t}) as {c}"
            for v, t, c in zip(row, casts, COLUMNS, strict=True)
        )
        for row in ROWS
    ]
    return "\nunion all\n".join(selects) + "\n"


def _expected(rows: list[tuple]) -> dict[str, int]:
    counts = Counter(c for row in rows for c, v in zip(COLUMNS, row, strict=True) if v is None)
    return dict(counts)


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("nn_probe")
    (root / "models").mkdir()
    (root / "tests" / "generic").mkdir(parents=True)
    shutil.copy(GENERIC_TEST, root / "tests" / "generic" / GENERIC_TEST.name)
    (root / "dbt_project.yml").write_text(PROJECT_YML)
    db = root / "probe.duckdb"
    (root / "profiles.yml").write_text(PROFILES_YML.format(path=db))
    (root / "models" / "people.sql").write_text(_model_sql())
    (root / "models" / "_people.yml").write_text(SCHEMA_YML)
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_LOG_PATH": str(root / "logs"),
    }
    proc = subprocess.run(
        [
            DBT_EXECUTABLE,
            "build",
            "--store-failures",
            "--project-dir",
            str(root),
            "--profiles-dir",
            str(root),
            "--target-path",
            str(root / "target"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    by_name = {r["unique_id"].split(".")[2]: r for r in results}
    # two tests fail, so the build exits 1; anything else is an error of the probe itself
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-2000:]
    return by_name, db


def _stored(db: Path, test_name: str) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        (schema,) = con.execute(
            "select table_schema from information_schema.tables where table_name = ?",
            [test_name],
        ).fetchone()
        rows = con.execute(
            f'select column_name, null_rows from "{schema}"."{test_name}"'
        ).fetchall()
    finally:
        con.close()
    return {name: int(n) for name, n in rows}


def test_fails_and_reports_the_null_columns_with_their_counts(probe_run) -> None:
    results, db = probe_run
    expected = _expected(ROWS)
    assert expected == {"city": 2, "amount": 3}
    assert results["nn_all"]["status"] == "fail"
    # failures = null cells, as per-column not_null tests would have added up
    assert results["nn_all"]["failures"] == sum(expected.values())
    assert _stored(db, "nn_all") == expected


def test_where_config_filters_the_model(probe_run) -> None:
    results, db = probe_run
    expected = _expected([row for row in ROWS if row[0] >= 3])
    assert expected == {"city": 1, "amount": 2}
    assert results["nn_filtered"]["status"] == "fail"
    assert results["nn_filtered"]["failures"] == sum(expected.values())
    assert _stored(db, "nn_filtered") == expected


def test_passes_when_the_columns_have_no_nulls(probe_run) -> None:
    results, _ = probe_run
    assert _expected(ROWS).get("id") is None
    assert results["nn_clean"]["status"] == "pass"
    assert results["nn_clean"]["failures"] == 0
    assert results["people"]["status"] == "success"


# ---- the real project -------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("nn_manifest")
    settings = Settings.load(home)
    settings.ensure_dirs()
    return json.loads((prepare_manifest(settings) / "manifest.json").read_text())


def _node(manifest: dict, unique_id: str) -> dict:
    """A model or seed; a disabled model (cohort_retention_weekly by default) keeps its tests."""
    if unique_id in manifest["nodes"]:
        return manifest["nodes"][unique_id]
    return manifest["disabled"][unique_id][0]


def _tests(manifest: dict, name: str) -> list[dict]:
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and (n.get("test_metadata") or {}).get("name") == name
    ]


def test_listed_columns_are_documented_and_listed_once(manifest: dict) -> None:
    tests = _tests(manifest, "not_null_columns")
    assert tests
    protected: Counter[tuple[str, str]] = Counter()
    for test in tests:
        node = _node(manifest, test["attached_node"])
        columns = test["test_metadata"]["kwargs"]["columns"]
        assert columns, test["name"]
        undocumented = set(columns) - set(node["columns"])
        assert not undocumented, f"{test['name']}: {sorted(undocumented)} not documented"
        protected.update((node["name"], c) for c in columns)
    assert [pair for pair, n in protected.items() if n > 1] == []
    # a per-column not_null on a column the model-level test already covers is a second scan
    for test in _tests(manifest, "not_null"):
        node = _node(manifest, test["attached_node"])
        assert (node["name"], test["column_name"]) not in protected, test["name"]


def test_no_plain_per_column_not_null_is_left(manifest: dict) -> None:
    """Per-column not_null stays only where it has its own config (where, severity, ...)."""
    defaults = {"where": None, "severity": "ERROR", "warn_if": "!= 0", "error_if": "!= 0"}
    plain = [
        t["name"]
        for t in _tests(manifest, "not_null")
        if all(str(t["config"].get(k)).upper() == str(v).upper() for k, v in defaults.items())
        and not t["config"].get("store_failures")
    ]
    assert plain == []


def test_model_level_test_names_follow_the_model(manifest: dict) -> None:
    """One `not_null_columns_<model>` per model: stable dbt test and Dagster check names."""
    for test in _tests(manifest, "not_null_columns"):
        model = _node(manifest, test["attached_node"])["name"]
        assert test["name"].startswith(f"not_null_columns_{model}"), test["name"]
