"""Load landing files into the build database.

One file is one batch, recognised by the SHA-256 of its content, and loaded at
most once (a copy under another name is logged as ``duplicate_file``). For each
new file:

1. read it as text (pipelines/ingest/reader.py); a file that cannot be loaded at
   all (empty, not UTF-8, truncated Parquet, missing a required column, ...) is
   moved to ``landing/_rejected/<entity>/`` with an ``.error.json`` report;
2. type and check every row in SQL (pipelines/ingest/rowchecks.py): problems
   get a reason code; lines that cannot be parsed are ``malformed_line``;
3. validate the rows about to be loaded with the entity's GX suite
   (pipelines/ingest/checks.py); rows it flags are quarantined too;
4. turn everything found into findings with the severity crm.yml gives each
   check. A blocking finding holds the file: nothing of it is loaded, it stays
   in landing/ and the night does not publish. Otherwise good rows go to
   ``raw.<entity>``, bad rows to ``quarantine.<entity>`` (original text, file,
   record number, reason code, message), and the batch to ``raw._batches``.

Step 4 runs in one transaction per file with the findings written to
``marts.data_quality_log``: a crash never leaves a file marked loaded without
its rows, nor rows without their ledger entry.

A GX validation has a fixed cost of ~0.5–1 s, so :func:`load_entity` does not run
it per file. It reads and row-checks the night's new files of an entity in load
order (steps 1–2), keeping each file's tables aside (``_f<slot>_*``) in a *group*
of at most ``quality.gx.chunk_rows`` rows; then validates the candidate rows of
all the group's files in one GX run (step 3, :func:`checks.validate_files`, which
splits every result back per file); then finishes the files one by one, in load
order, each in its own transaction (step 4) exactly as a file loaded alone. A
default night thus has one GX run per entity. Findings, quarantine rows, ledger
entries and batch ids stay per file and in file order.

Steps 1–2 need nothing of the build database, so (``ingest.read_ahead``) a thread of the
entity reads and row-checks the next files on an in-memory DuckDB of its own while the
loading thread finishes the ones before; each file's tables are handed over as Arrow
tables, read in place through temp views. Which files load, and in which order, is
still decided by the loading thread.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.ingest import contract as c
from pipelines.ingest.checks import GxInput, GxReport, skipped_report, validate_files
from pipelines.ingest.contract import CONTRACTS, EntityContract
from pipelines.ingest.filehash import file_sha256, hashed_files
from pipelines.ingest.reader import (
    ReadResult,
    RejectedFile,
    detect_format,
    quote_ident,
    read_file,
    sql_str,
)
from pipelines.ingest.rowchecks import IngestRules, build_checked_table
from pipelines.quality.config import QualityConfig
from pipelines.quality.faults import pause_point
from pipelines.quality.log import Finding, ensure_log, finding, mask_row, write_findings
from pipelines.settings import Settings
from pipelines.warehouse import cursor as warehouse_cursor
from pipelines.warehouse import scratch as scratch_db

__all__ = [
    "BatchResult",
    "IngestRules",
    "RejectedFile",
    "ensure_tables",
    "file_sha256",
    "load_entity",
    "load_file",
    "pending_files",
]

LEDGER_DDL = """
create schema if not exists raw;
create schema if not exists quarantine;
create table if not exists raw._batches (
    batch_id bigint primary key,
    entity varchar not null,
    file_name varchar not null,
    file_hash varchar not null,
    file_bytes bigint,
    file_format varchar,
    status varchar not null,           -- loaded | rejected | duplicate | held
    rows_in_file bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    amount_loaded decimal(38, 4),      -- transactions: sum of loaded line amounts
    message varchar,
    run_id varchar,
    as_of date,
    loaded_at timestamp
);
alter table raw._batches add column if not exists validation varchar;  -- GX summary (JSON)
"""
LEDGER_COLUMNS = (
    "batch_id, entity, file_name, file_hash, file_bytes, file_format, status, rows_in_file, "
    "rows_loaded, rows_quarantined, amount_loaded, message, run_id, as_of, loaded_at, validation"
)


@dataclass
class BatchResult:
    entity: str
    file_name: str
    file_hash: str
    status: str  # loaded | rejected | duplicate | held
    batch_id: int | None = None
    rows_in_file: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""
    reasons: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per step of the load

    def to_dict(self) -> dict:
        data = asdict(self)
        data["findings"] = [f.describe() for f in self.findings]
        return data


# ---------------------------------------------------------------------------------
# tables and files
# ---------------------------------------------------------------------------------
def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LEDGER_DDL)
    ensure_log(con)
    for contract in CONTRACTS.values():
        cols = ", ".join(
            f"{quote_ident(col.name)} {c.DUCKDB_TYPES[col.type]}" for col in contract.columns
        )
        con.execute(
            f"create table if not exists raw.{contract.entity} ("
            f"{cols}, _batch_id bigint not null, _row_number bigint not null)"
        )
        orig = ", ".join(f"{quote_ident(n)} varchar" for n in contract.names)
        con.execute(
            f"create table if not exists quarantine.{contract.entity} ("
            "_batch_id bigint not null, _file_name varchar not null, _row_number bigint not null, "
            f"reason_code varchar not null, reason_message varchar not null, {orig})"
        )
        # the unparsed text of a malformed line
        con.execute(
            f"alter table quarantine.{contract.entity} add column if not exists _raw_line varchar"
        )


def pending_files(settings: Settings, entity: str) -> list[Path]:
    """Landing files of an entity in load order (file name order; name later deliveries later)."""
    folder = settings.landing_entity_dir(entity)
    if not folder.exists():
        return []
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")),
        key=lambda p: str(p.relative_to(folder)),
    )


def _relative_name(settings: Settings, path: Path) -> str:
    try:
        return str(path.relative_to(settings.landing_dir))
    except ValueError:
        return str(path)


def _rejected_target(settings: Settings, entity: str, path: Path, file_hash: str) -> Path:
    return settings.rejected_dir / entity / f"{file_hash[:12]}__{path.name}"


def _write_report(settings: Settings, entity: str, path: Path, file_hash: str, exc: RejectedFile):
    target = _rejected_target(settings, entity, path, file_hash)
    target.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "file": _relative_name(settings, path),
        "entity": entity,
        "sha256": file_hash,
        "bytes": path.stat().st_size,
        "reason": exc.reason,
        "message": exc.message,
        "rejected_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    report_path = target.with_name(target.name + ".error.json")
    tmp = report_path.with_name(report_path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, report_path)
    return target


# Entities may load on parallel connections (load_entities): a ledger entry takes
# max(batch_id) + 1, so ledger transactions commit one at a time.
_LEDGER_LOCK = threading.Lock()


@contextmanager
def ledger_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction that writes ``raw._batches``, serialised across connections."""
    with _LEDGER_LOCK:
        con.execute("begin transaction")
        try:
            yield
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")


def _next_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select coalesce(max(batch_id), 0) + 1 from raw._batches").fetchone()
    return int(row[0]) if row else 1


def _ledger(con: duckdb.DuckDBPyConnection, **values: Any) -> int:
    batch_id = values.pop("batch_id", None) or _next_batch_id(con)
    columns = [col.strip() for col in LEDGER_COLUMNS.split(",")]
    row = {"batch_id": batch_id, "loaded_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
    row.update(values)
    con.execute(
        f"insert into raw._batches ({LEDGER_COLUMNS}) values ({', '.join('?' for _ in columns)})",
        [row.get(col) for col in columns],
    )
    return batch_id


# ---------------------------------------------------------------------------------
# one file, in two halves around its (shared) GX validation
# ---------------------------------------------------------------------------------
# A prepared file's tables, kept aside as _f<slot><name> until the file's turn.
PARKED_TABLES = ("_landing_read", "_malformed", "_checked")


@dataclass
class _Prepared:
    """A new file read and row-checked (or found unreadable), waiting for its turn."""

    path: Path
    result: BatchResult
    gx: bool  # in the run's GX file sample
    slot: int
    read: ReadResult | None = None
    rejected: RejectedFile | None = None
    landing_view: str = ""  # the SQL of its _landing view
    parked: tuple[str, ...] = PARKED_TABLES  # its tables renamed _f<slot>_*
    registered: tuple[str, ...] = ()  # its Arrow tables (text, checked rows), read ahead
    report: GxReport | None = None

    @property
    def rows(self) -> int:
        return self.read.records if self.read else 0

    @property
    def checked_table(self) -> str:
        return f"_f{self.slot}_checked"


def load_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entity: str,
    path: Path,
    rules: IngestRules,
    run_id: str,
    file_hash: str | None = None,
    quality: QualityConfig | None = None,
    gx: bool = True,
) -> BatchResult:
    """Load one file on its own, with a GX validation of its own."""
    quality = quality or QualityConfig.from_settings(settings)
    file_hash = file_hash or file_sha256(path)
    prepared = _prepare(con, settings, entity, path, file_hash, rules, gx, slot=0)
    _validate_group(con, CONTRACTS[entity], rules, quality, [prepared], run=1)
    return _finish_file(con, settings, quality, rules, run_id, prepared)


def _prepare(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entity: str,
    path: Path,
    file_hash: str,
    rules: IngestRules,
    gx: bool,
    slot: int,
) -> _Prepared:
    """Steps 1-2: read and row-check the file; park its tables under ``slot``."""
    prepared = _new_prepared(settings, entity, path, file_hash, gx, slot)
    try:
        prepared.read = _read_and_check(
            con, CONTRACTS[entity], path, rules, prepared.result.seconds
        )
    except RejectedFile as exc:
        prepared.rejected = exc  # rejected at its turn, in file order
        return prepared
    prepared.landing_view = _park(con, slot)
    return prepared


def _new_prepared(
    settings: Settings, entity: str, path: Path, file_hash: str, gx: bool, slot: int
) -> _Prepared:
    name = _relative_name(settings, path)
    result = BatchResult(entity=entity, file_name=name, file_hash=file_hash, status="loaded")
    return _Prepared(path, result, gx, slot)


def _read_and_check(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    path: Path,
    rules: IngestRules,
    seconds: dict[str, float],
) -> ReadResult:
    """Steps 1-2 on ``con``: temp tables ``_landing_read``, ``_malformed``, ``_checked``."""
    clock = _Clock(seconds)
    read = _read(con, contract, path)
    clock.lap("read")
    build_checked_table(con, contract, rules, set(read.columns))
    clock.lap("row_checks")
    return read


@dataclass
class _ReadAhead:
    """A file read and row-checked (steps 1-2) by :class:`_ReadAheadThread`."""

    path: Path
    read: ReadResult | None = None
    rejected: RejectedFile | None = None
    error: BaseException | None = None
    tables: dict[str, Any] = field(default_factory=dict)  # Arrow tables by parked name
    seconds: dict[str, float] = field(default_factory=dict)


class _ReadAheadThread:
    """Steps 1-2 of an entity's next files, on another thread and an in-memory DuckDB of
    its own (``ingest.read_ahead``), while the loading thread finishes the files before
    them. Files are read in load order; at most ``files`` of them wait, as Arrow tables,
    for :meth:`take`. The loading thread still decides which files load (``_triage``) and
    reads any other file itself, so batches, findings and rows are the same either way.

    Why: one file's DuckDB work seldom fills a core (files are small; many statements are
    planned per file), and the largest entity outlasts the others (10M lines: 268 s of
    transactions against 136 s for the rest), leaving a core idle. (A connection to the
    build database cannot see another one's temp tables, and copying a file's tables
    between connections costs as much as reading it: hence Arrow, read in place.)"""

    def __init__(
        self,
        settings: Settings,
        contract: EntityContract,
        rules: IngestRules,
        paths: list[Path],
        files: int,
        duckdb_options: dict[str, Any],
    ):
        self._settings, self._contract, self._rules = settings, contract, rules
        self._paths, self._wanted = paths, set(paths)
        self._options = duckdb_options
        self._queue: queue.Queue[_ReadAhead] = queue.Queue(maxsize=max(files, 1))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"read-ahead-{contract.entity}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            con = scratch_db(self._settings, **self._options)
        except BaseException as exc:  # every file then raises it in take()
            for path in self._paths:
                if not self._put(_ReadAhead(path, error=exc)):
                    return
            return
        try:
            for path in self._paths:
                if self._stop.is_set() or not self._put(self._read(con, path)):
                    return
        finally:
            con.close()

    def _read(self, con: duckdb.DuckDBPyConnection, path: Path) -> _ReadAhead:
        item = _ReadAhead(path)
        try:
            item.read = _read_and_check(con, self._contract, path, self._rules, item.seconds)
            clock = _Clock(item.seconds)
            item.tables = {
                "_landing_read": con.sql("select * from _landing").to_arrow_table(),
                "_malformed": con.sql("select * from _malformed").to_arrow_table(),
                "_checked": con.sql("select * from _checked").to_arrow_table(),
            }
            clock.lap("handover")
        except RejectedFile as exc:
            item.rejected = exc
        except BaseException as exc:  # raised by take(), in the loading thread
            item.error = exc
        return item

    def _put(self, item: _ReadAhead) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def take(self, path: Path) -> _ReadAhead | None:
        """The file read ahead, or None if it is not one this thread reads. Files read
        ahead before it that the loading thread did not take are dropped."""
        if path not in self._wanted:
            return None
        while True:
            item = self._queue.get()
            if item.path == path:
                if item.error is not None:
                    raise item.error
                return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
        self._thread.join()


def _adopt(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entity: str,
    file_hash: str,
    gx: bool,
    slot: int,
    item: _ReadAhead,
) -> _Prepared:
    """What :func:`_prepare` leaves for a file, from its read-ahead. The original text and
    the checked rows stay Arrow tables, registered on ``con`` until the file is finished
    and read through the views ``_landing`` and ``_checked`` (see
    :func:`_materialise_checked`); the malformed lines become a temp table."""
    prepared = _new_prepared(settings, entity, item.path, file_hash, gx, slot)
    prepared.read, prepared.rejected = item.read, item.rejected
    result = prepared.result
    result.seconds.update(item.seconds)
    if item.rejected is not None:
        return prepared
    started = time.monotonic()
    view = f"_f{slot}_malformed_arrow"
    con.register(view, item.tables["_malformed"])
    try:
        con.execute(f"create temp table _f{slot}_malformed as select * from {view}")
    finally:
        con.unregister(view)
    prepared.registered = (f"_f{slot}_landing_arrow", f"_f{slot}_checked_arrow")
    con.register(prepared.registered[0], item.tables["_landing_read"])
    con.register(prepared.registered[1], item.tables["_checked"])
    con.execute(f"create temp view _f{slot}_checked as select * from {prepared.registered[1]}")
    prepared.parked = ("_malformed",)
    prepared.landing_view = (
        f"create temp view _landing as select * from {prepared.registered[0]}; "
        f"create temp view _checked as select * from {prepared.registered[1]}"
    )
    result.seconds["handover"] = round(
        result.seconds.get("handover", 0.0) + time.monotonic() - started, 3
    )
    return prepared


def _park(con: duckdb.DuckDBPyConnection, slot: int) -> str:
    """Rename the file's tables out of the way of the next file; return its view's SQL."""
    row = con.execute(
        "select sql from duckdb_views() where view_name = '_landing' and temporary"
    ).fetchone()
    if not row:
        raise RuntimeError("the reader left no _landing view")
    con.execute("drop view _landing")
    for table in PARKED_TABLES:
        con.execute(f"alter table {table} rename to _f{slot}{table}")
    return str(row[0])


def _unpark(con: duckdb.DuckDBPyConnection, prepared: _Prepared) -> None:
    """Give a parked file's tables their working names back (``_checked``, ``_landing``...)."""
    _drop_working(con)
    for table in PARKED_TABLES:
        con.execute(f"drop table if exists {table}")
    for table in prepared.parked:
        con.execute(f"alter table _f{prepared.slot}{table} rename to {table}")
    con.execute(prepared.landing_view)


def _drop_parked(con: duckdb.DuckDBPyConnection, files: list[_Prepared]) -> None:
    for prepared in files:
        _release(con, prepared)
        for table in PARKED_TABLES:
            con.execute(f"drop table if exists _f{prepared.slot}{table}")


def _materialise_checked(con: duckdb.DuckDBPyConnection) -> None:
    """``_checked`` as a table that can be updated: a file read ahead has it as a view of
    its Arrow table until GX flags one of its rows (rare)."""
    if _temp_views(con, ("_checked",)):
        con.execute("create temp table _checked_rows as select * from _checked")
        con.execute("drop view _checked")
        con.execute("alter table _checked_rows rename to _checked")


def _temp_views(con: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` are temp views on ``con``."""
    placeholders = ", ".join("?" for _ in names)
    return [
        str(name)
        for (name,) in con.execute(
            "select view_name from duckdb_views() where temporary "
            f"and view_name in ({placeholders})",
            list(names),
        ).fetchall()
    ]


def _drop_working(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the working views (``_landing``, and ``_checked`` of a file read ahead)."""
    for name in _temp_views(con, ("_landing", "_checked")):
        con.execute(f"drop view {name}")


def _release(con: duckdb.DuckDBPyConnection, prepared: _Prepared) -> None:
    """Unregister a finished file's Arrow tables (read ahead)."""
    if prepared.registered:
        _drop_working(con)
        con.execute(f"drop view if exists _f{prepared.slot}_checked")
        for name in prepared.registered:
            con.unregister(name)
        prepared.registered = ()


def _validate_group(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    rules: IngestRules,
    quality: QualityConfig,
    files: list[_Prepared],
    run: int,
) -> None:
    """Step 3 for several files at once: one GX run over the candidate rows of the files
    in the GX file sample. Each file gets its own report."""
    sampled = [p for p in files if p.gx and p.read is not None]
    reports = validate_files(
        con, contract, rules, quality, [GxInput(p.checked_table) for p in sampled]
    )
    for prepared, report in zip(sampled, reports, strict=True):
        report.shared["run"] = run  # the same dict for every file of the run
        prepared.report = report


def _finish_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    quality: QualityConfig,
    rules: IngestRules,
    run_id: str,
    prepared: _Prepared,
) -> BatchResult:
    """Step 4: the file's GX outcome, findings, rows and ledger entry, in one transaction."""
    result = prepared.result
    if prepared.rejected is not None or prepared.read is None:
        assert prepared.rejected is not None
        return _reject(
            con, settings, quality, result, prepared.path, prepared.rejected, rules, run_id
        )
    contract = CONTRACTS[result.entity]
    read, path, name = prepared.read, prepared.path, result.file_name
    _unpark(con, prepared)
    clock = _Clock(result.seconds)
    report = prepared.report or skipped_report(con, contract)
    result.validation = report.summary()
    gx_findings = _apply_gx(con, contract, quality, report, name)
    clock.lap("gx")
    result.seconds["gx"] = round(result.seconds["gx"] + report.seconds, 3)  # + its share
    findings = [
        *_column_findings(contract, quality, read, name),
        *_row_findings(con, contract, quality, read, name),
        *gx_findings,
        *_redelivery_findings(con, contract, quality, name),
    ]
    counts = _reason_counts(con)
    clock.lap("findings")
    quarantined = sum(counts.values())
    result.rows_in_file = read.records
    result.reasons = counts
    blocking = [f for f in findings if f.blocking]
    extra = sorted(set(read.columns) - set(contract.names))
    notes = [f"unknown column(s) ignored: {', '.join(extra)}"] if extra else []
    ledger = {
        "entity": result.entity,
        "file_name": name,
        "file_hash": result.file_hash,
        "file_bytes": path.stat().st_size,
        "file_format": read.fmt,
        "rows_in_file": read.records,
        "run_id": run_id,
        "as_of": rules.as_of,
        "validation": json.dumps(result.validation),
    }
    with ledger_transaction(con):
        batch_id = _next_batch_id(con)
        for f in findings:
            f.batch_id = batch_id
        if blocking:
            result.status = "held"
            result.message = "held in landing/, not loaded: blocking check(s) failed: " + ", ".join(
                sorted({f.check for f in blocking})
            )
            _ledger(
                con,
                batch_id=batch_id,
                status="held",
                rows_loaded=0,
                rows_quarantined=0,
                message=result.message,
                **ledger,
            )
        else:
            loaded, amount = _insert_rows(con, contract, batch_id, name, set(read.columns))
            result.rows_loaded = loaded
            result.rows_quarantined = quarantined
            result.message = "; ".join(notes)
            _ledger(
                con,
                batch_id=batch_id,
                status="loaded",
                rows_loaded=loaded,
                rows_quarantined=quarantined,
                amount_loaded=amount,
                message=result.message,
                **ledger,
            )
        write_findings(con, run_id, rules.as_of, findings)
        clock.lap("insert")
        pause_point("ingest_commit")
    clock.lap("commit")
    result.batch_id = batch_id
    result.findings = findings
    return result


class _Clock:
    """Seconds per step of a load, collected into ``BatchResult.seconds``."""

    def __init__(self, into: dict[str, float]):
        self.into = into
        self.last = time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.into[step] = round(now - self.last, 3)
        self.last = now


def _read(con: duckdb.DuckDBPyConnection, contract: EntityContract, path: Path) -> ReadResult:
    fmt = detect_format(path)
    read = read_file(con, path, fmt)
    present = set(read.columns)
    missing = [col for col in contract.required if col not in present]
    if missing:
        raise RejectedFile(
            "missing_required_column",
            f"required column(s) missing: {', '.join(missing)}; the file has: "
            f"{', '.join(read.columns) or '(none)'}",
        )
    if read.records == 0:
        raise RejectedFile("no_data_rows", "the file has a header but no data rows")
    if read.rows == 0:
        first = con.execute(
            "select message from _malformed order by _row_number limit 1"
        ).fetchone()
        raise RejectedFile(
            "malformed_file",
            f"none of the {read.malformed} record(s) could be parsed; first: "
            f"{first[0] if first else '?'}",
        )
    return read


def _reject(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    quality: QualityConfig,
    result: BatchResult,
    path: Path,
    exc: RejectedFile,
    rules: IngestRules,
    run_id: str,
) -> BatchResult:
    """Report, ledger entry and log (committed), then move the file out of landing/."""
    target = _write_report(settings, result.entity, path, result.file_hash, exc)
    moved_to = str(target.relative_to(settings.home))
    result.status = "rejected"
    result.message = f"{exc.reason}: {exc.message} (moved to {moved_to})"
    result.reasons = {exc.reason: 1}
    found = finding(
        quality,
        "rejected_file",
        1,
        entity=result.entity,
        file_name=result.file_name,
        message=result.message,
        sample=[{"reason": exc.reason}],
    )
    with ledger_transaction(con):
        batch_id = _ledger(
            con,
            entity=result.entity,
            file_name=result.file_name,
            file_hash=result.file_hash,
            file_bytes=path.stat().st_size,
            status="rejected",
            rows_loaded=0,
            rows_quarantined=0,
            message=result.message,
            run_id=run_id,
            as_of=rules.as_of,
        )
        found.batch_id = batch_id
        write_findings(con, run_id, rules.as_of, [found])
    pause_point("ingest_reject")
    os.replace(path, target)
    result.batch_id = batch_id
    result.findings = [found]
    return result


def _finish_interrupted_reject(
    con: duckdb.DuckDBPyConnection, settings: Settings, entity: str, path: Path, file_hash: str
) -> BatchResult | None:
    """A crash between the ledger entry and the move: finish the move, log nothing new."""
    name = _relative_name(settings, path)
    target = _rejected_target(settings, entity, path, file_hash)
    if target.exists():
        return None  # an earlier rejection completed: this is a new delivery
    row = con.execute(
        "select batch_id, message from raw._batches where entity = ? and file_name = ? "
        "and file_hash = ? and status = 'rejected' order by batch_id desc limit 1",
        [entity, name, file_hash],
    ).fetchone()
    if not row:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return BatchResult(entity, name, file_hash, "rejected", batch_id=int(row[0]), message=row[1])


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    batch_id: int,
    name: str,
    present: set[str],
) -> tuple[int, Any]:
    entity = contract.entity
    names = contract.names
    typed = ", ".join(quote_ident("t_" + n) for n in names)
    orig = ", ".join(
        f"l.{quote_ident(n)}" if n in present else "cast(null as varchar)" for n in names
    )
    raw_cols = ", ".join(quote_ident(n) for n in names)
    q_cols = (
        f"_batch_id, _file_name, _row_number, reason_code, reason_message, {raw_cols}, _raw_line"
    )
    con.execute(
        f"insert into raw.{entity} ({raw_cols}, _batch_id, _row_number) "
        f"select {typed}, {batch_id}, _row_number from _checked "
        "where len(_all_problems) = 0"  # no sort: _row_number carries the order
    )
    con.execute(
        f"insert into quarantine.{entity} ({q_cols}) "
        f"select {batch_id}, {sql_str(name)}, c._row_number, "
        "split_part(c._all_problems[1], '|', 1), "
        "array_to_string(list_transform(c._all_problems, "
        "lambda x: substr(x, strpos(x, '|') + 1)), '; '), "
        f"{orig}, null from _checked c join _landing l on l._row_number = c._row_number "
        "where len(c._all_problems) > 0 order by c._row_number"
    )
    nulls = ", ".join("null" for _ in names)
    con.execute(
        f"insert into quarantine.{entity} ({q_cols}) "
        f"select {batch_id}, {sql_str(name)}, _row_number, 'malformed_line', message, "
        f"{nulls}, raw_line from _malformed order by _row_number"
    )
    amount_sql = "sum(t_amount)" if entity == "transactions" else "null"
    loaded, amount = con.execute(
        f"select count(*), {amount_sql} from _checked where len(_all_problems) = 0"
    ).fetchone()
    return int(loaded), amount


# ---------------------------------------------------------------------------------
# findings
# ---------------------------------------------------------------------------------
def _reason_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(
        "select code, count(*) from ("
        "select split_part(_all_problems[1], '|', 1) as code from _checked "
        "where len(_all_problems) > 0 "
        "union all select 'malformed_line' from _malformed) group by 1 order by 1"
    ).fetchall()
    return {str(code): int(n) for code, n in rows}


def _column_findings(
    contract: EntityContract, quality: QualityConfig, read: ReadResult, name: str
) -> list[Finding]:
    extra = sorted(set(read.columns) - set(contract.names))
    if not extra:
        return []
    return [
        finding(
            quality,
            "unknown_column",
            len(extra),
            entity=contract.entity,
            file_name=name,
            checked=len(read.columns),
            message=f"column(s) outside the {contract.entity} contract were not loaded: "
            + ", ".join(extra),
            sample=[{"column": col} for col in extra[: quality.log_sample_size]],
        )
    ]


def _row_findings(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    quality: QualityConfig,
    read: ReadResult,
    name: str,
) -> list[Finding]:
    """One finding per quarantine reason code, plus the quarantine rate."""
    n = quality.log_sample_size
    rows = con.execute(
        f"""
        with bad as (
            select _row_number, split_part(_all_problems[1], '|', 1) as code,
                   array_to_string(list_transform(_all_problems,
                       lambda x: substr(x, strpos(x, '|') + 1)), '; ') as message
            from _checked where len(_all_problems) > 0
            union all
            select _row_number, 'malformed_line', message from _malformed
        ),
        ranked as (
            select *, row_number() over (partition by code order by _row_number) as k,
                   count(*) over (partition by code) as n
            from bad
        )
        select code, n, list({{'row': _row_number, 'message': message}} order by _row_number)
        from ranked where k <= {n} group by code, n order by code
        """
    ).fetchall()
    findings = [
        finding(
            quality,
            code,
            count,
            entity=contract.entity,
            file_name=name,
            checked=read.records,
            message=f"{count} of {read.records} record(s) quarantined in quarantine."
            f"{contract.entity}",
            sample=list(sample),
        )
        for code, count, sample in rows
    ]
    quarantined = sum(f.count for f in findings)
    share = quarantined / read.records if read.records else 0.0
    if share > quality.max_quarantine_share:
        findings.append(
            finding(
                quality,
                "quarantine_rate",
                quarantined,
                entity=contract.entity,
                file_name=name,
                checked=read.records,
                message=f"{share:.1%} of the file quarantined (limit "
                f"{quality.max_quarantine_share:.0%})",
            )
        )
    return findings


REDELIVERY_ENTITIES = ("transactions", "contacts")


def _redelivery_findings(
    con: duckdb.DuckDBPyConnection, contract: EntityContract, quality: QualityConfig, name: str
) -> list[Finding]:
    """Good rows whose key an earlier file already delivered: the latest file wins."""
    if contract.entity not in REDELIVERY_ENTITIES:
        return []
    keys = list(contract.key)
    others = [n for n in contract.names if n not in keys]
    key_t = ", ".join(f"k.{quote_ident('t_' + k)}" for k in keys)
    join = " and ".join(f"p.{quote_ident(k)} = k.{quote_ident('t_' + k)}" for k in keys)
    new_values = (
        "struct_pack("
        + ", ".join(f"{quote_ident(n)} := k.{quote_ident('t_' + n)}" for n in others)
        + ")"
    )
    old_values = (
        "struct_pack(" + ", ".join(f"{quote_ident(n)} := r.{quote_ident(n)}" for n in others) + ")"
    )
    raw_keys = ", ".join(f"r.{quote_ident(k)}" for k in keys)
    # A semi join on the key columns, not a tuple IN: DuckDB then pushes the file's key
    # range into the scan of raw (zone maps), instead of probing every raw row per file.
    raw_join = " and ".join(f"r.{quote_ident(k)} = k.{quote_ident('t_' + k)}" for k in keys)
    row = con.execute(
        f"""
        with k as (select * from _checked where len(_all_problems) = 0),
        p as (
            select {raw_keys}, arg_max({old_values}, r._batch_id * 10000000000 + r._row_number)
                as v
            from raw.{contract.entity} r
            semi join k on {raw_join}
            group by all
        )
        select count(*), count(*) filter (where p.v is distinct from {new_values}),
            list({{'row': k._row_number, 'key': concat_ws(':', {key_t})}}
                 order by k._row_number)[1:{int(quality.log_sample_size)}]
        from k join p on {join}
        """
    ).fetchone()
    if not row or not row[0]:
        return []
    count, changed, sample = int(row[0]), int(row[1]), list(row[2] or [])
    return [
        finding(
            quality,
            "redelivered_lines",
            count,
            entity=contract.entity,
            file_name=name,
            message=f"{count} record(s) replace a version from an earlier file ({changed} with "
            "different values); the latest file wins, raw keeps both",
            sample=sample,
        )
    ]


def _apply_gx(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    quality: QualityConfig,
    report: GxReport,
    name: str,
) -> list[Finding]:
    """Quarantine rows the suite flagged; findings for every failed expectation."""
    findings: list[Finding] = []
    flagged: list[tuple[int, str]] = []
    for outcome in report.failed("row"):
        detail = outcome.error or f"{outcome.unexpected} unexpected value(s)"
        if outcome.row_numbers:
            message = (
                f"{outcome.code}|GX {outcome.label} failed for this row "
                "(the SQL row checks let it through)"
            )
            flagged += [(row, message) for row in outcome.row_numbers]
        findings.append(
            finding(
                quality,
                "gx_contract",
                outcome.unexpected or report.validated_rows,
                entity=contract.entity,
                file_name=name,
                checked=report.validated_rows,
                message=f"GX {outcome.label} [{outcome.code}]: {detail} ({report.mode} validation)",
                sample=[mask_row(s, contract.pii) for s in outcome.sample],
            )
        )
    if flagged:
        _materialise_checked(con)
        con.execute("drop table if exists _gx_rows")
        con.execute("create temp table _gx_rows (_row_number bigint, problem varchar)")
        con.executemany("insert into _gx_rows values (?, ?)", flagged)
        con.execute(
            "update _checked set _all_problems = g.problems from ("
            "select _row_number, list(problem order by problem) as problems "
            "from _gx_rows group by 1) g where _checked._row_number = g._row_number"
        )
    for outcome in report.failed("batch"):
        share = outcome.unexpected / outcome.checked if outcome.checked else 0.0
        findings.append(
            finding(
                quality,
                outcome.code,
                outcome.unexpected,
                entity=contract.entity,
                file_name=name,
                checked=outcome.checked,
                message=f"GX {outcome.label}: {share:.1%} unexpected, at most "
                f"{1 - (outcome.mostly or 1):.0%} allowed"
                + (f" ({outcome.error})" if outcome.error else "")
                + (f" ({report.mode} of {report.validated_rows} rows)"),
                sample=[mask_row(s, contract.pii) for s in outcome.sample],
            )
        )
    return findings


# ---------------------------------------------------------------------------------
# one entity
# ---------------------------------------------------------------------------------
def load_entity(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entity: str,
    as_of: dt.date,
    run_id: str,
    quality: QualityConfig | None = None,
) -> list[BatchResult]:
    """Load every new landing file of one entity; return one result per file looked at.

    Files are read and row-checked in load order into groups of at most
    ``quality.gx.chunk_rows`` rows; each group has one GX run, then its files are
    finished (and committed) one by one in load order.
    """
    ensure_tables(con)
    rules = IngestRules.from_settings(settings, as_of)
    quality = quality or QualityConfig.from_settings(settings)
    contract = CONTRACTS[entity]
    pending = hashed_files(
        pending_files(settings, entity),
        settings.landing_hashes_path(entity),
        settings.landing_dir,
    )
    ledger = con.execute(
        "select file_name, file_hash, status from raw._batches where entity = ?", [entity]
    ).fetchall()
    handled = {(name, h) for name, h, status in ledger if status in ("loaded", "duplicate")}
    new = [path for path, h in pending if (_relative_name(settings, path), h) not in handled]
    gx_paths = {new[i] for i in gx_file_sample(len(new), quality.gx.max_files_per_run)}
    budget = max(quality.gx.chunk_rows, 1)
    group = _Group()
    slots = itertools.count()
    runs = itertools.count(1)
    results: list[BatchResult] = []
    known = {h for _, h, _ in ledger}
    ahead = _start_read_ahead(settings, contract, rules, dict(pending), new, known)
    try:
        for path, file_hash in pending:
            if file_hash in group.hashes:
                # the same content earlier this night: it must commit first (duplicate_file)
                results += group.flush(con, contract, rules, quality, runs)
            step = _triage(con, settings, quality, entity, path, file_hash, run_id, as_of)
            if step is not None:
                group.steps.append(step)
                continue
            read = ahead.take(path) if ahead is not None else None
            gx, slot = path in gx_paths, next(slots)
            prepared = (
                _adopt(con, settings, entity, file_hash, gx, slot, read)
                if read is not None
                else _prepare(con, settings, entity, path, file_hash, rules, gx, slot)
            )
            if group.files and group.rows + prepared.rows > budget:
                results += group.flush(con, contract, rules, quality, runs)
            group.add(
                prepared,
                functools.partial(_finish_file, con, settings, quality, rules, run_id, prepared),
            )
        results += group.flush(con, contract, rules, quality, runs)
    finally:
        if ahead is not None:
            ahead.close()
        _drop_parked(con, group.files)
    return [r for r in results if r is not None]


def _start_read_ahead(
    settings: Settings,
    contract: EntityContract,
    rules: IngestRules,
    hashes: dict[Path, str],
    new: list[Path],
    known: set[str],
) -> _ReadAheadThread | None:
    """A read-ahead thread for the files that will likely load: content not in the ledger
    (``known``), first of its hash tonight (``_triage`` decides; a file it skips is dropped,
    one it loads that was not read ahead is read by the loading thread). None when
    ``ingest.read_ahead.files`` is 0 or fewer than two files would load."""
    cfg = settings.section("ingest").get("read_ahead") or {}
    files = int(cfg.get("files", 0) or 0)
    if files <= 0:
        return None
    seen = set(known)
    likely: list[Path] = []
    for path in new:
        if hashes[path] not in seen:
            seen.add(hashes[path])
            likely.append(path)
    if len(likely) < 2:
        return None
    options = {k: v for k, v in cfg.items() if k in ("memory_limit", "threads")}
    return _ReadAheadThread(settings, contract, rules, likely, files, options)


def load_entities(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entities: list[str],
    as_of: dt.date,
    run_id: str,
    quality: QualityConfig | None = None,
) -> Iterator[tuple[str, list[BatchResult]]]:
    """Load several entities, each as :func:`load_entity` does; yield each as it finishes.

    With ``ingest.parallel_entities`` > 1 the entities load at the same time on their own
    connections to ``con``'s database (one file's DuckDB work seldom fills two cores: files
    are small and many statements are planned per file). The largest entity starts first;
    ledger transactions and GX sessions take turns. If an entity fails, the others still
    finish (and commit) before the error is raised.
    """
    ensure_tables(con)
    threshold = settings.section("ingest").get("checkpoint_threshold")
    previous = con.execute("select current_setting('checkpoint_threshold')").fetchone()
    if threshold:
        con.execute(f"set checkpoint_threshold = {sql_str(str(threshold))}")
    # The readers number records by rowid, and files read ahead move between tables; both
    # need preserve_insertion_order, a setting global to the database, so it stays on while
    # any file loads.
    ordered = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    con.execute("set preserve_insertion_order = true")
    try:
        yield from _load_entities(con, settings, entities, as_of, run_id, quality)
    finally:
        con.execute("checkpoint")  # the steps after, and dbt's own process, start clean
        if threshold and previous:
            con.execute(f"set checkpoint_threshold = {sql_str(str(previous[0]))}")
        keep = bool(ordered and ordered[0])
        con.execute(f"set preserve_insertion_order = {str(keep).lower()}")


def _load_entities(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entities: list[str],
    as_of: dt.date,
    run_id: str,
    quality: QualityConfig | None,
) -> Iterator[tuple[str, list[BatchResult]]]:
    wanted = int(settings.section("ingest").get("parallel_entities", 1))
    workers = min(max(wanted, 1), len(entities))
    if workers <= 1:
        for entity in entities:
            yield entity, load_entity(con, settings, entity, as_of, run_id, quality)
        return
    pending = {e: sum(p.stat().st_size for p in pending_files(settings, e)) for e in entities}

    def load(entity: str) -> list[BatchResult]:
        cur = warehouse_cursor(con, settings)
        try:
            return load_entity(cur, settings, entity, as_of, run_id, quality)
        finally:
            cur.close()

    failed: BaseException | None = None
    with ThreadPoolExecutor(workers, thread_name_prefix="ingest") as pool:
        futures = {pool.submit(load, e): e for e in sorted(entities, key=lambda e: -pending[e])}
        for future in as_completed(futures):
            try:
                results = future.result()
            except BaseException as exc:  # the others still finish
                failed = failed or exc
                continue
            yield futures[future], results
    if failed is not None:
        raise failed


@dataclass
class _Group:
    """New files of one entity prepared for a shared GX run, and every step of the files
    up to the last of them, run in load order (batch ids follow the file order)."""

    steps: list[Callable[[], BatchResult | None]] = field(default_factory=list)
    files: list[_Prepared] = field(default_factory=list)
    rows: int = 0
    hashes: set[str] = field(default_factory=set)

    def add(self, prepared: _Prepared, finish: Callable[[], BatchResult]) -> None:
        self.files.append(prepared)
        self.steps.append(finish)
        self.rows += prepared.rows
        self.hashes.add(prepared.result.file_hash)

    def flush(
        self,
        con: duckdb.DuckDBPyConnection,
        contract: EntityContract,
        rules: IngestRules,
        quality: QualityConfig,
        runs: Iterator[int],
    ) -> list[BatchResult | None]:
        """One GX run for the group's files, then every step in order."""
        if any(p.gx and p.read is not None for p in self.files):
            _validate_group(con, contract, rules, quality, self.files, next(runs))
        done = [step() for step in self.steps]
        for prepared in self.files:
            _release(con, prepared)
        self.steps, self.files, self.rows, self.hashes = [], [], 0, set()
        return done


def _triage(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    quality: QualityConfig,
    entity: str,
    path: Path,
    file_hash: str,
    run_id: str,
    as_of: dt.date,
) -> Callable[[], BatchResult | None] | None:
    """The step of a file that needs no loading (handled before, an interrupted rejection,
    a duplicate), or None for a file to load."""
    name = _relative_name(settings, path)
    seen = con.execute(
        "select status, file_name from raw._batches where file_hash = ? and entity = ? "
        "and status in ('loaded', 'duplicate', 'rejected') order by batch_id",
        [file_hash, entity],
    ).fetchall()
    if any(fname == name and status != "rejected" for status, fname in seen):
        return lambda: None  # this exact file was handled on an earlier night
    if any(fname == name and status == "rejected" for status, fname in seen):
        finished = _finish_interrupted_reject(con, settings, entity, path, file_hash)
        if finished:
            return lambda: finished
    loaded = [fname for status, fname in seen if status == "loaded"]
    if loaded:
        return functools.partial(
            _duplicate, con, quality, entity, path, name, file_hash, loaded[0], run_id, as_of
        )
    return None


def gx_file_sample(files: int, limit: int) -> set[int]:
    """Indexes of the files GX validates: all, or ``limit`` spread evenly over the run."""
    if limit <= 0 or files <= limit:
        return set(range(files))
    return {i * files // limit for i in range(limit)}


def _duplicate(
    con: duckdb.DuckDBPyConnection,
    quality: QualityConfig,
    entity: str,
    path: Path,
    name: str,
    file_hash: str,
    first: str,
    run_id: str,
    as_of: dt.date,
) -> BatchResult:
    message = f"same content as already loaded {first}; not loaded again"
    found = finding(
        quality,
        "duplicate_file",
        1,
        entity=entity,
        file_name=name,
        message=message,
        sample=[{"same_as": first}],
    )
    with ledger_transaction(con):
        batch_id = _ledger(
            con,
            entity=entity,
            file_name=name,
            file_hash=file_hash,
            file_bytes=path.stat().st_size,
            status="duplicate",
            rows_loaded=0,
            rows_quarantined=0,
            message=message,
            run_id=run_id,
            as_of=as_of,
        )
        found.batch_id = batch_id
        write_findings(con, run_id, as_of, [found])
    return BatchResult(
        entity,
        name,
        file_hash,
        "duplicate",
        batch_id=batch_id,
        message=message,
        reasons={"duplicate_file": 1},
        findings=[found],
    )
