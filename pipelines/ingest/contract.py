"""Landing contract v1: the columns each entity's files may carry.

This module is the single definition of the contract. The loader, the docs
(docs/landing-contract.md) and the dbt sources follow it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Logical column types. The loader turns each into a typed DuckDB column.
TEXT = "text"
TIMESTAMP = "timestamp"
DATE = "date"
MONEY = "money"  # DECIMAL(18,4)
QUANTITY = "quantity"  # DECIMAL(18,3)
INTEGER = "integer"
BOOLEAN = "boolean"

DUCKDB_TYPES = {
    TEXT: "VARCHAR",
    TIMESTAMP: "TIMESTAMP",
    DATE: "DATE",
    MONEY: "DECIMAL(18,4)",
    QUANTITY: "DECIMAL(18,3)",
    INTEGER: "INTEGER",
    BOOLEAN: "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str = TEXT
    required: bool = False
    default: str | None = None
    # Lower-case and trim the value (codes such as channel or direction).
    normalise_code: bool = False
    # Upper-case and trim (ISO codes such as currency).
    upper_code: bool = False
    # Personal data: never copied into logs, samples or published tables.
    pii: bool = False
    description: str = ""


@dataclass(frozen=True)
class EntityContract:
    entity: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def pii(self) -> set[str]:
        return {c.name for c in self.columns if c.pii}

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


C = Column

CONTRACTS: dict[str, EntityContract] = {
    "customers": EntityContract(
        entity="customers",
        description="One row per customer record in a source system (a later row updates it).",
        key=("source_system", "source_customer_id"),
        columns=(
            C("source_system", required=True, normalise_code=True),
            C("source_customer_id", required=True),
            C("updated_at", TIMESTAMP, required=True),
            C("first_name", pii=True),
            C("last_name", pii=True),
            C("email", pii=True),
            C("phone", pii=True),
            C("birth_date", DATE, pii=True),
            C("gender"),
            C("postal_code"),
            C("city"),
            C("district"),
            C("region"),
            C("country"),
            C("signup_at", TIMESTAMP),
            C("consent_email", BOOLEAN),
            C("consent_sms", BOOLEAN),
            C("consent_phone", BOOLEAN),
            C("consent_mail", BOOLEAN),
            C("referred_by", description="source_customer_id of the referrer, same system"),
            C("loyalty_id", description="loyalty or card number, where a source has one"),
        ),
    ),
    "transactions": EntityContract(
        entity="transactions",
        description="One row per line item; negative amount = return or refund.",
        key=("source_system", "transaction_id", "line_number"),
        columns=(
            C("source_system", required=True, normalise_code=True),
            C("transaction_id", required=True),
            C("line_number", INTEGER, default="1"),
            C("source_customer_id", description="empty = anonymous sale"),
            C("occurred_at", TIMESTAMP, required=True),
            C("channel", required=True, normalise_code=True),
            C("store_id"),
            C("product_id", required=True),
            C("quantity", QUANTITY, required=True),
            C("amount", MONEY, required=True, description="net line amount"),
            C("discount", MONEY),
            C("currency", upper_code=True),
            C("unit_cost", MONEY),
            C("campaign_id"),
        ),
    ),
    "contacts": EntityContract(
        entity="contacts",
        description="One row per touch with a customer, outbound or inbound.",
        key=("source_system", "contact_id"),
        columns=(
            C("source_system", required=True, normalise_code=True),
            C("contact_id", required=True),
            C("source_customer_id", required=True),
            C("occurred_at", TIMESTAMP, required=True),
            C("channel", required=True, normalise_code=True),
            C("direction", required=True, normalise_code=True),
            C("contact_type", normalise_code=True),
            C("campaign_id"),
            C("outcome", normalise_code=True),
            C("cost", MONEY),
        ),
    ),
    "campaigns": EntityContract(
        entity="campaigns",
        description="Campaign master data.",
        key=("campaign_id",),
        columns=(
            C("campaign_id", required=True),
            C("name"),
            C("campaign_type", normalise_code=True),
            C("channel", normalise_code=True),
            C("start_date", DATE),
            C("end_date", DATE),
            C("cost_per_contact", MONEY),
        ),
    ),
    "products": EntityContract(
        entity="products",
        description="Product master data.",
        key=("product_id",),
        columns=(
            C("product_id", required=True),
            C("name"),
            C("category"),
            C("department"),
            C("brand"),
            C("unit_cost", MONEY),
        ),
    ),
}
