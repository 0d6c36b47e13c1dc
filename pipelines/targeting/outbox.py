"""outbox/<as_of>/<list>.csv + manifest.json for campaign tools, written atomically.

Everything is written into a hidden temp directory beside the target, fsynced, checked
(rows, sha256, consent, no control member) and only then renamed to outbox/<as_of>.
Downstream tools pick up a directory once manifest.json is in it; a crash at any point
leaves either the previous complete directory or none, never a half-written file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.ingest.filehash import file_sha256
from pipelines.targeting.config import TargetingConfig
from pipelines.targeting.lists import LISTS_TABLE, MEMBERS_TABLE
from pipelines.targeting.sources import contact_points_sql

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class OutboxFile:
    list_name: str
    file: str
    campaign_id: str
    channel: str
    rows: int
    sha256: str
    columns: list[str]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_columns(
    cfg: TargetingConfig, channel: str, has_offer: bool, has_category: bool
) -> list[str]:
    cols = ["customer_key", *cfg.channels[channel].fields]
    if has_offer:
        cols.append("offer")
    if has_category:
        cols.append("category")
    return cols


def _write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        fh.flush()
        os.fsync(fh.fileno())


def read_outbox_file(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _same_content(folder: Path, files: list[OutboxFile]) -> bool:
    """True when folder holds a manifest listing exactly these files with these hashes."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return False
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    existing = {(f["file"], f["campaign_id"], f["rows"], f["sha256"]) for f in manifest["files"]}
    new = {(f.file, f.campaign_id, f.rows, f.sha256) for f in files}
    return existing == new and all(
        (folder / f.file).is_file() and file_sha256(folder / f.file) == f.sha256 for f in files
    )


def write_outbox(
    con: duckdb.DuckDBPyConnection,
    cfg: TargetingConfig,
    outbox_dir: Path,
    as_of: dt.date,
    run_id: str,
    *,
    after_file: Callable[[Path], None] | None = None,
) -> Path:
    """Write the treated members of ``as_of``'s list runs; returns outbox/<as_of>.

    When outbox/<as_of> already holds exactly the same files (a rerun on the same inputs)
    it is left untouched, manifest and run id included. ``after_file`` is called after
    each file is written (fault-injection point for tests).
    """
    outbox_dir.mkdir(parents=True, exist_ok=True)
    final = outbox_dir / as_of.isoformat()
    for leftover in outbox_dir.glob(f".{as_of.isoformat()}.*"):
        shutil.rmtree(leftover, ignore_errors=True)
    building = outbox_dir / f".{as_of.isoformat()}.building-{run_id}"
    building.mkdir(parents=True)

    cp_sql, cp_source = contact_points_sql(con, cfg)
    con.execute(f"create or replace temp table tl_outbox_cp as {cp_sql}")
    runs = con.execute(
        f"select list_name, campaign_id, channel, offer, strategy from {LISTS_TABLE} "
        "where as_of = ? order by priority, list_name",
        [as_of],
    ).fetchall()
    lists_by_name = {t.name: t for t in cfg.lists}
    files: list[OutboxFile] = []
    for list_name, campaign_id, channel, offer, _strategy in runs:
        target = lists_by_name.get(list_name)
        has_category = bool(target and target.category)
        header = file_columns(cfg, channel, offer is not None, has_category)
        select = ", ".join(
            "m.customer_key"
            if c == "customer_key"
            else f"m.{c}"
            if c in ("offer", "category")
            else f"cp.{c}"
            for c in header
        )
        rows = con.execute(
            f"select {select} from {MEMBERS_TABLE} m "
            "left join tl_outbox_cp cp on cp.customer_key = m.customer_key "
            "where m.as_of = ? and m.list_name = ? and m.treatment_group = 'treated' "
            "order by m.rank",
            [as_of, list_name],
        ).fetchall()
        path = building / f"{list_name}.csv"
        _write_csv(path, header, rows)
        files.append(
            OutboxFile(
                list_name, path.name, campaign_id, channel, len(rows), file_sha256(path), header
            )
        )
        if after_file is not None:
            after_file(path)

    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "as_of": as_of.isoformat(),
        "run_id": run_id,
        "contact_points": cp_source,
        "files": [
            {
                "list": f.list_name,
                "file": f.file,
                "campaign_id": f.campaign_id,
                "channel": f.channel,
                "rows": f.rows,
                "sha256": f.sha256,
                "columns": f.columns,
            }
            for f in files
        ],
    }
    manifest_path = building / MANIFEST
    with manifest_path.open("w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    _fsync(building)

    # Verify the files as a campaign tool would read them, before anyone can see them.
    from pipelines.targeting.checks import verify_outbox_dir

    problems = verify_outbox_dir(con, cfg, building, as_of)
    if problems:
        shutil.rmtree(building, ignore_errors=True)
        raise RuntimeError("outbox verification failed: " + "; ".join(problems))

    if _same_content(final, files):
        # a rerun on the same inputs: keep the published directory (and its run id) so a
        # campaign tool does not see a new delivery
        shutil.rmtree(building, ignore_errors=True)
        return final
    previous = outbox_dir / f".{as_of.isoformat()}.previous-{run_id}"
    if final.exists():
        os.replace(final, previous)
    os.replace(building, final)
    _fsync(outbox_dir)
    shutil.rmtree(previous, ignore_errors=True)
    return final
