"""Expectations every entity's suite shares, derived from the landing contract.

Each expectation carries ``meta``:

* ``tier: row`` — a contract invariant. The SQL row checks in the loader enforce
  the same rule on every row and quarantine violations with ``reason_code``; the
  GX suite runs on the rows about to be loaded, so any unexpected row here is a
  row the SQL checks let through (check ``gx_contract``).
* ``tier: batch`` — a property of each file as a whole (shares, with ``mostly``);
  a failure is logged as the check named in ``meta.check``.

great_expectations is imported inside the functions: importing it takes seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pipelines.ingest import contract as c
from pipelines.ingest.contract import EntityContract

# The frame's bookkeeping columns (pipelines.ingest.checks): record number and file index.
ROW_NUMBER = "_row_number"
FILE_INDEX = "_file_index"

if TYPE_CHECKING:  # pragma: no cover
    from pipelines.ingest.loader import IngestRules
    from pipelines.quality.config import QualityConfig

# dtype of each logical type in the validation frame (see pipelines.ingest.checks.to_frame).
FRAME_TYPES = {
    c.TEXT: "str",
    c.TIMESTAMP: "datetime64[ns]",
    c.DATE: "datetime64[ns]",
    c.MONEY: "float64",
    c.QUANTITY: "float64",
    c.INTEGER: "float64",
    c.BOOLEAN: "bool",
}


def row_meta(reason_code: str, column: str | None = None) -> dict[str, Any]:
    return {"tier": "row", "reason_code": reason_code, "column": column}


def batch_meta(check: str, column: str | None = None) -> dict[str, Any]:
    return {"tier": "batch", "check": check, "column": column}


def _midnight(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time()).isoformat()


def contract_expectations(contract: EntityContract, rules: IngestRules) -> list:
    """Required columns, types, date ranges and key uniqueness for one entity."""
    import great_expectations.expectations as gxe

    out: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[ROW_NUMBER, FILE_INDEX, *contract.names],
            exact_match=True,
            meta=row_meta("missing_required"),
        )
    ]
    for col in contract.columns:
        if col.required:
            out.append(
                gxe.ExpectColumnValuesToNotBeNull(
                    column=col.name, meta=row_meta("missing_required", col.name)
                )
            )
        if col.type != c.TEXT:
            code = {
                c.TIMESTAMP: "invalid_timestamp",
                c.DATE: "invalid_date",
                c.BOOLEAN: "invalid_boolean",
            }.get(col.type, "not_numeric")
            out.append(
                gxe.ExpectColumnValuesToBeInTypeList(
                    column=col.name,
                    type_list=[FRAME_TYPES[col.type]],
                    meta=row_meta(code, col.name),
                )
            )
        if col.type == c.MONEY:
            out.append(abs_limit(col.name, rules.max_abs_amount, "amount_outlier"))
        if col.type == c.QUANTITY:
            out.append(abs_limit(col.name, rules.max_abs_quantity, "quantity_outlier"))
        if col.type in (c.TIMESTAMP, c.DATE):
            floor = rules.min_birth_date if col.name == "birth_date" else rules.min_date
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name,
                    min_value=_midnight(floor),
                    meta=row_meta("implausible_date", col.name),
                )
            )
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name,
                    max_value=_midnight(rules.latest_allowed + dt.timedelta(days=1)),
                    strict_max=True,
                    meta=row_meta("future_date", col.name),
                )
            )
    # Unique within one file (one file = one batch): a frame may hold the rows of several
    # files, so the key is compound with the file index. Rows with a missing key value are
    # left out (missing_required covers them), as a one-column uniqueness check does.
    out.append(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=[FILE_INDEX, *contract.key],
            ignore_row_if="any_value_is_missing",
            meta=row_meta("duplicate_key", contract.key[0] if len(contract.key) == 1 else None),
        )
    )
    return out


def allowed_values(column: str, values: list[str], reason_code: str) -> Any:
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeInSet(
        column=column, value_set=list(values), meta=row_meta(reason_code, column)
    )


def abs_limit(column: str, limit: float, reason_code: str) -> Any:
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=-limit, max_value=limit, meta=row_meta(reason_code, column)
    )


def threshold(cfg: QualityConfig, name: str) -> float:
    value = cfg.gx.thresholds.get(name)
    if value is None:
        raise KeyError(f"crm.yml quality.gx.thresholds.{name} is not set")
    return value
