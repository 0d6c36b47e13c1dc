"""Publishing patches the previous publication's big keyed tables: the result equals a full
copy of the build database, and the exports stay reproducible."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from pipelines.publish.assets import publish_parts
from pipelines.publish.publisher import PublishedTable, export_parquet, publish
from pipelines.settings import Settings
from tests.quality.helpers import make_home

AS_OF = dt.date(2026, 7, 1)
CONFIG = {
    "exports": {
        "published_schemas": ["marts", "extra"],
        "patch_min_rows": 100,
        "sort_keys": {"facts": ["source", "line_id"], "wide": ["id"]},
    }
}


def _home(tmp_path: Path, name: str) -> Settings:
    settings = make_home(tmp_path / name, CONFIG)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _work(settings: Settings, *sql: str) -> None:
    con = duckdb.connect(str(settings.work_db_path))
    try:
        for statement in sql:
            con.execute(statement)
    finally:
        con.close()


FIRST_NIGHT = (
    "create schema marts",
    "create schema extra",
    "create schema raw",
    "create table raw.people as select 'secret@example.com' as email",
    # 1,000 facts under a two-column key, shuffled so that storage order is not key order
    "create table marts.facts as select case when i % 2 = 0 then 'pos' else 'web' end as "
    "source, i as line_id, (i * 37) % 101 as amount, 'note ' || i as note "
    "from range(1000) t(i) order by hash(i)",
    "create table marts.wide as select i as id, i * 2 as v from range(200) t(i)",
    "create table marts.summary as select 'total' as what, 42 as n",
    "create table extra.notes as select 1 as n",
)
SECOND_NIGHT = (
    "update marts.facts set amount = amount + 1 where line_id % 50 = 0",  # 20 changed
    "delete from marts.facts where line_id between 990 and 994",  # 5 gone
    "insert into marts.facts select 'app', i, 7, null from range(3) t(i)",  # 3 new
    "update marts.facts set note = null where line_id = 3",  # a value becomes null
    "update marts.wide set v = v + 1",  # every row: copied, not patched
    "update marts.summary set n = 43",
    "drop table extra.notes",
)


def _published(settings: Settings) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema <> 'meta' order by 1"
        ).fetchall()
        return {t: con.execute(f"select * from {t} order by all").fetchall() for (t,) in tables}
    finally:
        con.close()


def _by_name(tables: list[PublishedTable]) -> dict[str, PublishedTable]:
    return {f"{t.schema}.{t.name}": t for t in tables}


def test_a_patched_publication_equals_a_full_copy(tmp_path: Path) -> None:
    nightly, fresh = _home(tmp_path, "nightly"), _home(tmp_path, "fresh")
    for home in (nightly, fresh):
        _work(home, *FIRST_NIGHT)
    first = _by_name(publish(nightly, "run-1", AS_OF))
    assert not any(t.patched for t in first.values())  # nothing to patch yet

    for home in (nightly, fresh):
        _work(home, *SECOND_NIGHT)
    second = _by_name(publish(nightly, "run-2", AS_OF))
    full = _by_name(publish(fresh, "run-2", AS_OF, full_refresh=True))

    # 20 changed + 5 gone + 3 new + 1 with a new null (line 3 is not a multiple of 50)
    assert second["marts.facts"].patched and second["marts.facts"].changed_keys == 29
    assert not second["marts.wide"].patched  # 200 of 200 rows changed: copied again
    assert not second["marts.summary"].patched  # no key, below patch_min_rows
    assert not any(t.patched for t in full.values())
    assert "extra.notes" not in second

    got, want = _published(nightly), _published(fresh)
    assert got == want
    assert "extra.notes" not in got and "raw.people" not in got
    # independent of the patch's hashing: the published facts minus the build's, both ways
    con = duckdb.connect(str(nightly.warehouse_path), read_only=True)
    try:
        con.execute(f"attach '{nightly.work_db_path}' as work (read_only)")
        assert con.execute(
            "select count(*) from (select * from marts.facts except all "
            "select * from work.marts.facts)"
        ).fetchone() == (0,)
        assert con.execute(
            "select count(*) from (select * from work.marts.facts except all "
            "select * from marts.facts)"
        ).fetchone() == (0,)
    finally:
        con.close()


def test_exports_are_reproducible_night_after_night(tmp_path: Path) -> None:
    one, two = _home(tmp_path, "one"), _home(tmp_path, "two")
    exported = []
    for home in (one, two):  # two homes with the same inputs, night after night
        _work(home, *FIRST_NIGHT)
        export_parquet(home, publish(home, "run-1", AS_OF))
        _work(home, *SECOND_NIGHT)
        tables = publish(home, "run-2", AS_OF)
        assert _by_name(tables)["marts.facts"].patched
        exports = export_parquet(home, tables)
        exported.append({p.name: p.read_bytes() for p in sorted(exports.rglob("*.parquet"))})
        # a night without changes patches nothing and keeps the same bytes
        again = publish(home, "run-3", AS_OF)
        assert _by_name(again)["marts.facts"].changed_keys == 0
        exports = export_parquet(home, again)
        assert {p.name: p.read_bytes() for p in sorted(exports.rglob("*.parquet"))} == (
            exported[-1]
        )
    assert exported[0] == exported[1] and "facts.parquet" in exported[0]


def _inode(exports: Path, table: str) -> int:
    return (exports / "marts" / f"{table}.parquet").stat().st_ino


def test_an_unchanged_patched_table_keeps_its_export_file(tmp_path: Path) -> None:
    home = _home(tmp_path, "home")
    _work(home, *FIRST_NIGHT)
    export_parquet(home, publish(home, "run-1", AS_OF))
    _work(home, *SECOND_NIGHT)
    exports = export_parquet(home, publish(home, "run-2", AS_OF))
    facts, wide = _inode(exports, "facts"), _inode(exports, "wide")
    data = (exports / "marts" / "facts.parquet").read_bytes()

    _work(home, "update marts.wide set v = v + 1")  # facts unchanged, wide copied again
    tables = _by_name(publish(home, "run-3", AS_OF))
    assert tables["marts.facts"].unchanged_since == "run-2"
    assert tables["marts.wide"].unchanged_since is None
    exports = export_parquet(home, list(tables.values()))
    assert _inode(exports, "facts") == facts  # the same file, linked
    assert _inode(exports, "wide") != wide
    manifest = json.loads((exports / "_manifest.json").read_text())
    assert manifest["run_id"] == "run-3"
    assert manifest["tables"]["marts.facts"] == {"rows": 998, "reused": True}
    assert manifest["tables"]["marts.wide"]["reused"] is False
    # what a fresh write gives: the same bytes
    assert (exports / "marts" / "facts.parquet").read_bytes() == data
    con = duckdb.connect()
    try:
        written = tmp_path / "facts.parquet"
        con.execute(f"attach '{home.warehouse_path}' as w (read_only)")
        con.execute("set preserve_insertion_order = true")
        con.execute(
            f"copy (select * from w.marts.facts) to '{written}' (format parquet, compression zstd)"
        )
        assert written.read_bytes() == data
    finally:
        con.close()


def test_exports_of_another_publication_are_written_again(tmp_path: Path) -> None:
    """Exports that did not come from the publication the patch started from (a run that
    failed between publishing and exporting) are no template: every file is written."""
    home = _home(tmp_path, "home")
    _work(home, *FIRST_NIGHT)
    exports = export_parquet(home, publish(home, "run-1", AS_OF))
    facts = _inode(exports, "facts")
    publish(home, "run-2", AS_OF)  # its exports were never written
    tables = publish(home, "run-3", AS_OF)
    assert _by_name(tables)["marts.facts"].unchanged_since == "run-2"
    exports = export_parquet(home, tables)
    assert _inode(exports, "facts") != facts
    assert json.loads((exports / "_manifest.json").read_text())["tables"]["marts.facts"] == {
        "rows": 1000,
        "reused": False,
    }


def test_a_table_unchanged_last_night_is_compared_whole_first(tmp_path: Path) -> None:
    """A table the previous patch found unchanged is compared by a whole-table checksum
    before any keyed diff; a change after such a night is still found and patched."""
    home = _home(tmp_path, "home")
    _work(home, *FIRST_NIGHT)
    publish(home, "run-1", AS_OF)
    _work(home, *SECOND_NIGHT)
    second = _by_name(publish(home, "run-2", AS_OF))
    assert second["marts.facts"].changed_keys == 29 and not second["marts.facts"].checksum_matched
    third = _by_name(publish(home, "run-3", AS_OF))  # diffed: it changed the night before
    assert third["marts.facts"].changed_keys == 0 and not third["marts.facts"].checksum_matched
    fourth = _by_name(publish(home, "run-4", AS_OF))
    assert fourth["marts.facts"].checksum_matched and fourth["marts.facts"].changed_keys == 0
    assert fourth["marts.facts"].unchanged_since == "run-3"
    assert fourth["marts.wide"].checksum_matched  # copied on run-2, unchanged since run-3

    # one value swapped between two rows: row count and the set of keys stay the same
    _work(
        home,
        "update marts.facts set amount = case line_id when 10 then 999 else 998 end "
        "where line_id in (10, 11)",
    )
    fifth = _by_name(publish(home, "run-5", AS_OF))
    assert not fifth["marts.facts"].checksum_matched
    assert fifth["marts.facts"].patched and fifth["marts.facts"].changed_keys == 2
    fresh = _home(tmp_path, "fresh")
    _work(fresh, *FIRST_NIGHT, *SECOND_NIGHT)
    _work(
        fresh,
        "update marts.facts set amount = case line_id when 10 then 999 else 998 end "
        "where line_id in (10, 11)",
    )
    publish(fresh, "run-5", AS_OF, full_refresh=True)
    assert _published(home) == _published(fresh)
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        unchanged = con.execute("select unchanged_tables from meta.publication").fetchone()[0]
    finally:
        con.close()
    assert "marts.facts" not in json.loads(unchanged)  # diffed again the next night


@pytest.mark.parametrize("change", ["alter table marts.facts add column extra integer"])
def test_a_table_whose_columns_changed_is_copied(tmp_path: Path, change: str) -> None:
    home = _home(tmp_path, "home")
    _work(home, *FIRST_NIGHT)
    publish(home, "run-1", AS_OF)
    _work(home, change)
    tables = _by_name(publish(home, "run-2", AS_OF))
    assert not tables["marts.facts"].patched
    assert "extra" in [c for c, *_ in _columns(home, "facts")]


def _columns(settings: Settings, table: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(f"describe marts.{table}").fetchall()
    finally:
        con.close()


def _free_blocks(settings: Settings) -> int:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return int(con.execute("pragma database_size").fetchone()[5])
    finally:
        con.close()


def test_without_a_table_to_patch_the_file_is_written_fresh(tmp_path: Path) -> None:
    home = make_home(
        tmp_path / "small", {"exports": {**CONFIG["exports"], "patch_min_rows": 10**9}}
    )
    home.state_dir.mkdir(parents=True, exist_ok=True)
    _work(home, *FIRST_NIGHT)
    publish(home, "run-1", AS_OF)
    _work(home, *SECOND_NIGHT)
    assert not any(t.patched for t in publish(home, "run-2", AS_OF))
    # a copy of the last file with every table replaced would carry its old blocks as free
    assert _free_blocks(home) == 0


def test_publish_parts_add_up_to_the_measured_publish(tmp_path: Path) -> None:
    """Each table's seconds are measured around its own patch or copy; the rest of publish
    (file copy, checkpoint, swap) is what the tables do not account for."""
    import time

    home = _home(tmp_path, "home")
    _work(home, *FIRST_NIGHT)
    publish(home, "run-1", AS_OF)
    _work(home, *SECOND_NIGHT)
    started = time.monotonic()
    tables = publish(home, "run-2", AS_OF)
    wall = time.monotonic() - started
    assert all(t.seconds > 0 for t in tables)
    parts = publish_parts(tables, wall, 0.75)
    assert parts["patch"] == round(sum(t.seconds for t in tables if t.patched), 2) > 0
    assert parts["copy"] == round(sum(t.seconds for t in tables if not t.patched), 2) > 0
    assert parts["file"] > 0 and parts["exports"] == 0.75
    assert abs(parts["patch"] + parts["copy"] + parts["file"] - wall) < 0.02


MONTHLY = {
    "exports": {
        **CONFIG["exports"],
        "sort_keys": {"events": ["event_id"]},
        "monthly_partitions": {"events": "day"},
    }
}
EVENTS = (
    "create schema if not exists marts",
    # 600 events over January to March 2026 (and 4 without a day), shuffled
    "create table marts.events as select i as event_id, "
    "case when i < 4 then null else date '2026-01-01' + (i % 90)::int end as day, "
    "(i * 13) % 97 as amount from range(600) t(i) order by hash(i)",
)
# 15 amounts change in February (event_id 35..55, 125..145, 215..235 by 5); one March event
# is deleted (60: 2026-03-02); 3 events arrive in a new month (April)
EVENTS_NIGHT_TWO = (
    "update marts.events set amount = amount + 1 "
    "where day between date '2026-02-01' and date '2026-02-28' and event_id % 5 = 0 "
    "and event_id < 260",
    "delete from marts.events where event_id = 60",
    "insert into marts.events select 1000 + i, date '2026-04-02', 1 from range(3) t(i)",
)


def _month_files(exports: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((exports / "marts" / "events").glob("*.parquet"))}


def test_monthly_partitions_rewrite_only_the_months_a_patch_touched(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", MONTHLY)
    home.state_dir.mkdir(parents=True, exist_ok=True)
    _work(home, *EVENTS)
    exports = export_parquet(home, publish(home, "run-1", AS_OF))
    first = _month_files(exports)
    assert list(first) == ["2026-01", "2026-02", "2026-03", "none"]
    inodes = {month: path.stat().st_ino for month, path in first.items()}
    data = {month: path.read_bytes() for month, path in first.items()}

    _work(home, *EVENTS_NIGHT_TWO)
    tables = publish(home, "run-2", AS_OF)
    events = _by_name(tables)["marts.events"]
    assert events.patched and events.changed_keys == 19 and events.patched_from == "run-1"
    assert events.changed_months == ("2026-02", "2026-03", "2026-04")
    exports = export_parquet(home, tables)
    second = _month_files(exports)
    assert list(second) == ["2026-01", "2026-02", "2026-03", "2026-04", "none"]
    for month in ("2026-01", "none"):  # untouched: the same file
        assert second[month].stat().st_ino == inodes[month], month
        assert second[month].read_bytes() == data[month]
    assert all(second[m].stat().st_ino != inodes[m] for m in ("2026-02", "2026-03"))
    manifest = json.loads((exports / "_manifest.json").read_text())["tables"]["marts.events"]
    assert manifest["month_column"] == "day" and manifest["rows"] == 602
    assert {m: f["reused"] for m, f in manifest["months"].items()} == {
        "2026-01": True,
        "2026-02": False,
        "2026-03": False,
        "2026-04": False,
        "none": True,
    }
    assert sum(f["rows"] for f in manifest["months"].values()) == 602
    # exports written from another publication are no template: every month is written
    publish(home, "run-3", AS_OF)
    exports = export_parquet(home, publish(home, "run-4", AS_OF))
    months = json.loads((exports / "_manifest.json").read_text())["tables"]["marts.events"]
    assert not any(f["reused"] for f in months["months"].values())
    # nor are month files split by another column
    manifest = json.loads((exports / "_manifest.json").read_text())
    manifest["tables"]["marts.events"]["month_column"] = "other_day"
    (exports / "_manifest.json").write_text(json.dumps(manifest))
    exports = export_parquet(home, publish(home, "run-5", AS_OF))
    months = json.loads((exports / "_manifest.json").read_text())["tables"]["marts.events"]
    assert not any(f["reused"] for f in months["months"].values())
    exports = export_parquet(home, publish(home, "run-6", AS_OF))  # unchanged: all kept
    months = json.loads((exports / "_manifest.json").read_text())["tables"]["marts.events"]
    assert all(f["reused"] for f in months["months"].values())

    con = duckdb.connect()
    try:
        con.execute(f"attach '{home.warehouse_path}' as w (read_only)")
        con.execute(f"attach '{home.work_db_path}' as work (read_only)")
        files = f"read_parquet('{exports}/marts/events/*.parquet')"
        # the files together hold exactly the build's rows
        for a, b in ((files, "work.marts.events"), ("work.marts.events", files)):
            assert con.execute(
                f"select count(*) from (select * from {a} except all select * from {b})"
            ).fetchone() == (0,)
        # a reused file is what a fresh write of its month gives now
        con.execute("set preserve_insertion_order = true")
        written = tmp_path / "january.parquet"
        con.execute(
            f"copy (select * from w.marts.events where day >= date '2026-01-01' "
            f"and day < date '2026-02-01') to '{written}' (format parquet, compression zstd)"
        )
        assert written.read_bytes() == second["2026-01"].read_bytes()
    finally:
        con.close()
