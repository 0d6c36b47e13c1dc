"""Validate a landing batch with its Great Expectations suite.

The loader has already typed and checked every row in SQL (``_checked`` temp
table). This module hands the rows about to be loaded to GX as pandas
DataFrames and returns what the suite found:

* ``full``   — every candidate row, in chunks of ``quality.gx.chunk_rows``;
* ``sample`` — a deterministic sample of ``quality.gx.sample_rows`` rows.

``auto`` (the default) validates a batch in full up to
``quality.gx.full_validation_max_rows`` rows and samples larger batches: the
SQL row checks cover every row for the same invariants, so at 10M lines GX
confirms them on a sample instead of becoming the bottleneck (see
docs/data-quality.md for the measured throughput).

great_expectations is imported on first use (the import takes seconds) and runs
in an ephemeral context: nothing is written to disk.
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.ingest import contract as c
from pipelines.ingest.contract import EntityContract
from pipelines.quality.config import QualityConfig

ROW_NUMBER = "_row_number"
GOOD_ROWS = "len(_all_problems) = 0"

_SUITE_IDS = itertools.count(1)


@dataclass
class ExpectationOutcome:
    """One expectation's result over every chunk of a batch."""

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
    entity: str
    mode: str
    candidate_rows: int
    validated_rows: int
    seconds: float
    outcomes: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def rows_per_second(self) -> float:
        return self.validated_rows / self.seconds if self.seconds else 0.0

    def failed(self, tier: str) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.tier == tier and not o.success]

    def summary(self) -> dict[str, Any]:
        return {
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
def _frame_select(contract: EntityContract) -> str:
    """Typed columns under their contract names, in types pandas/GX compare cleanly."""
    parts = [ROW_NUMBER]
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


def to_frame(con: duckdb.DuckDBPyConnection, contract: EntityContract, sql: str):
    """Run ``sql`` (selecting from ``_checked``) and return a canonical pandas frame.

    Goes through Arrow: an order of magnitude faster than ``.df()`` for text columns.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy": small next to .df()
        table = con.execute(sql).to_arrow_table()
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
    return df


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


def _rows_from(entries: list[Any] | None) -> list[int]:
    """Row numbers from GX's index list (the frame's index is ``_row_number``)."""
    return [int(entry) for entry in entries or [] if not isinstance(entry, dict)]


def _validate_frame(suite, df, outcomes: list[ExpectationOutcome], sample_size: int) -> None:
    # The index carries the record numbers: GX then reports unexpected rows as a plain
    # list of index values (vectorised), not per-row lookups of an id column.
    df.index = df[ROW_NUMBER].to_numpy()
    ctx = _gx()
    batch = ctx["batch_definition"].get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite, result_format={"result_format": "SUMMARY"})
    by_id = {exp.id: exp for exp in suite.expectations}
    order = {exp.id: i for i, exp in enumerate(suite.expectations)}
    for r in result.results:
        exp_id = r.expectation_config.id
        outcome = outcomes[order[exp_id]]
        res = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            outcome.success = False
            outcome.error = str(r.exception_info.get("exception_message"))[:500]
            continue
        element_count = int(res.get("element_count") or len(df))
        missing = int(res.get("missing_count") or 0)
        unexpected = int(res.get("unexpected_count") or 0)
        # not-null expectations count nulls as unexpected; others skip them
        outcome.checked += element_count - (
            0 if outcome.expectation == "expect_column_values_to_not_be_null" else missing
        )
        outcome.unexpected += unexpected
        if not r.success and "unexpected_count" not in res:
            outcome.success = False  # table/column-level expectation (types, column set)
            outcome.error = f"observed {res.get('observed_value')!r}"
        if unexpected:
            rows = _rows_from(res.get("partial_unexpected_index_list"))
            values = res.get("partial_unexpected_list") or [None] * len(rows)
            for row, value in zip(rows, values, strict=False):
                if len(outcome.sample) < sample_size:
                    outcome.sample.append({"row": row, outcome.column or "value": value})
            if outcome.tier == "row":
                # every unexpected row number: validate this one expectation again in full
                full = batch.validate(by_id[exp_id], result_format={"result_format": "COMPLETE"})
                outcome.row_numbers += _rows_from(full.result.get("unexpected_index_list"))


def _finish(outcomes: list[ExpectationOutcome]) -> None:
    for o in outcomes:
        if o.error is not None:
            o.success = False
        elif o.tier == "batch" and o.mostly is not None:
            share = (o.checked - o.unexpected) / o.checked if o.checked else 1.0
            o.success = share >= o.mostly
        elif o.tier == "row":
            o.success = o.success and o.unexpected == 0


def validate_batch(
    con: duckdb.DuckDBPyConnection,
    contract: EntityContract,
    rules: Any,
    cfg: QualityConfig,
    where: str = GOOD_ROWS,
    mode: str | None = None,
) -> GxReport:
    """Validate the rows of ``_checked`` matching ``where`` with the entity's suite.

    ``mode="skipped"`` (a file outside the run's GX file sample) validates nothing.
    """
    started = time.monotonic()
    mode = mode or cfg.gx.mode
    row = con.execute(f"select count(*) from _checked where {where}").fetchone()
    candidates = int(row[0]) if row else 0
    if mode == "skipped":
        return GxReport(contract.entity, mode, candidates, 0, 0.0, [])
    if mode == "auto":
        mode = "full" if candidates <= cfg.gx.full_validation_max_rows else "sample"
    suite = _register_suite(contract.entity, rules, cfg)
    outcomes = _outcomes(suite)
    select = _frame_select(contract)
    validated = 0
    if mode == "sample":
        df = to_frame(
            con,
            contract,
            f"select {select} from _checked where {where} and {ROW_NUMBER} in ("
            f"select {ROW_NUMBER} from _checked where {where} "
            f"order by hash({ROW_NUMBER} + {int(cfg.gx.sample_seed)}), {ROW_NUMBER} "
            f"limit {int(cfg.gx.sample_rows)}) order by {ROW_NUMBER}",
        )
        validated = len(df)
        _validate_frame(suite, df, outcomes, cfg.log_sample_size)
    else:
        bounds = con.execute(
            f"select min({ROW_NUMBER}), max({ROW_NUMBER}) from _checked where {where}"
        ).fetchone()
        low, high = (int(bounds[0]), int(bounds[1])) if bounds and bounds[0] else (1, 0)
        step = max(cfg.gx.chunk_rows, 1)
        if candidates == 0:
            # validate an empty frame so column-level expectations still run
            df = to_frame(con, contract, f"select {select} from _checked where false")
            _validate_frame(suite, df, outcomes, cfg.log_sample_size)
        for start in range(low, high + 1, step):
            df = to_frame(
                con,
                contract,
                f"select {select} from _checked where {where} "
                f"and {ROW_NUMBER} between {start} and {start + step - 1} "
                f"order by {ROW_NUMBER}",
            )
            if len(df) == 0:
                continue
            validated += len(df)
            _validate_frame(suite, df, outcomes, cfg.log_sample_size)
    _finish(outcomes)
    return GxReport(
        entity=contract.entity,
        mode=mode,
        candidate_rows=candidates,
        validated_rows=validated,
        seconds=time.monotonic() - started,
        outcomes=outcomes,
    )
