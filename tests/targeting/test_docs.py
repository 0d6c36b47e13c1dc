"""docs/targeting.md documents exactly the columns the Python tables have."""

from __future__ import annotations

import re

import duckdb
import pytest

from pipelines.settings import REPO_ROOT
from pipelines.targeting.lists import LISTS_DDL, MEMBERS_DDL
from pipelines.targeting.results import RESULTS_COLUMNS

DOC = (REPO_ROOT / "docs" / "targeting.md").read_text(encoding="utf-8")


def _documented(heading: str) -> list[tuple[str, str]]:
    start = DOC.index(heading)
    following = DOC[start + len(heading) :]
    nxt = re.search(r"^#{2,3} ", following, re.M)
    section = following[: nxt.start()] if nxt else following
    return re.findall(r"^\| `([a-z_0-9]+)` \| ([a-z]+) \|", section, re.M)


def _actual(ddl: str, table: str) -> list[tuple[str, str]]:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(ddl)
    return [
        (name, typ.lower())
        for name, typ in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    ]


@pytest.mark.parametrize(
    ("heading", "ddl", "table"),
    [
        ("### marts.target_lists", LISTS_DDL, "target_lists"),
        ("### marts.target_list_members", MEMBERS_DDL, "target_list_members"),
    ],
)
def test_list_tables_documented(heading, ddl, table):
    assert _documented(heading) == _actual(ddl, table)


def test_campaign_results_documented():
    assert _documented("## Closed loop: marts.campaign_results") == RESULTS_COLUMNS
