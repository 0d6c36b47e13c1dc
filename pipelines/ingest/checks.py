"""Validate landing batches with their Great Expectations suite.

The loader has already typed and checked every row in SQL (one ``_checked``
table per file). This module hands the rows about to be loaded to GX as pandas
DataFrames and returns what the suite found, **per file**:

* ``full``   — every candidate row, in chunks of ``quality.gx.chunk_rows``;
* ``sample`` — a deterministic sample of ``quality.gx.sample_rows`` rows.

``auto`` (the default) validates in full up to ``quality.gx.full_validation_max_rows``
rows and samples above: the SQL row checks cover every row for the same invariants,
so at 10M lines GX confirms them on a sample instead of becoming the bottleneck (see
docs/data-quality.md for the measured throughput).

A GX validation costs ~0.5–1 s whatever the row count (GX builds its metric graph
for every expectation), so :func:`validate_files` validates the candidate rows of
*several files together*: one frame holds the rows of many files, a column
``_file_index`` says whose row each is, and the frame index is
``_file_index * ID_BASE + _row_number``. Every result is then split back per file:

* row-tier unexpected rows by their index (file, record number);
* element and missing counts per file from the frame, so batch-tier shares
  (``mostly``) are each file's own share;
* key uniqueness is ``(_file_index, key...)`` in the suites: a key that appears
  once in each of two files is not a duplicate (one file = one batch).

Validating files one by one or together gives every file the same outcome.

great_expectations is imported on first use (the import takes seconds) and runs
in an ephemeral context: nothing is written to disk.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.ingest import contract as c
from pipelines.ingest import gx_worker
from pipelines.ingest.contract import EntityContract
from pipelines.ingest.gx_worker import GxWorkerError
from pipelines.quality.config import QualityConfig
from pipelines.quality.suites.base import FILE_INDEX, ROW_NUMBER

# frame index of a row: file index * ID_BASE + record number (records stay below 10^12)
ID_BASE = 10**12
GOOD_ROWS = "len(_all_problems) = 0"
NOT_NULL = "expect_column_values_to_not_be_null"

_SUITE_IDS = itertools.count(1)
log = logging.getLogger(__name__)


@dataclass
class ExpectationOutcome:
    """One expectation's result for one file, over every frame that held its rows."""

    expectation: str
    tier: str  # row | batch
    code: str  # reason code (row tier) or check name (batch tier)
    column: str | None
    mostly: float | None = None
    success: bool = True
    checked: int = 0
    unexpected: int = 0
    row_numbers: list[int] = field(default_factory=list)
    sample: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass
class GxReport:
    """What the suite found in one file (``seconds``: the file's share of the run)."""

    entity: str
    mode: str
    candidate_rows: int
    validated_rows: int
    seconds: float
    outcomes: list[ExpectationOutcome]
    # the validation run the file shared with other files (files, rows, suite runs, seconds)
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def rows_per_second(self) -> float:
        return self.validated_rows / self.seconds if self.seconds else 0.0

    def failed(self, tier: str) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.tier == tier and not o.success]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode,
            "candidate_rows": self.candidate_rows,
            "validated_rows": self.validated_rows,
            "seconds": round(self.seconds, 3),
            "expectations": len(self.outcomes),
            "failed": [
                {"expectation": o.label, "code": o.code, "unexpected": o.unexpected}
                for o in self.outcomes
                if not o.success
            ],
        }
        if self.shared:
            out["shared"] = self.shared
        return out


@dataclass(frozen=True)
class GxInput:
    """One file's part of a validation: its table of checked rows and the rows to validate."""

    table: str = "_checked"
    where: str = GOOD_ROWS


# ---------------------------------------------------------------------------------
# GX context (ephemeral, created once per process)
# ---------------------------------------------------------------------------------
def _gx() -> dict[str, Any]:
    from pipelines.quality.suites import gx_context

    return gx_context()


# Registered suites by (entity, rules, settings): every file of a night shares its
# entity's suite, so it is built and registered once per process, not once per file.
_SUITES: dict[tuple[str, str, str], Any] = {}
_MAX_SUITES = 16


def _register_suite(entity: str, rules: Any, cfg: QualityConfig):
    from pipelines.quality.suites import build_suite

    key = (entity, repr(rules), repr(cfg))
    suite = _SUITES.get(key)
    if suite is not None:
        return suite
    ctx = _gx()
    while len(_SUITES) >= _MAX_SUITES:  # a long-lived process: forget the oldest
        ctx["context"].suites.delete(_SUITES.pop(next(iter(_SUITES))).name)
    suite = build_suite(entity, rules, cfg)
    suite.name = f"{entity}_{next(_SUITE_IDS)}"
    _SUITES[key] = ctx["context"].suites.add(suite)
    return _SUITES[key]


# ---------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------
def _frame_select(contract: EntityContract, file_index: int = 0) -> str:
    """Typed columns under their contract names, in types pandas/GX compare cleanly."""
    parts = [ROW_NUMBER, f"cast({int(file_index)} as bigint) as {FILE_INDEX}"]
    for col in contract.columns:
        typed = f'"t_{col.name}"'
        if col.type in (c.TIMESTAMP, c.DATE):
            # keep values outside pandas' nanosecond range visible but representable
            typed = (
                f"case when {typed} is not null then least(greatest(cast({typed} as timestamp), "
                "timestamp '1700-01-01'), timestamp '2200-01-01') end"
            )
        elif col.type in (c.MONEY, c.QUANTITY, c.INTEGER):
            typed = f"cast({typed} as double)"
        parts.append(f'{typed} as "{col.name}"')
    return ", ".join(parts)


def _arrow(con: duckdb.DuckDBPyConnection, sql: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy": small next to .df()
        return con.execute(sql).to_arrow_table()


def _to_pandas(table, contract: EntityContract):
    df = table.to_pandas()
    for col in contract.columns:
        series = df[col.name]
        if col.type in (c.TIMESTAMP, c.DATE):
            df[col.name] = series.astype("datetime64[ns]")
        elif col.type in (c.MONEY, c.QUANTITY, c.INTEGER):
            df[col.name] = series.astype("float64")
        else:  # text and booleans: Python objects, None for missing
            df[col.name] = series.astype(object).where(series.notna(), None)
    df[ROW_NUMBER] = df[ROW_NUMBER].astype("int64")
    df[FILE_INDEX] = df[FILE_INDEX].astype("int64")
    return df


def to_frame(con: duckdb.DuckDBPyConnection, contract: EntityContract, sql: str):
    """Run ``sql`` (selecting :func:`_frame_select` columns) and return a canonical frame.

    Goes through Arrow: an order of magnitude faster than ``.df()`` for text columns.
    """
    return _to_pandas(_arrow(con, sql), contract)


@dataclass(frozen=True)
class _Piece:
    """Candidate rows of one file with record numbers in [low, high]."""

    file_index: int
    low: int
    high: int
    rows: int


def _pieces(con: duckdb.DuckDBPyConnection, inputs: list[GxInput], step: int) -> list[_Piece]:
    """Every file's candidate rows cut into record ranges of at most ``step`` rows."""
    out: list[_Piece] = []
    for k, inp in enumerate(inputs):
        ranges = con.execute(
            f"select ({ROW_NUMBER} - 1) // {step} as p, min({ROW_NUMBER}), max({ROW_NUMBER}), "
            f"count(*) from {inp.table} where {inp.where} group by p order by p"
        ).fetchall()
        out += [_Piece(k, int(low), int(high), int(n)) for _, low, high, n in ranges]
    return out


def _piece_frame(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    inputs: list[GxInput],
    pieces: list[_Piece],
    extra: str = "true",
):
    """One frame of the rows of ``pieces`` (the empty frame when there are none)."""
    if not pieces:
        sql = f"select {_frame_select(contract)} from {inputs[0].table} where false"
        return to_frame(con, contract, sql)
    import pyarrow as pa

    tables = []
    for p in pieces:
        inp = inputs[p.file_index]
        cond = extra.format(k=p.file_index)
        tables.append(
            _arrow(
                con,
                f"select {_frame_select(contract, p.file_index)} from {inp.table} "
                f"where {inp.where} and {ROW_NUMBER} between {p.low} and {p.high} "
                f"and {cond} order by {ROW_NUMBER}",
            )
        )
    return _to_pandas(pa.concat_tables(tables), contract)


def _full_frames(
    con: duckdb.DuckDBPyConnection, contract: EntityContract, inputs: list[GxInput], step: int
) -> Iterator[Any]:
    """Frames of at most ``step`` rows: whole small files packed together, big files cut."""
    chunk: list[_Piece] = []
    size = 0
    for piece in _pieces(con, inputs, step):
        if chunk and size + piece.rows > step:
            yield _piece_frame(con, contract, inputs, chunk)
            chunk, size = [], 0
        chunk.append(piece)
        size += piece.rows
    yield _piece_frame(con, contract, inputs, chunk)  # an empty frame still checks columns


def _sample_frame(
    con: duckdb.DuckDBPyConnection, contract: EntityContract, inputs: list[GxInput], cfg
) -> Any:
    """A deterministic sample of ``sample_rows`` over every file's candidate rows: the rows
    with the smallest ``hash(_row_number + seed + file index * ID_BASE)``."""
    seed, size = int(cfg.gx.sample_seed), int(cfg.gx.sample_rows)
    con.execute("drop table if exists _gx_pick")
    con.execute(f"create temp table _gx_pick ({FILE_INDEX} bigint, {ROW_NUMBER} bigint, h ubigint)")
    for k, inp in enumerate(inputs):
        # a file's own smallest hashes: the sample over all files is among them
        con.execute(
            f"insert into _gx_pick select {k}, {ROW_NUMBER}, "
            f"hash({ROW_NUMBER} + {seed} + {k * ID_BASE}) as h from {inp.table} "
            f"where {inp.where} order by h, {ROW_NUMBER} limit {size}"
        )
    con.execute("drop table if exists _gx_sample")
    con.execute(
        f"create temp table _gx_sample as select {FILE_INDEX}, {ROW_NUMBER} from _gx_pick "
        f"order by h, {FILE_INDEX}, {ROW_NUMBER} limit {size}"
    )
    pieces = [
        _Piece(int(k), int(low), int(high), int(n))
        for k, low, high, n in con.execute(
            f"select {FILE_INDEX}, min({ROW_NUMBER}), max({ROW_NUMBER}), count(*) "
            f"from _gx_sample group by 1 order by 1"
        ).fetchall()
    ]
    frame = _piece_frame(
        con,
        contract,
        inputs,
        pieces,
        extra=f"{ROW_NUMBER} in (select {ROW_NUMBER} from _gx_sample where {FILE_INDEX} = {{k}})",
    )
    con.execute("drop table _gx_pick")
    con.execute("drop table _gx_sample")
    return frame


# ---------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------
def _outcomes(suite) -> list[ExpectationOutcome]:
    out = []
    for exp in suite.expectations:
        meta = exp.meta or {}
        tier = meta.get("tier", "row")
        out.append(
            ExpectationOutcome(
                expectation=exp.expectation_type,
                tier=tier,
                code=meta.get("reason_code") if tier == "row" else meta.get("check"),
                column=meta.get("column"),
                mostly=getattr(exp, "mostly", None) if tier == "batch" else None,
            )
        )
    return out


def _ids_from(entries: list[Any] | None) -> list[int]:
    """Frame index values from GX's index list (the index is the (file, record) id)."""
    return [int(entry) for entry in entries or [] if not isinstance(entry, dict)]


def _sample_value(value: Any) -> Any:
    """A value as an analyst reads it: without the file index of compound keys."""
    if isinstance(value, dict) and FILE_INDEX in value:
        rest = {k: v for k, v in value.items() if k != FILE_INDEX}
        return next(iter(rest.values())) if len(rest) == 1 else rest
    return value


def _ignored_rows(exp: Any, df) -> Any:
    """Rows GX leaves out of an expectation (its missing values), as a boolean Series."""
    cols = getattr(exp, "column_list", None)
    if cols:
        how = getattr(exp, "ignore_row_if", None) or "all_values_are_missing"
        missing = df[list(cols)].isna()
        return missing.any(axis=1) if how == "any_value_is_missing" else missing.all(axis=1)
    pair = [getattr(exp, "column_A", None), getattr(exp, "column_B", None)]
    if all(pair):
        how = getattr(exp, "ignore_row_if", None) or "both_values_are_missing"
        missing = df[pair].isna()
        return missing.any(axis=1) if how == "either_value_is_missing" else missing.all(axis=1)
    return df[exp.column].isna()


def _validate_frame(
    suite, df, outcomes: list[list[ExpectationOutcome]], sample_size: int
) -> dict[int, int]:
    """Validate one frame; add each file's share of every result to ``outcomes[file]``.

    Returns the rows validated per file index.
    """
    # The index carries (file, record): GX then reports unexpected rows as a plain list
    # of index values (vectorised), not per-row lookups of id columns.
    df.index = (df[FILE_INDEX] * ID_BASE + df[ROW_NUMBER]).to_numpy()
    rows = {int(k): int(n) for k, n in df[FILE_INDEX].value_counts().items()}
    # an empty frame stands for every file (column-level expectations still run)
    files = sorted(rows) or list(range(len(outcomes)))
    ctx = _gx()
    batch = ctx["batch_definition"].get_batch(batch_parameters={"dataframe": df})
    # COMPLETE: every unexpected row's index and value (measured: no slower than SUMMARY)
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    position = {exp.id: i for i, exp in enumerate(suite.expectations)}
    for r in result.results:
        i = position[r.expectation_config.id]
        mine = [outcomes[k][i] for k in files]
        res = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            for o in mine:
                o.success = False
                o.error = str(r.exception_info.get("exception_message"))[:500]
            continue
        if not r.success and "unexpected_count" not in res:
            for o in mine:  # table/column-level expectation (types, column set)
                o.success = False
                o.error = f"observed {res.get('observed_value')!r}"
        _split(suite.expectations[i], res, df, rows, [o[i] for o in outcomes], sample_size)
    return rows


def _split(
    exp: Any,
    res: dict[str, Any],
    df,
    rows: dict[int, int],
    outcomes: list[ExpectationOutcome],
    sample_size: int,
) -> None:
    """Add one expectation's result on a frame to the outcome of each file in it."""
    missing: dict[int, int] = {}
    total_missing = int(res.get("missing_count") or 0)
    if len(rows) == 1:
        missing = {k: total_missing for k in rows}
    elif total_missing:  # which file's rows GX left out
        ignored = _ignored_rows(exp, df)
        missing = {int(k): int(n) for k, n in df.loc[ignored, FILE_INDEX].value_counts().items()}
    for k, n in rows.items():
        element = int(res.get("element_count") or n) if len(rows) == 1 else n
        # not-null expectations count nulls as unexpected; others skip them
        outcomes[k].checked += element - (
            0 if exp.expectation_type == NOT_NULL else missing.get(k, 0)
        )
    ids = _ids_from(res.get("unexpected_index_list"))
    values = res.get("unexpected_list") or [None] * len(ids)
    unlisted = int(res.get("unexpected_count") or 0) - len(ids)
    if unlisted > 0:  # GX counted rows it did not list: attribute them only when certain
        for k in rows:
            if len(rows) == 1:
                outcomes[k].unexpected += unlisted
            else:
                outcomes[k].error = f"GX reported {unlisted} unexpected row(s) without an index"
    for row_id, value in sorted(zip(ids, values, strict=False), key=lambda pair: pair[0]):
        k, row = divmod(row_id, ID_BASE)
        o = outcomes[k]
        o.unexpected += 1
        if o.tier == "row":
            o.row_numbers.append(row)
        if len(o.sample) < sample_size:
            o.sample.append({"row": row, o.column or "value": _sample_value(value)})


def _finish(outcomes: list[ExpectationOutcome]) -> None:
    for o in outcomes:
        if o.error is not None:
            o.success = False
        elif o.tier == "batch" and o.mostly is not None:
            share = (o.checked - o.unexpected) / o.checked if o.checked else 1.0
            o.success = share >= o.mostly
        elif o.tier == "row":
            o.success = o.success and o.unexpected == 0


def _count(con: duckdb.DuckDBPyConnection, inp: GxInput) -> int:
    row = con.execute(f"select count(*) from {inp.table} where {inp.where}").fetchone()
    return int(row[0]) if row else 0


class GxSession:
    """One GX run over several files' frames: the entity's suite, each file's outcomes."""

    def __init__(self, entity: str, rules: Any, cfg: QualityConfig, files: int) -> None:
        self.suite = _register_suite(entity, rules, cfg)
        self.sample_size = cfg.log_sample_size
        self.outcomes = [_outcomes(self.suite) for _ in range(files)]
        self.validated = [0] * files
        self.runs = 0

    def add(self, df) -> None:
        self.runs += 1
        for k, n in _validate_frame(self.suite, df, self.outcomes, self.sample_size).items():
            self.validated[k] += n

    def finish(self) -> tuple[list[list[ExpectationOutcome]], list[int], int]:
        return self.outcomes, self.validated, self.runs


def _run_session(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    rules: Any,
    cfg: QualityConfig,
    inputs: list[GxInput],
    mode: str,
    remote: bool = False,
) -> tuple[list[list[ExpectationOutcome]], list[int], int]:
    """Validate the inputs' frames in the GX worker (when ``remote`` and one is running),
    else in this process."""
    worker = gx_worker.current() if remote else None
    args = (contract.entity, rules, cfg, len(inputs))
    session = gx_worker.RemoteSession(worker, *args) if worker else GxSession(*args)
    frames = (
        iter([_sample_frame(con, contract, inputs, cfg)])
        if mode == "sample"
        else _full_frames(con, contract, inputs, max(cfg.gx.chunk_rows, 1))
    )
    for df in frames:
        session.add(df)
    return session.finish()


def skipped_report(
    con: duckdb.DuckDBPyConnection, contract: EntityContract, inp: GxInput | None = None
) -> GxReport:
    """The report of a file outside the run's GX file sample: nothing validated."""
    return GxReport(contract.entity, "skipped", _count(con, inp or GxInput()), 0, 0.0, [])


# One GX session at a time per process: the worker's pipe carries one session, and GX's
# context is not shared between threads (entities may load in parallel).
_GX_LOCK = threading.Lock()


def validate_files(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    rules: Any,
    cfg: QualityConfig,
    inputs: list[GxInput],
    mode: str | None = None,
) -> list[GxReport]:
    """Validate the candidate rows of several files together; one report per input.

    ``auto`` picks ``full`` or ``sample`` from the rows of all inputs together. Each
    report holds that file's own outcomes (counts, flagged record numbers, shares) and,
    in ``shared``, the run it was part of; its ``seconds`` is the file's share of the
    run by validated rows.
    """
    if not inputs:
        return []
    started = time.monotonic()
    counts = [_count(con, inp) for inp in inputs]
    mode = mode or cfg.gx.mode
    if mode == "auto":
        mode = "full" if sum(counts) <= cfg.gx.full_validation_max_rows else "sample"
    asked = time.monotonic()
    with _GX_LOCK:
        waited = time.monotonic() - asked  # another entity's session: not this run's time
        try:
            outcomes, validated, runs = _run_session(
                con, contract, rules, cfg, inputs, mode, remote=True
            )
        except GxWorkerError as exc:
            log.warning("%s: validating %s in-process instead", exc, contract.entity)
            outcomes, validated, runs = _run_session(con, contract, rules, cfg, inputs, mode)
    seconds = time.monotonic() - started - waited
    total = sum(validated)
    shared = {
        "files": len(inputs),
        "candidate_rows": sum(counts),
        "validated_rows": total,
        "suite_runs": runs,
        "seconds": round(seconds, 3),
    }
    reports = []
    for k, outs in enumerate(outcomes):
        _finish(outs)
        share = validated[k] / total if total else 1 / len(inputs)
        reports.append(
            GxReport(contract.entity, mode, counts[k], validated[k], seconds * share, outs, shared)
        )
    return reports


def validate_batch(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    rules: Any,
    cfg: QualityConfig,
    where: str = GOOD_ROWS,
    mode: str | None = None,
) -> GxReport:
    """Validate the rows of ``_checked`` matching ``where`` (one file) with the entity's suite.

    ``mode="skipped"`` (a file outside the run's GX file sample) validates nothing.
    """
    inp = GxInput("_checked", where)
    if (mode or cfg.gx.mode) == "skipped":
        return skipped_report(con, contract, inp)
    return validate_files(con, contract, rules, cfg, [inp], mode)[0]
