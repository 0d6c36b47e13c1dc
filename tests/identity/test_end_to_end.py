"""`crm run` end to end (real subprocess): unified view, key history, privacy."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
SALT = "test-salt-identity"

CUSTOMERS_HEADER = (
    "source_system,source_customer_id,updated_at,first_name,last_name,email,phone,birth_date,"
    "gender,postal_code,city,district,region,country,signup_at,consent_email,consent_sms,"
    "consent_phone,consent_mail,referred_by,loyalty_id"
)
NIGHT1_CUSTOMERS = """
pos,1,2024-01-01 10:00:00,Min,Kim,a.b@gmail.com,010-1111-2222,1980-01-01,M,06000,Seoul,Gangnam-gu,Seoul,KR,2023-01-01,Y,Y,N,Y,,941000001
web,W1,2024-01-02 10:00:00,Minn,Kim, AB@GMAIL.com ,,1980-01-01,,06100,Seoul,Seocho-gu,Seoul,KR,2023-02-01,N,,,,,
app,A1,2024-01-03 10:00:00,Min,Kim,,+82 10 1111 2222,,,,,,,,2023-03-01,1,1,,,,941000001
pos,2,2024-01-01 10:00:00,Jiwoo,Lee,info@shop.co.kr,010-3333-4444,1990-01-01,F,,,,,KR,2023-01-01,Y,Y,Y,Y,1,
web,W2,2024-01-01 10:00:00,Sujin,Park,info@shop.co.kr,010-3333-4444,1970-05-05,F,,,,,KR,2023-01-01,Y,,,,,
pos,3,2024-01-01 10:00:00,Xavier,Yoon,bad@@mail,N/A,,,,,,,,2023-01-01,,,,,,
"""
NIGHT2_CUSTOMERS = """
web,W2,2024-01-05 10:00:00,Jiwoo,Lee,info@shop.co.kr,010-3333-4444,1990-01-01,F,,,,,KR,2023-01-01,Y,,,,,
"""
TRANSACTIONS = """source_system,transaction_id,line_number,source_customer_id,occurred_at,channel,store_id,product_id,quantity,amount,discount,currency,unit_cost,campaign_id
pos,T1,1,1,2024-01-02 12:00:00,store,S1,P1,1,10000,,KRW,5000,
web,T2,1,W1,2024-01-03 12:00:00,web,,P1,2,20000,,KRW,5000,
pos,T3,1,99,2024-01-03 12:00:00,store,S1,P1,1,5000,,KRW,,
pos,T4,1,,2024-01-03 12:00:00,store,S1,P1,1,5000,,KRW,,
"""
PRODUCTS = "product_id,name,category,department,brand,unit_cost\nP1,Thing,cat,dept,brand,5000\n"
CONTACTS = """source_system,contact_id,source_customer_id,occurred_at,channel,direction,contact_type,campaign_id,outcome,cost
web,K1,W9,2024-01-03 12:00:00,email,outbound,campaign,,sent,10
"""
RAW_PII = [
    "a.b@gmail.com", "ab@gmail.com", "AB@GMAIL.com", "info@shop.co.kr", "bad@@mail",
    "010-1111-2222", "+821011112222", "01011112222", "+82 10 1111 2222", "010-3333-4444",
    "+821033334444", "Min", "Minn", "Kim", "Jiwoo", "Lee", "Sujin", "Park", "Xavier", "Yoon",
]  # fmt: skip
DIM_COLUMNS = [
    "customer_key", "first_name_masked", "last_name_masked", "email_hash", "phone_hash",
    "gender", "age_band", "region", "city", "district", "consent_email", "consent_sms",
    "consent_phone", "consent_mail", "contactable_email", "contactable_sms",
    "contactable_phone", "contactable_mail", "first_purchase_date", "last_purchase_date",
    "orders", "net_revenue", "margin", "channels_used", "linked_records",
    "referred_by_customer_key", "referrals_made", "acquisition_cohort_month",
]  # fmt: skip


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.lstrip("\n"), encoding="utf-8")


def _crm_run(home: Path, as_of: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["CRM_PII_SALT"] = SALT
    env.pop("CRM_HOME", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--home", str(home), "--as-of", as_of],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def _published(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "warehouse" / "crm.duckdb"), read_only=True)


def _keys(con) -> dict[tuple[str, str], int]:
    return {
        (s, c): k
        for s, c, k in con.execute(
            "select source_system, source_customer_id, customer_key from marts.customer_identities"
        ).fetchall()
    }


@pytest.mark.slow
def test_unified_customer_view_end_to_end(tmp_path):
    home = tmp_path
    landing = home / "landing"
    _write(landing / "customers" / "night1.csv", CUSTOMERS_HEADER + NIGHT1_CUSTOMERS)
    _write(landing / "transactions" / "t1.csv", TRANSACTIONS)
    _write(landing / "products" / "p.csv", PRODUCTS)
    _write(landing / "contacts" / "k.csv", CONTACTS)

    # ---- night 1 --------------------------------------------------------------------------
    _crm_run(home, "2024-01-05")
    con = _published(home)
    try:
        keys = _keys(con)
        assert len(keys) == 8  # 6 customers-file records + 2 references
        person = keys[("pos", "1")]
        assert keys[("web", "W1")] == keys[("app", "A1")] == person
        assert len(set(keys.values())) == 6
        cols = [d[0] for d in con.execute("select * from marts.dim_customers limit 0").description]
        assert cols == DIM_COLUMNS
        assert con.execute("select count(*) from marts.dim_customers").fetchall()[0][0] == 6
        row = dict(
            zip(DIM_COLUMNS, con.execute(
                "select * from marts.dim_customers where customer_key = ?", [person]
            ).fetchall()[0], strict=True)
        )  # fmt: skip
        assert row["linked_records"] == 3
        assert row["orders"] == 2 and float(row["net_revenue"]) == 30000
        assert row["channels_used"] == "store,web"
        assert row["first_name_masked"] == "M***"
        assert row["consent_email"] is False  # opted out on the web
        assert row["contactable_sms"] is True and row["contactable_phone"] is False
        assert row["referrals_made"] == 1
        expected_hash = hashlib.sha256((SALT + "ab@gmail.com").encode()).hexdigest()
        assert row["email_hash"] == expected_hash
        assert row["phone_hash"] == hashlib.sha256((SALT + "+821011112222").encode()).hexdigest()
        referred = con.execute(
            "select referred_by_customer_key from marts.dim_customers where customer_key = ?",
            [keys[("pos", "2")]],
        ).fetchall()[0][0]
        assert referred == person
        rules = dict(
            con.execute(
                "select source_system || '/' || source_customer_id, link_rule "
                "from marts.customer_identities"
            ).fetchall()
        )
        assert rules == {
            "pos/1": "loyalty_id", "web/W1": "email", "app/A1": "loyalty_id",
            "pos/2": "singleton", "web/W2": "singleton", "pos/3": "singleton",
            "pos/99": "reference", "web/W9": "reference",
        }  # fmt: skip
        quality = dict(
            con.execute(
                "select identifier_type || '/' || status, records from "
                "marts.identity_data_quality where metric_group = 'identifier'"
            ).fetchall()
        )
        assert quality["email/malformed"] == 1 and quality["phone/malformed"] == 1
        assert quality["email/blocked"] == 2
        _assert_no_pii(con)
    finally:
        con.close()

    # ---- night 2: the web record of Sujin is corrected: she is Jiwoo (same phone, birth) ---
    _write(landing / "customers" / "night2.csv", CUSTOMERS_HEADER + NIGHT2_CUSTOMERS)
    _crm_run(home, "2024-01-06")
    con = _published(home)
    try:
        after = _keys(con)
        older, younger = sorted((keys[("pos", "2")], keys[("web", "W2")]))
        assert after[("pos", "2")] == after[("web", "W2")] == older
        assert {k: v for k, v in after.items() if k[0:2] not in {("pos", "2"), ("web", "W2")}} == {
            k: v for k, v in keys.items() if k[0:2] not in {("pos", "2"), ("web", "W2")}
        }
        history = con.execute(
            "select old_customer_key, new_customer_key, current_customer_key, change_type, "
            "cast(as_of as varchar) from marts.customer_key_history"
        ).fetchall()
        assert history == [(younger, older, older, "merge", "2024-01-06")]
        assert con.execute("select count(*) from marts.dim_customers").fetchall()[0][0] == 5
    finally:
        con.close()

    # ---- night 2 again: nothing moves, no duplicate history -------------------------------
    _crm_run(home, "2024-01-06")
    con = _published(home)
    try:
        assert _keys(con) == after
        assert con.execute("select count(*) from marts.customer_key_history").fetchall()[0][0] == 1
    finally:
        con.close()


def _assert_no_pii(con) -> None:
    """No raw or normalised e-mail, phone or name in any published table."""
    tables = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type = 'VARCHAR'"
    ).fetchall()
    assert tables
    schemas = {s for s, _, _ in tables}
    assert schemas <= {"marts", "meta"}, schemas
    for schema, table, column in tables:
        values = {
            v for (v,) in con.execute(f'select distinct "{column}" from {schema}."{table}"').fetchall()
            if v is not None
        }  # fmt: skip
        for secret in RAW_PII:
            hits = [v for v in values if v == secret or ("@" in secret and secret.lower() in v.lower())
                    or (secret.startswith(("0", "+")) and secret in v)]  # fmt: skip
            assert not hits, f"{schema}.{table}.{column} holds {secret!r}"
