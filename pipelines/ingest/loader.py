"""Load landing files into the build database.

One file is one batch, recognised by the SHA-256 of its content, and loaded at
most once. For each new file:

1. read it as text columns (CSV with header, Parquet or JSON Lines, detected
   from the content, so any file name works);
2. reject the whole file (moved to ``landing/_rejected/<entity>/`` with an error
   report beside it) when it is unreadable, empty or lacks a required column;
3. type and check every row in SQL. Rows with problems go to
   ``quarantine.<entity>`` with their original values, file, record number, a
   reason code and a message; the good rows of the same file go to
   ``raw.<entity>``;
4. record the batch in ``raw._batches``.

Steps 3 and 4 run in one transaction, so a crash never leaves a file marked
loaded without its rows, nor rows without their ledger entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from pipelines.ingest import contract as c
from pipelines.ingest.contract import CONTRACTS, EntityContract
from pipelines.settings import Settings

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
    status varchar not null,           -- loaded | rejected | duplicate
    rows_in_file bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    amount_loaded decimal(38, 4),      -- transactions: sum of loaded line amounts
    message varchar,
    run_id varchar,
    as_of date,
    loaded_at timestamp
);
"""

OFFSET_PATTERN = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|UTC|[+-]\d{2}(:?\d{2})?)$"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


class RejectedFile(Exception):
    """The whole file cannot be loaded; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class BatchResult:
    entity: str
    file_name: str
    file_hash: str
    status: str
    batch_id: int | None = None
    rows_in_file: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str = ""
    reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IngestRules:
    """Row checks configured in crm.yml (section ``ingest``)."""

    as_of: dt.date
    business_time_zone: str
    currency: str
    future_tolerance_days: int
    max_abs_amount: float
    max_abs_quantity: float
    min_date: dt.date
    channels: dict[str, list[str]]
    directions: list[str]

    @classmethod
    def from_settings(cls, settings: Settings, as_of: dt.date) -> IngestRules:
        cfg = settings.section("ingest")
        return cls(
            as_of=as_of,
            business_time_zone=settings.business_time_zone,
            currency=settings.currency.upper(),
            future_tolerance_days=int(cfg.get("future_tolerance_days", 1)),
            max_abs_amount=float(cfg.get("max_abs_amount", 1e8)),
            max_abs_quantity=float(cfg.get("max_abs_quantity", 1e4)),
            min_date=dt.date.fromisoformat(str(cfg.get("min_date", "1990-01-01"))),
            channels={k: [str(x).lower() for x in v] for k, v in cfg.get("channels", {}).items()},
            directions=[str(x).lower() for x in cfg.get("directions", ["outbound", "inbound"])],
        )

    @property
    def latest_allowed(self) -> dt.date:
        return self.as_of + dt.timedelta(days=self.future_tolerance_days)


# ---------------------------------------------------------------------------------
# file level
# ---------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_format(path: Path) -> str:
    """Parquet by magic bytes, JSON Lines by a leading '{', otherwise CSV."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise RejectedFile("empty_file", "the file is empty (0 bytes)")
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_as_text(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    """Create temp table ``_landing`` (text columns + ``_row_number``); return its columns."""
    con.execute("drop table if exists _landing_read")
    con.execute("drop table if exists _landing")
    p = _sql_str(str(path))
    try:
        if fmt == "csv":
            con.execute(
                "create temp table _landing_read as select * from read_csv("
                f"{p}, header = true, all_varchar = true, delim = ',', quote = '\"', "
                "escape = '\"', encoding = 'utf-8')"
            )
        elif fmt == "parquet":
            con.execute(f"create temp table _landing_read as select * from read_parquet({p})")
        else:
            keys = con.execute(
                "select distinct unnest(json_keys(json)) as k "
                f"from read_ndjson_objects({p}) order by k"
            ).fetchall()
            if not keys:
                raise RejectedFile("no_data_rows", "the file has no JSON records")
            cols = ", ".join(f"json ->> {_sql_str(k)} as {_quote_ident(k)}" for (k,) in keys)
            con.execute(
                f"create temp table _landing_read as select {cols} from read_ndjson_objects({p})"
            )
    except RejectedFile:
        raise
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0:3]
        text = " ".join(message)
        reason = (
            "not_utf8"
            if "utf-8" in text.lower() or "unicode" in text.lower()
            else ("unreadable_file")
        )
        raise RejectedFile(reason, f"cannot read as {fmt}: {text}") from exc

    described = con.execute("describe _landing_read").fetchall()
    columns = [row[0] for row in described]
    # Insertion order is the file order, so rowid + 1 is the 1-based record number.
    cast_cols = ", ".join(
        f"cast({_quote_ident(col)} as varchar) as {_quote_ident(col.strip().lower())}"
        for col in columns
    )
    con.execute(
        f"create temp table _landing as select rowid + 1 as _row_number, {cast_cols} "
        "from _landing_read"
    )
    con.execute("drop table _landing_read")
    return [col.strip().lower() for col in columns]


# ---------------------------------------------------------------------------------
# row level
# ---------------------------------------------------------------------------------
def _text(col: str) -> str:
    return f"nullif(trim({_quote_ident(col)}), '')"


def _typed_expr(column: c.Column, tz: str) -> str:
    raw = _text(column.name)
    if column.default is not None:
        raw = f"coalesce({raw}, {_sql_str(column.default)})"
    if column.type == c.TEXT:
        if column.normalise_code:
            return f"lower({raw})"
        return f"upper({raw})" if column.upper_code else raw
    if column.type == c.TIMESTAMP:
        return (
            f"case when {raw} is null then null "
            f"when regexp_matches({raw}, {_sql_str(OFFSET_PATTERN)}) "
            f"then timezone({_sql_str(tz)}, try_cast({raw} as timestamptz)) "
            f"else try_cast({raw} as timestamp) end"
        )
    if column.type == c.DATE:
        return f"try_cast({raw} as date)"
    if column.type == c.BOOLEAN:
        true_words = ", ".join(_sql_str(w) for w in TRUE_WORDS)
        false_words = ", ".join(_sql_str(w) for w in FALSE_WORDS)
        return (
            f"case when lower({raw}) in ({true_words}) then true "
            f"when lower({raw}) in ({false_words}) then false end"
        )
    return f"try_cast({raw} as {c.DUCKDB_TYPES[column.type]})"


def _problem(condition: str, code: str, message_sql: str) -> str:
    return f"case when {condition} then {_sql_str(code + '|')} || {message_sql} end"


def _row_checks(contract: EntityContract, rules: IngestRules) -> list[str]:
    """SQL expressions yielding 'code|message' for each problem of a row, else NULL."""
    checks: list[str] = []
    for col in contract.columns:
        raw = _text(col.name)
        typed = f"t_{col.name}"
        label = _sql_str(f"{col.name}: ")
        if col.required:
            checks.append(
                _problem(
                    f"{raw} is null", "missing_required", f"{label} || 'required value is empty'"
                )
            )
        if col.type != c.TEXT:
            kind = {
                c.TIMESTAMP: "a valid timestamp",
                c.DATE: "a valid date",
                c.MONEY: "a number",
                c.QUANTITY: "a number",
                c.INTEGER: "an integer",
                c.BOOLEAN: "a boolean (true/false/yes/no/1/0)",
            }[col.type]
            code = {
                c.TIMESTAMP: "invalid_timestamp",
                c.DATE: "invalid_date",
                c.BOOLEAN: "invalid_boolean",
            }.get(col.type, "not_numeric")
            checks.append(
                _problem(
                    f"{raw} is not null and {typed} is null",
                    code,
                    f"{label} || '''' || {raw} || ''' is not {kind}'",
                )
            )
        if col.type in (c.TIMESTAMP, c.DATE):
            checks.append(
                _problem(
                    f"cast({typed} as date) > date '{rules.latest_allowed.isoformat()}'",
                    "future_date",
                    f"{label} || cast({typed} as varchar) || ' is after as_of "
                    f"{rules.as_of.isoformat()} + {rules.future_tolerance_days} day(s)'",
                )
            )
            floor = dt.date(1900, 1, 1) if col.name == "birth_date" else rules.min_date
            checks.append(
                _problem(
                    f"cast({typed} as date) < date '{floor.isoformat()}'",
                    "implausible_date",
                    f"{label} || cast({typed} as varchar) || ' is before {floor.isoformat()}'",
                )
            )
    entity = contract.entity
    names = contract.names
    if "channel" in names and entity in rules.channels:
        allowed = ", ".join(_sql_str(x) for x in rules.channels[entity])
        checks.append(
            _problem(
                f"t_channel is not null and t_channel not in ({allowed})",
                "unknown_channel",
                f"'channel: ''' || t_channel || ''' is not one of {', '.join(rules.channels[entity])}'",
            )
        )
    if "direction" in names:
        allowed = ", ".join(_sql_str(x) for x in rules.directions)
        checks.append(
            _problem(
                f"t_direction is not null and t_direction not in ({allowed})",
                "unknown_direction",
                f"'direction: ''' || t_direction || ''' is not one of "
                f"{', '.join(rules.directions)}'",
            )
        )
    if entity == "transactions":
        checks += [
            _problem(
                f"t_currency is not null and upper(t_currency) <> {_sql_str(rules.currency)}",
                "foreign_currency",
                f"'currency: ''' || upper(t_currency) || ''' differs from the configured "
                f"{rules.currency}'",
            ),
            _problem(
                f"abs(t_amount) > {rules.max_abs_amount}",
                "amount_outlier",
                f"'amount: ' || cast(t_amount as varchar) || ' exceeds the limit "
                f"{rules.max_abs_amount:g}'",
            ),
            _problem(
                f"abs(t_quantity) > {rules.max_abs_quantity}",
                "quantity_outlier",
                f"'quantity: ' || cast(t_quantity as varchar) || ' exceeds the limit "
                f"{rules.max_abs_quantity:g}'",
            ),
            _problem(
                "sign(t_quantity) * sign(t_amount) < 0",
                "sign_mismatch",
                "'quantity ' || cast(t_quantity as varchar) || ' and amount ' || "
                "cast(t_amount as varchar) || ' have opposite signs'",
            ),
            _problem(
                "t_line_number is not null and t_line_number < 1",
                "invalid_line_number",
                "'line_number: must be 1 or more'",
            ),
        ]
    if entity == "customers":
        checks.append(
            _problem(
                "t_referred_by is not null and t_referred_by = t_source_customer_id",
                "self_referral",
                "'referred_by: a customer cannot refer themselves'",
            )
        )
    return checks


def _build_checked_table(
    con: duckdb.DuckDBPyConnection, contract: EntityContract, rules: IngestRules, present: set[str]
) -> None:
    """Temp table ``_checked``: typed columns t_*, original text o_*, and problems."""
    typed_cols, orig_cols = [], []
    for col in contract.columns:
        if col.name in present:
            typed_cols.append(
                f"{_typed_expr(col, rules.business_time_zone)} as {_quote_ident('t_' + col.name)}"
            )
            orig_cols.append(f"{_quote_ident(col.name)} as {_quote_ident('o_' + col.name)}")
        else:
            default = (
                f"cast({_sql_str(col.default)} as {c.DUCKDB_TYPES[col.type]})"
                if col.default is not None
                else f"cast(null as {c.DUCKDB_TYPES[col.type]})"
            )
            typed_cols.append(f"{default} as {_quote_ident('t_' + col.name)}")
            orig_cols.append(f"cast(null as varchar) as {_quote_ident('o_' + col.name)}")
            # an absent optional column is read as empty text by the checks below
    missing_text = [
        f"cast(null as varchar) as {_quote_ident(col.name)}"
        for col in contract.columns
        if col.name not in present
    ]
    base_select = "*" + ("".join(", " + m for m in missing_text))
    key_cols = ", ".join(_quote_ident("t_" + k) for k in contract.key)
    all_orig = ", ".join(_quote_ident("o_" + n) for n in contract.names)
    checks = ",\n".join(_row_checks(contract, rules))
    con.execute("drop table if exists _checked")
    con.execute(
        f"""
        create temp table _checked as
        with src as (select {base_select} from _landing),
        typed as (
            select _row_number, {", ".join(typed_cols)}, {", ".join(orig_cols)},
                   {", ".join(_quote_ident(n) for n in contract.names)}
            from src
        ),
        checked as (
            select *, list_filter([{checks}], lambda x: x is not null) as _problems
            from typed
        ),
        numbered as (
            select *,
                row_number() over (partition by {key_cols} order by _row_number) as _key_seq,
                row_number() over (partition by {all_orig} order by _row_number) as _dup_seq,
                min(_row_number) over (partition by {key_cols}) as _first_row
            from checked
        )
        select *,
            case
                when len(_problems) = 0 and _key_seq > 1 and _dup_seq > 1
                    then ['duplicate_row|exact copy of record ' || _first_row || ' in the same file']
                when len(_problems) = 0 and _key_seq > 1
                    then ['duplicate_key|key ({", ".join(contract.key)}) already used by record '
                          || _first_row || ' in the same file with different values']
                else _problems
            end as _all_problems
        from numbered
        """
    )


def _ledger_next_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select coalesce(max(batch_id), 0) + 1 from raw._batches").fetchone()
    return int(row[0]) if row else 1


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(LEDGER_DDL)
    for contract in CONTRACTS.values():
        cols = ", ".join(
            f"{_quote_ident(col.name)} {c.DUCKDB_TYPES[col.type]}" for col in contract.columns
        )
        con.execute(
            f"create table if not exists raw.{contract.entity} ("
            f"{cols}, _batch_id bigint not null, _row_number bigint not null)"
        )
        orig = ", ".join(f"{_quote_ident(n)} varchar" for n in contract.names)
        con.execute(
            f"create table if not exists quarantine.{contract.entity} ("
            "_batch_id bigint not null, _file_name varchar not null, _row_number bigint not null, "
            f"reason_code varchar not null, reason_message varchar not null, {orig})"
        )


def _relative_name(settings: Settings, path: Path) -> str:
    try:
        return str(path.relative_to(settings.landing_dir))
    except ValueError:
        return str(path)


def _reject_file(
    settings: Settings, entity: str, path: Path, reason: str, message: str, file_hash: str
) -> str:
    """Move a bad file to landing/_rejected/<entity>/ with a JSON error report beside it."""
    target_dir = settings.rejected_dir / entity
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{file_hash[:12]}__{path.name}"
    report = {
        "file": _relative_name(settings, path),
        "entity": entity,
        "sha256": file_hash,
        "reason": reason,
        "message": message,
    }
    report_path = target_dir / f"{stem}.error.json"
    tmp = report_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, report_path)
    os.replace(path, target_dir / stem)
    return str((target_dir / stem).relative_to(settings.home))


def pending_files(settings: Settings, entity: str) -> list[Path]:
    """Landing files of an entity in load order (file name order; name later deliveries later)."""
    folder = settings.landing_entity_dir(entity)
    if not folder.exists():
        return []
    return sorted(
        (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")),
        key=lambda p: str(p.relative_to(folder)),
    )


def load_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entity: str,
    path: Path,
    rules: IngestRules,
    run_id: str,
    file_hash: str | None = None,
) -> BatchResult:
    contract = CONTRACTS[entity]
    file_hash = file_hash or file_sha256(path)
    name = _relative_name(settings, path)
    result = BatchResult(entity=entity, file_name=name, file_hash=file_hash, status="loaded")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        fmt = detect_format(path)
        present = set(read_as_text(con, path, fmt))
        missing = [col for col in contract.required if col not in present]
        if missing:
            raise RejectedFile(
                "missing_required_column",
                f"required column(s) missing: {', '.join(missing)}; header has: "
                f"{', '.join(sorted(present)) or '(none)'}",
            )
        rows_row = con.execute("select count(*) from _landing").fetchone()
        rows = int(rows_row[0]) if rows_row else 0
        if rows == 0:
            raise RejectedFile("no_data_rows", "the file has a header but no data rows")
    except RejectedFile as exc:
        moved_to = _reject_file(settings, entity, path, exc.reason, exc.message, file_hash)
        result.status = "rejected"
        result.message = f"{exc.reason}: {exc.message} (moved to {moved_to})"
        result.reasons = {exc.reason: 1}
        con.execute(
            "insert into raw._batches values (?, ?, ?, ?, ?, ?, 'rejected', null, 0, 0, null, ?, ?, ?, ?)",
            [
                _ledger_next_id(con),
                entity,
                name,
                file_hash,
                path_size(settings, moved_to),
                None,
                result.message,
                run_id,
                rules.as_of,
                now,
            ],
        )
        return result

    extra = sorted(present - set(contract.names))
    _build_checked_table(con, contract, rules, present)
    counts = dict(
        con.execute(
            "select split_part(_all_problems[1], '|', 1), count(*) from _checked "
            "where len(_all_problems) > 0 group by 1 order by 1"
        ).fetchall()
    )
    typed = ", ".join(_quote_ident("t_" + n) for n in contract.names)
    orig = ", ".join(_quote_ident("o_" + n) for n in contract.names)
    con.execute("begin transaction")
    try:
        batch_id = _ledger_next_id(con)
        con.execute(
            f"insert into raw.{entity} select {typed}, {batch_id}, _row_number "
            "from _checked where len(_all_problems) = 0 order by _row_number"
        )
        con.execute(
            f"insert into quarantine.{entity} select {batch_id}, {_sql_str(name)}, _row_number, "
            "split_part(_all_problems[1], '|', 1), "
            "array_to_string(list_transform(_all_problems, lambda x: split_part(x, '|', 2)), '; '), "
            f"{orig} from _checked where len(_all_problems) > 0 order by _row_number"
        )
        loaded, quarantined, amount = con.execute(
            "select count(*) filter (where len(_all_problems) = 0), "
            "count(*) filter (where len(_all_problems) > 0), "
            + (
                "sum(t_amount) filter (where len(_all_problems) = 0)"
                if entity == "transactions"
                else "null"
            )
            + " from _checked"
        ).fetchone()
        message = f"unknown column(s) ignored: {', '.join(extra)}" if extra else ""
        con.execute(
            "insert into raw._batches values (?, ?, ?, ?, ?, ?, 'loaded', ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id,
                entity,
                name,
                file_hash,
                path.stat().st_size,
                fmt,
                rows,
                loaded,
                quarantined,
                amount,
                message,
                run_id,
                rules.as_of,
                now,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    result.batch_id = batch_id
    result.rows_in_file = rows
    result.rows_loaded = int(loaded)
    result.rows_quarantined = int(quarantined)
    result.message = message
    result.reasons = {str(k): int(v) for k, v in counts.items()}
    return result


def path_size(settings: Settings, relative: str) -> int | None:
    path = settings.home / relative
    return path.stat().st_size if path.exists() else None


def load_entity(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    entity: str,
    as_of: dt.date,
    run_id: str,
) -> list[BatchResult]:
    """Load every new landing file of one entity; return one result per file looked at."""
    ensure_tables(con)
    rules = IngestRules.from_settings(settings, as_of)
    results: list[BatchResult] = []
    for path in pending_files(settings, entity):
        file_hash = file_sha256(path)
        name = _relative_name(settings, path)
        seen = con.execute(
            "select status, file_name from raw._batches where file_hash = ? and entity = ? "
            "and status in ('loaded', 'duplicate') order by batch_id",
            [file_hash, entity],
        ).fetchall()
        if any(fname == name for _, fname in seen):
            continue  # this exact file was handled on an earlier night
        if seen:
            first = next(fname for status, fname in seen if status == "loaded")
            message = f"same content as already loaded {first}; not loaded again"
            con.execute(
                "insert into raw._batches values (?, ?, ?, ?, ?, null, 'duplicate', null, 0, 0, "
                "null, ?, ?, ?, ?)",
                [
                    _ledger_next_id(con),
                    entity,
                    name,
                    file_hash,
                    path.stat().st_size,
                    message,
                    run_id,
                    as_of,
                    dt.datetime.now(dt.UTC).replace(tzinfo=None),
                ],
            )
            results.append(
                BatchResult(
                    entity,
                    name,
                    file_hash,
                    "duplicate",
                    message=message,
                    reasons={"duplicate_file": 1},
                )
            )
            continue
        results.append(load_file(con, settings, entity, path, rules, run_id, file_hash))
    return results
