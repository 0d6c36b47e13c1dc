"""Type and check every row of a landing file in SQL.

``build_checked_table`` turns ``_landing`` (text) into the temp table
``_checked``: typed columns ``t_<name>`` and
``_all_problems``, a list of ``'reason_code|message'`` strings (empty = good
row). The reason codes are the row checks of pipelines/quality/config.py.
Messages never repeat the value of a personal-data column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipelines.ingest import contract as c
from pipelines.ingest.contract import EntityContract
from pipelines.ingest.reader import quote_ident, sql_str
from pipelines.settings import Settings

OFFSET_PATTERN = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|UTC|[+-]\d{2}(:?\d{2})?)$"
INTEGER_PATTERN = r"[+-]?\d+(\.0*)?"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


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
    min_birth_date: dt.date
    channels: dict[str, list[str]]
    directions: list[str]

    @classmethod
    def from_settings(cls, settings: Settings, as_of: dt.date) -> IngestRules:
        cfg = settings.section("ingest")
        return cls(
            as_of=as_of,
            business_time_zone=settings.business_time_zone,
            currency=settings.currency.upper(),
            future_tolerance_days=int(cfg["future_tolerance_days"]),
            max_abs_amount=float(cfg["max_abs_amount"]),
            max_abs_quantity=float(cfg["max_abs_quantity"]),
            min_date=dt.date.fromisoformat(str(cfg["min_date"])),
            min_birth_date=dt.date.fromisoformat(str(cfg["min_birth_date"])),
            channels={k: [str(x).lower() for x in v] for k, v in cfg["channels"].items()},
            directions=[str(x).lower() for x in cfg["directions"]],
        )

    @property
    def latest_allowed(self) -> dt.date:
        return self.as_of + dt.timedelta(days=self.future_tolerance_days)


def _text(col: str) -> str:
    """The trimmed text of a column, NULL when empty (computed once as ``r_<col>``)."""
    return quote_ident(f"r_{col}")


def typed_expr(column: c.Column, tz: str) -> str:
    raw = _text(column.name)
    if column.default is not None:
        raw = f"coalesce({raw}, {sql_str(column.default)})"
    if column.type == c.TEXT:
        if column.normalise_code:
            return f"lower({raw})"
        return f"upper({raw})" if column.upper_code else raw
    if column.type == c.TIMESTAMP:
        return (
            f"case when {raw} is null then null "
            f"when regexp_matches({raw}, {sql_str(OFFSET_PATTERN)}) "
            f"then timezone({sql_str(tz)}, try_cast({raw} as timestamptz)) "
            f"else try_cast({raw} as timestamp) end"
        )
    if column.type == c.DATE:
        return f"try_cast({raw} as date)"
    if column.type == c.BOOLEAN:
        true_words = ", ".join(sql_str(w) for w in TRUE_WORDS)
        false_words = ", ".join(sql_str(w) for w in FALSE_WORDS)
        return (
            f"case when lower({raw}) in ({true_words}) then true "
            f"when lower({raw}) in ({false_words}) then false end"
        )
    if column.type == c.INTEGER:
        # try_cast would round '1.5' to 2: accept whole numbers only ('3' fast, '3.0' too)
        return (
            f"case when {raw} is null then null "
            f"when not contains({raw}, '.') and not contains(lower({raw}), 'e') "
            f"then try_cast({raw} as integer) "
            f"when regexp_full_match({raw}, {sql_str(INTEGER_PATTERN)}) "
            f"then try_cast(try_cast({raw} as decimal(38, 6)) as integer) end"
        )
    return f"try_cast({raw} as {c.DUCKDB_TYPES[column.type]})"


@dataclass(frozen=True)
class Problem:
    condition: str  # SQL boolean: the row has this problem
    code: str
    message: str  # SQL text, evaluated only for rows with the problem

    @property
    def sql(self) -> str:
        return f"case when {self.condition} then {sql_str(self.code + '|')} || {self.message} end"


def _problem(condition: str, code: str, message_sql: str) -> Problem:
    return Problem(condition, code, message_sql)


def _value(col: c.Column, expr: str) -> str:
    """SQL for the value inside a message; personal data is not repeated."""
    return "'(value hidden)'" if col.pii else f"'''' || {expr} || ''''"


def row_checks(contract: EntityContract, rules: IngestRules) -> list[Problem]:
    """Every problem a row of this entity can have."""
    checks: list[Problem] = []
    for col in contract.columns:
        raw = _text(col.name)
        typed = quote_ident(f"t_{col.name}")
        label = sql_str(f"{col.name}: ")
        if col.required:
            checks.append(
                _problem(
                    f"{raw} is null", "missing_required", f"{label} || 'required value is empty'"
                )
            )
        if col.type in (c.MONEY, c.QUANTITY, c.INTEGER):
            untyped = f"{raw} is not null and {typed} is null"
            finite = f"isfinite(try_cast({raw} as double))"
            checks.append(
                _problem(
                    f"case when {untyped} then coalesce({finite}, false) else false end",
                    "numeric_out_of_range" if col.type != c.INTEGER else "not_numeric",
                    f"{label} || {_value(col, raw)} || "
                    + (
                        "' is not a whole number'"
                        if col.type == c.INTEGER
                        else f"' is too large for {c.DUCKDB_TYPES[col.type]}'"
                    ),
                )
            )
            checks.append(
                _problem(
                    f"case when {untyped} then not coalesce({finite}, false) else false end",
                    "not_numeric",
                    f"{label} || {_value(col, raw)} || ' is not a number'",
                )
            )
        elif col.type != c.TEXT:
            kind, code = {
                c.TIMESTAMP: ("a valid timestamp", "invalid_timestamp"),
                c.DATE: ("a valid date", "invalid_date"),
                c.BOOLEAN: ("a boolean (true/false/yes/no/1/0)", "invalid_boolean"),
            }[col.type]
            checks.append(
                _problem(
                    f"{raw} is not null and {typed} is null",
                    code,
                    f"{label} || {_value(col, raw)} || ' is not {kind}'",
                )
            )
        if col.type == c.MONEY:
            checks.append(
                _problem(
                    f"abs({typed}) > {rules.max_abs_amount}",
                    "amount_outlier",
                    f"{label} || cast({typed} as varchar) || ' exceeds the limit "
                    f"{rules.max_abs_amount:g}'",
                )
            )
        if col.type == c.QUANTITY:
            checks.append(
                _problem(
                    f"abs({typed}) > {rules.max_abs_quantity}",
                    "quantity_outlier",
                    f"{label} || cast({typed} as varchar) || ' exceeds the limit "
                    f"{rules.max_abs_quantity:g}'",
                )
            )
        if col.type in (c.TIMESTAMP, c.DATE):
            shown = _value(col, f"cast({typed} as varchar)")
            checks.append(
                _problem(
                    f"cast({typed} as date) > date '{rules.latest_allowed.isoformat()}'",
                    "future_date",
                    f"{label} || {shown} || ' is after as_of "
                    f"{rules.as_of.isoformat()} + {rules.future_tolerance_days} day(s)'",
                )
            )
            floor = rules.min_birth_date if col.name == "birth_date" else rules.min_date
            checks.append(
                _problem(
                    f"cast({typed} as date) < date '{floor.isoformat()}'",
                    "implausible_date",
                    f"{label} || {shown} || ' is before {floor.isoformat()}'",
                )
            )
    checks += _entity_checks(contract, rules)
    return checks


def _entity_checks(contract: EntityContract, rules: IngestRules) -> list[Problem]:
    entity = contract.entity
    names = contract.names
    checks: list[Problem] = []
    if "channel" in names and entity in rules.channels:
        allowed = ", ".join(sql_str(x) for x in rules.channels[entity])
        checks.append(
            _problem(
                f"t_channel is not null and t_channel not in ({allowed})",
                "unknown_channel",
                f"'channel: ''' || t_channel || ''' is not one of "
                f"{', '.join(rules.channels[entity])}'",
            )
        )
    if "direction" in names:
        allowed = ", ".join(sql_str(x) for x in rules.directions)
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
                f"t_currency is not null and t_currency <> {sql_str(rules.currency)}",
                "foreign_currency",
                f"'currency: ''' || t_currency || ''' differs from the configured "
                f"{rules.currency}'",
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
                "'line_number: ' || cast(t_line_number as varchar) || ' is below 1'",
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
    if entity == "campaigns":
        checks.append(
            _problem(
                "t_end_date < t_start_date",
                "end_before_start",
                "'end_date: ' || cast(t_end_date as varchar) || ' is before start_date ' || "
                "cast(t_start_date as varchar)",
            )
        )
    return checks


def _original(present: set[str], alias: str, name: str) -> str:
    """A row's original text of a column (NULL when the file does not have the column)."""
    return f"{alias}.{quote_ident(name)}" if name in present else "cast(null as varchar)"


def build_checked_table(
    con: duckdb.DuckDBPyConnection, contract: EntityContract, rules: IngestRules, present: set[str]
) -> None:
    """Temp table ``_checked``: ``_row_number``, typed columns t_* and ``_all_problems``.

    The original text stays in ``_landing`` (joined back for quarantined rows only)."""
    text_cols, typed_cols = [], []
    for col in contract.columns:
        if col.name in present:
            text_cols.append(
                f"nullif(trim({quote_ident(col.name)}), '') as {quote_ident('r_' + col.name)}"
            )
        else:  # an absent optional column reads as empty text
            text_cols.append(f"cast(null as varchar) as {quote_ident('r_' + col.name)}")
        typed_cols.append(
            f"{typed_expr(col, rules.business_time_zone)} as {quote_ident('t_' + col.name)}"
        )
    problems = row_checks(contract, rules)
    any_problem = " or ".join(f"({p.condition})" for p in problems)
    listed = ",\n".join(p.sql for p in problems)
    t_names = ", ".join(quote_ident("t_" + n) for n in contract.names)
    con.execute("drop table if exists _checked")
    con.execute(
        f"""
        create temp table _checked as
        with src as (select _row_number, {", ".join(text_cols)} from _landing),
        typed as (select *, {", ".join(typed_cols)} from src)
        select _row_number, {t_names},
            -- the list of problems is only built for rows that have one
            case when {any_problem}
                then list_filter([{listed}], lambda x: x is not null)
                else []::varchar[]
            end as _all_problems
        from typed
        """
    )
    _mark_duplicates(con, contract, present)


def _mark_duplicates(
    con: duckdb.DuckDBPyConnection, contract: EntityContract, present: set[str]
) -> None:
    """Among rows without other problems, a later record with the key of an earlier one is a
    ``duplicate_row`` (exact copy of the original text) or ``duplicate_key`` (other values)."""
    keys = ", ".join(quote_ident("t_" + k) for k in contract.key)
    join = " and ".join(
        f"d.{quote_ident('t_' + k)} = f.{quote_ident('t_' + k)}" for k in contract.key
    )
    same = " and ".join(
        f"{_original(present, 'ld', n)} is not distinct from {_original(present, 'lf', n)}"
        for n in contract.names
    )
    key_list = ", ".join(contract.key)
    con.execute("drop table if exists _dups")
    con.execute(
        f"""
        create temp table _dups as
        with ok as (select _row_number, {keys} from _checked where len(_all_problems) = 0),
        firsts as (
            select {keys}, min(_row_number) as _first_row
            from ok group by {keys} having count(*) > 1
        ),
        pairs as (
            select d._row_number, f._first_row
            from ok d join firsts f on {join}
            where d._row_number > f._first_row
        )
        select pairs._row_number,
            case when {same}
                then 'duplicate_row|exact copy of record ' || pairs._first_row
                    || ' in the same file'
                else 'duplicate_key|key ({key_list}) already used by record '
                    || pairs._first_row || ' in the same file with different values'
            end as problem
        from pairs
        join _landing ld on ld._row_number = pairs._row_number
        join _landing lf on lf._row_number = pairs._first_row
        """
    )
    con.execute(
        "update _checked set _all_problems = [_dups.problem] from _dups "
        "where _checked._row_number = _dups._row_number"
    )
