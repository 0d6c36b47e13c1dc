"""Read one landing file as text into DuckDB temp tables.

``read_file`` creates

* ``_landing``   — ``_row_number`` (1-based data record in the file) and one
  VARCHAR column per header field (names trimmed and lower-cased);
* ``_malformed`` — records that cannot be split into fields (wrong field count,
  unterminated quote, invalid JSON): ``_row_number``, ``message``, ``raw_line``.

or raises :class:`RejectedFile` with a stable reason code when the file as a
whole cannot be loaded. The format is detected from the content (Parquet magic
bytes, a leading ``{`` for JSON Lines, otherwise CSV), so any file name works.

CSV is read with DuckDB's own parser and an explicit header (no sniffing), so a
file with broken lines still loads its good lines: DuckDB's ``store_rejects``
hands back the broken ones, which become ``malformed_line`` quarantine rows.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb

# Magic bytes of formats people send by mistake.
UNSUPPORTED_MAGIC = {
    b"\x1f\x8b": "a gzip archive; deliver the uncompressed file",
    b"PK\x03\x04": "a zip archive or Excel workbook; deliver CSV, Parquet or JSON Lines",
    b"\xd0\xcf\x11\xe0": "a legacy Excel/Office document; deliver CSV, Parquet or JSON Lines",
}
READ_BLOCK = 1 << 20


class RejectedFile(Exception):
    """The whole file cannot be loaded; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ReadResult:
    fmt: str
    columns: list[str]
    rows: int  # records parsed into fields
    malformed: int  # records that could not be parsed

    @property
    def records(self) -> int:
        return self.rows + self.malformed


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------
# format and encoding
# ---------------------------------------------------------------------------------
def detect_format(path: Path) -> str:
    """``parquet``, ``jsonl`` or ``csv``; rejects empty and unsupported files."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise RejectedFile("empty_file", "the file is empty (0 bytes)")
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RejectedFile("not_utf8", "the file is UTF-16 text; re-send it encoded as UTF-8")
    for magic, what in UNSUPPORTED_MAGIC.items():
        if head.startswith(magic):
            raise RejectedFile("unsupported_format", f"the file is {what}")
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if not text:
        raise RejectedFile("empty_file", "the file holds only whitespace")
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def first_invalid_utf8(path: Path) -> tuple[int, int, bytes] | None:
    """(line, byte offset, bad bytes) of the first invalid UTF-8 sequence, else None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    line = 1
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(READ_BLOCK), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # exc.start is relative to the decoder's buffered input; re-scan this block
                position = _invalid_position(block)
                if position is None:
                    position = max(exc.start, 0)
                return (
                    line + block[:position].count(b"\n"),
                    offset + position,
                    block[position : position + 4],
                )
            line += block.count(b"\n")
            offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return line, offset, b""
    return None


def _invalid_position(block: bytes) -> int | None:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            return None  # a character split across blocks: not an error here
        return exc.start
    return None


def _not_utf8(path: Path) -> RejectedFile:
    where = first_invalid_utf8(path)
    detail = ""
    if where:
        line, offset, bad = where
        detail = f" at line {line} (byte {offset}: 0x{bad.hex()})"
    return RejectedFile(
        "not_utf8",
        f"the file is not valid UTF-8{detail}; it may be Latin-1 or CP949/EUC-KR — "
        "re-send it encoded as UTF-8",
    )


def normalise_columns(names: list[str]) -> list[str]:
    """Trim + lower-case; empty names become ``_unnamed_<n>``; duplicates reject the file."""
    out = []
    for i, name in enumerate(names, start=1):
        clean = name.replace("\ufeff", "").strip().lower()
        out.append(clean or f"_unnamed_{i}")
    seen: set[str] = set()
    dupes = sorted({n for n in out if n in seen or seen.add(n)})
    if dupes:
        raise RejectedFile(
            "duplicate_column", f"column name(s) appear more than once: {', '.join(dupes)}"
        )
    return out


# ---------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------
def read_file(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> ReadResult:
    con.execute("drop view if exists _landing")
    for table in (
        "_landing_read",
        "_jsonl",
        "_jsonl_read",
        "_malformed",
        "_csv_rejects",
        "_csv_scan",
    ):
        con.execute(f"drop table if exists {table}")
    con.execute(
        "create temp table _malformed (_row_number bigint, message varchar, raw_line varchar)"
    )
    # rowid must follow the file order for the record numbers below
    previous = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    con.execute("set preserve_insertion_order = true")
    try:
        if fmt == "csv":
            columns = _read_csv(con, path)
        elif fmt == "parquet":
            columns = _read_parquet(con, path)
        else:
            columns = _read_jsonl(con, path)
    finally:
        con.execute(f"set preserve_insertion_order = {str(bool(previous and previous[0])).lower()}")
    rows = con.execute("select count(*) from _landing").fetchone()
    malformed = con.execute("select count(*) from _malformed").fetchone()
    return ReadResult(
        fmt, columns, int(rows[0]) if rows else 0, int(malformed[0]) if malformed else 0
    )


def _duckdb_error(exc: Exception, path: Path) -> str:
    """DuckDB's message on one line, naming the file by its name and without the quoted
    query ("LINE 1: ..."): the host path of the landing folder does not belong in the
    ledger or the published quality log."""
    message = str(exc).split("\nLINE ")[0]
    return " ".join(message.replace(str(path), path.name).split())[:300]


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path) from exc
    except csv.Error as exc:
        raise RejectedFile("unreadable_file", f"cannot read the CSV header: {exc}") from exc
    if not header or all(not h.strip() for h in header):
        raise RejectedFile("missing_header", "the first line (the header) is empty")
    return header


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    columns = normalise_columns(_csv_header(path))
    spec = "{" + ", ".join(f"{sql_str(col)}: 'VARCHAR'" for col in columns) + "}"
    try:
        con.execute(
            "create temp table _landing_read as select * from read_csv("
            f"{sql_str(str(path))}, header = true, auto_detect = false, columns = {spec}, "
            "delim = ',', quote = '\"', escape = '\"', encoding = 'utf-8', strict_mode = true, "
            "store_rejects = true, rejects_table = '_csv_rejects', rejects_scan = '_csv_scan')"
        )
    except duckdb.Error as exc:
        text = _duckdb_error(exc, path)
        if "unicode" in text.lower() or "utf-8" in text.lower():
            raise _not_utf8(path) from exc
        raise RejectedFile("unreadable_file", f"cannot read as CSV: {text}") from exc
    encoding = con.execute(
        "select min(line) from _csv_rejects where error_type = 'INVALID ENCODING'"
    ).fetchone()
    if encoding and encoding[0] is not None:
        raise _not_utf8(path)
    # DuckDB numbers records from the header (= line 1), counting a quoted multi-line
    # field as one record; our _row_number is the 1-based data record.
    con.execute(
        "insert into _malformed select line - 1, "
        "'line ' || line || ': ' || arg_min(lower(error_type) || ' (' || error_message || ')', "
        "column_idx), arg_min(csv_line, column_idx) from _csv_rejects group by line"
    )
    _number_rows(con, columns)
    return columns


def _number_rows(con: duckdb.DuckDBPyConnection, columns: list[str]) -> None:
    """View ``_landing`` over ``_landing_read``: good record g (0-based) gets its record
    number g + 1 + (malformed records before it)."""
    cols = ", ".join(quote_ident(col) for col in columns)
    malformed = con.execute("select count(*) from _malformed").fetchone()
    if not malformed or not malformed[0]:
        con.execute(
            f"create temp view _landing as select rowid + 1 as _row_number, {cols} "
            "from _landing_read"
        )
        return
    con.execute(
        f"""
        create temp view _landing as
        with bad as (
            select _row_number as rec, row_number() over (order by _row_number) - 1 as i
            from _malformed
        ),
        steps as (select rec - 1 - i as g, max(i) + 1 as k from bad group by 1),
        good as (select rowid as g, {cols} from _landing_read)
        select good.g + 1 + coalesce(steps.k, 0) as _row_number, {cols}
        from good asof left join steps on good.g >= steps.g
        """
    )


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    p = sql_str(str(path))
    try:
        described = con.execute(f"describe select * from read_parquet({p})").fetchall()
        names = [row[0] for row in described]
        columns = normalise_columns(names)
        casts = ", ".join(
            f"cast({quote_ident(src)} as varchar) as {quote_ident(dst)}"
            for src, dst in zip(names, columns, strict=True)
        )
        con.execute(
            f"create temp table _landing_read as select file_row_number + 1 as _row_number, "
            f"{casts} from read_parquet({p}, file_row_number = true)"
        )
        con.execute("create temp view _landing as select * from _landing_read")
    except duckdb.Error as exc:
        text = _duckdb_error(exc, path)
        raise RejectedFile(
            "corrupt_parquet", f"cannot read as Parquet (truncated or damaged?): {text}"
        ) from exc
    return columns


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """One record per non-blank line; lines that are not JSON objects are malformed."""
    try:
        con.execute(
            "create temp table _jsonl_read as select line from read_csv("
            f"{sql_str(str(path))}, header = false, auto_detect = false, "
            "columns = {'line': 'VARCHAR'}, delim = E'\\x01', quote = '', escape = '', "
            "new_line = '\\r\\n', strict_mode = false, encoding = 'utf-8', "
            "store_rejects = true, rejects_table = '_csv_rejects', rejects_scan = '_csv_scan')"
        )
    except duckdb.Error as exc:
        text = _duckdb_error(exc, path)
        if "unicode" in text.lower() or "utf-8" in text.lower():
            raise _not_utf8(path) from exc
        raise RejectedFile("unreadable_file", f"cannot read as JSON Lines: {text}") from exc
    # blank lines are skipped but keep their place in the record numbers
    con.execute(
        "create temp table _jsonl as select _row_number, line from ("
        "select rowid + 1 as _row_number, line from _jsonl_read"
        ") where line is not null and trim(line) <> ''"
    )
    con.execute("drop table _jsonl_read")
    bad = con.execute(
        "select count(*), count(*) filter (where error_type = 'INVALID ENCODING') from _csv_rejects"
    ).fetchone()
    if bad and bad[1]:
        raise _not_utf8(path)
    if bad and bad[0]:
        raise RejectedFile(
            "unreadable_file", "cannot split the file into lines (stray control characters?)"
        )
    con.execute(
        "insert into _malformed select _row_number, "
        "'line ' || _row_number || ': ' || case when not json_valid(line) "
        "then 'not valid JSON' else 'a JSON ' || lower(json_type(line::json)) || "
        "', not an object' end, line from _jsonl "
        "where not json_valid(line) or json_type(line::json) <> 'OBJECT'"
    )
    malformed = con.execute("select count(*) from _malformed").fetchone()
    if malformed and malformed[0]:
        con.execute("delete from _jsonl where _row_number in (select _row_number from _malformed)")
    keys = [
        k
        for (k,) in con.execute(
            "select k from (select distinct unnest(json_keys(line::json)) as k from _jsonl) "
            "order by k"
        ).fetchall()
    ]
    columns = normalise_columns(keys)
    # One parse per line: the list form of json_extract_string takes every path at once.
    paths = ", ".join(sql_str("$." + _json_path_key(k)) for k in keys)
    cols = "".join(f", _v[{i}] as {quote_ident(n)}" for i, n in enumerate(columns, start=1))
    values = f"json_extract_string(line, [{paths}])" if keys else "[]"
    con.execute(
        f"create temp table _landing_read as select _row_number{cols} from ("
        f"select _row_number, {values} as _v from _jsonl) order by _row_number"
    )
    con.execute("drop table _jsonl")
    con.execute("create temp view _landing as select * from _landing_read")
    return columns


def _json_path_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
