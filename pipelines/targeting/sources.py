"""The marts a list reads, checked before use, and the (non-published) contact points."""

from __future__ import annotations

import duckdb

from pipelines.targeting.config import SOURCE_OWNERS, SOURCE_TABLES, TargetingConfig


class MissingSourceError(RuntimeError):
    """A table the targeting step needs is not in the build database."""


def split_name(qualified: str) -> tuple[str, str]:
    schema, _, table = qualified.partition(".")
    if not table:
        raise ValueError(f"expected schema.table, got {qualified!r}")
    return schema, table


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = split_name(qualified)
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    schema, table = split_name(qualified)
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def require_tables(con: duckdb.DuckDBPyConnection, names: list[str], purpose: str) -> None:
    """Fail with a clear message naming every missing table and who builds it."""
    missing = [n for n in names if not table_exists(con, SOURCE_TABLES.get(n, n))]
    if missing:
        detail = ", ".join(
            f"{SOURCE_TABLES.get(n, n)} (built by {SOURCE_OWNERS.get(n, 'the core marts')})"
            for n in missing
        )
        raise MissingSourceError(
            f"{purpose} needs {detail}, not found in the build database. Build that step "
            "first, or disable/adjust the list in the target list file."
        )


def require_unique_keys(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """A source joined per customer must have one row per customer_key."""
    for name in names:
        qualified = SOURCE_TABLES[name]
        if "customer_key" not in columns(con, qualified):
            raise MissingSourceError(f"{qualified} has no customer_key column")
        total, distinct = con.execute(
            f"select count(*), count(distinct customer_key) from {qualified}"
        ).fetchone()
        if total != distinct:
            raise MissingSourceError(
                f"{qualified} has {total - distinct} duplicate customer_key rows; a list "
                "source must have one row per customer"
            )


_EMAIL_OK = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

# Preferred column names in the identity helper's contact-point table, first found wins.
_CONTACT_COLUMN_CANDIDATES: dict[str, tuple[str, ...]] = {
    "email": ("email", "email_normalised", "email_normalized"),
    "phone": ("phone_e164", "phone", "phone_normalised", "phone_normalized"),
    "name": ("full_name", "name"),
    "postal_code": ("postal_code",),
    "region": ("region",),
    "city": ("city",),
    "district": ("district",),
    "country": ("country",),
}
CONTACT_FIELDS: tuple[str, ...] = tuple(_CONTACT_COLUMN_CANDIDATES)
CONTACT_FIELDS_ORDER = CONTACT_FIELDS


def contact_points_sql(con: duckdb.DuckDBPyConnection, cfg: TargetingConfig) -> tuple[str, str]:
    """SQL giving one row per customer_key with every contact field (null = unusable).

    Returns (sql, description of the source). Prefers the identity step's table
    (``targeting.contact_points_table``); falls back to the latest customer record per
    customer_key from staging, with light normalisation.
    """
    table = cfg.contact_points_table
    if table_exists(con, table):
        cols = set(columns(con, table))
        if "customer_key" not in cols:
            raise MissingSourceError(f"{table} has no customer_key column")
        exprs = []
        for fld, candidates in _CONTACT_COLUMN_CANDIDATES.items():
            found = next((c for c in candidates if c in cols), None)
            if found is None and fld == "name" and {"first_name", "last_name"} <= cols:
                expr = "nullif(trim(concat_ws(' ', last_name, first_name)), '')"
            elif found is None:
                expr = "null"
            else:
                expr = f"nullif(trim(cast({found} as varchar)), '')"
            exprs.append(f"{expr} as {fld}")
        # several rows per customer (should not happen): take a deterministic one
        sql = f"""
            select * from (
                select customer_key, {", ".join(exprs)}
                from {table}
                where customer_key is not null
            )
            qualify row_number() over (
                partition by customer_key
                order by {", ".join(f"{f} nulls last" for f in CONTACT_FIELDS_ORDER)}
            ) = 1
        """
        return sql, table
    for needed in ("intermediate.int_customers_keyed", "staging.stg_landing__customers"):
        if not table_exists(con, needed):
            raise MissingSourceError(f"contact points: neither {table} nor {needed} exists")
    sql = f"""
        select
            keys.customer_key,
            case when regexp_matches(lower(trim(c.email)), '{_EMAIL_OK}')
                 then lower(trim(c.email)) end as email,
            case when length(regexp_replace(coalesce(c.phone, ''), '[^0-9]', '', 'g')) >= 8
                 then regexp_replace(trim(c.phone), '[^0-9+]', '', 'g') end as phone,
            nullif(trim(concat_ws(' ', c.last_name, c.first_name)), '') as name,
            nullif(trim(c.postal_code), '') as postal_code,
            nullif(trim(c.region), '') as region,
            nullif(trim(c.city), '') as city,
            nullif(trim(c.district), '') as district,
            nullif(trim(c.country), '') as country
        from intermediate.int_customers_keyed as keys
        join staging.stg_landing__customers as c
            on keys.source_system = c.source_system
            and keys.source_customer_id = c.source_customer_id
        qualify row_number() over (
            partition by keys.customer_key
            order by c.updated_at desc, c.source_system, c.source_customer_id
        ) = 1
    """
    return sql, "staging.stg_landing__customers (fallback)"
