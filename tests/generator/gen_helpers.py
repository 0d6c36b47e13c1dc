"""Independent readers of a generated home (DuckDB over the landing files, as text)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

END = dt.date(2026, 11, 21)

COLUMNS = {
    "customers": (
        "source_system", "source_customer_id", "updated_at", "first_name", "last_name", "email",
        "phone", "birth_date", "gender", "postal_code", "city", "district", "region", "country",
        "signup_at", "consent_email", "consent_sms", "consent_phone", "consent_mail",
        "referred_by", "loyalty_id",
    ),
    "transactions": (
        "source_system", "transaction_id", "line_number", "source_customer_id", "occurred_at",
        "channel", "store_id", "product_id", "quantity", "amount", "discount", "currency",
        "unit_cost", "campaign_id",
    ),
    "contacts": (
        "source_system", "contact_id", "source_customer_id", "occurred_at", "channel",
        "direction", "contact_type", "campaign_id", "outcome", "cost",
    ),
    "campaigns": (
        "campaign_id", "name", "campaign_type", "channel", "start_date", "end_date",
        "cost_per_contact",
    ),
    "products": ("product_id", "name", "category", "department", "brand", "unit_cost"),
}  # fmt: skip


def source_sql(path: Path, entity: str) -> str:
    """SELECT of one file: every contract column as VARCHAR plus file name and 1-based line."""
    p = str(path).replace("'", "''")
    cols = COLUMNS[entity]
    if path.suffix == ".csv":
        src = f"read_csv('{p}', all_varchar=true, header=true, auto_detect=true)"
    elif path.suffix == ".parquet":
        src = f"read_parquet('{p}')"
    else:
        spec = ", ".join(f"{c}: 'VARCHAR'" for c in cols)
        src = f"read_json('{p}', format='newline_delimited', columns={{{spec}}})"
    casts = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in cols)
    return (
        f"SELECT {casts}, '{path.name}' AS file, row_number() OVER () AS line, "
        f"'{path.suffix[1:]}' AS fmt FROM {src}"
    )


def connect(landing: Path) -> duckdb.DuckDBPyConnection:
    """Views tx, cu, co, ca, pr over all landing files (text columns + file + line)."""
    con = duckdb.connect()
    con.execute("SET threads=1")
    con.execute("SET GLOBAL TimeZone='Asia/Seoul'")
    for entity, view in (("transactions", "tx"), ("customers", "cu"), ("contacts", "co"),
                         ("campaigns", "ca"), ("products", "pr")):  # fmt: skip
        files = sorted((landing / entity).glob("*.*"))
        sql = " UNION ALL ".join(source_sql(f, entity) for f in files)
        con.execute(f"CREATE TABLE {view} AS {sql}")
    return con


def detect_dirty_sql(view: str, entity: str, as_of: str, channels: list[str]) -> str:
    """Our own rules (not the generator's code): one reason per bad row, NULL when clean."""
    req = {
        "transactions": ("transaction_id", "occurred_at", "product_id", "amount", "quantity",
                         "channel", "source_system"),
        "customers": ("source_customer_id", "updated_at", "source_system"),
        "contacts": ("contact_id", "source_customer_id", "occurred_at", "channel", "direction"),
    }[entity]  # fmt: skip
    ts = "updated_at" if entity == "customers" else "occurred_at"
    cols = ", ".join(COLUMNS[entity])
    chan = ", ".join(f"'{c}'" for c in channels)
    missing = " OR ".join(f"{c} IS NULL" for c in req)
    parts = [f"WHEN {missing} THEN 'missing_required'"]
    parts.append(
        f"WHEN TRY_CAST({ts} AS TIMESTAMPTZ) IS NULL AND "
        f"regexp_matches({ts}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') THEN 'impossible_date'"
    )
    parts.append(f"WHEN TRY_CAST({ts} AS TIMESTAMPTZ) IS NULL THEN 'unparseable_date'")
    parts.append(
        f"WHEN TRY_CAST({ts} AS TIMESTAMPTZ) >= TIMESTAMPTZ '{as_of} 00:00:00+09:00' "
        "+ INTERVAL 2 DAY THEN 'future_date'"
    )
    if entity == "transactions":
        parts += [
            "WHEN TRY_CAST(amount AS HUGEINT) IS NULL THEN 'non_numeric_amount'",
            "WHEN abs(TRY_CAST(amount AS HUGEINT)) > 100000000 THEN 'amount_outlier'",
            f"WHEN lower(trim(channel)) NOT IN ({chan}) THEN 'unknown_channel'",
            "WHEN TRY_CAST(quantity AS BIGINT) < 0 AND TRY_CAST(amount AS BIGINT) > 0 "
            "THEN 'negative_quantity_positive_amount'",
            "WHEN currency IS NOT NULL AND currency <> 'KRW' THEN 'wrong_currency'",
        ]
    if entity == "contacts":
        parts += [
            f"WHEN lower(trim(channel)) NOT IN ({chan}) THEN 'unknown_channel'",
            "WHEN direction NOT IN ('outbound', 'inbound') THEN 'unknown_direction'",
        ]
    parts.append(
        f"WHEN row_number() OVER (PARTITION BY file, {cols} ORDER BY line) > 1 THEN 'duplicate_row'"
    )
    return f"SELECT file, line, CASE {' '.join(parts)} END AS kind FROM {view}"
