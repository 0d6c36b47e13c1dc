"""Linking rules, over-merge guards, link rules and the data-quality counts."""

from __future__ import annotations

import pytest

from pipelines.identity.config import IdentityConfig
from tests.identity.helpers import (
    add_customers,
    add_transaction_refs,
    keys,
    new_db,
    records,
    resolve,
)


@pytest.fixture()
def con():
    c = new_db()
    yield c
    c.close()


def test_links_are_transitive_across_identifiers(con):
    add_customers(
        con,
        [
            {"source_system": "pos", "source_customer_id": "1", "email": "a@naver.com"},
            {"source_system": "web", "source_customer_id": "W1", "email": " A@Naver.com",
             "phone": "010-1111-2222"},
            {"source_system": "app", "source_customer_id": "A1", "phone": "+82 10 1111 2222",
             "loyalty_id": "9410001"},
            {"source_system": "callcentre", "source_customer_id": "CC1", "loyalty_id": "9410-001"},
            {"source_system": "pos", "source_customer_id": "2", "email": "b@naver.com"},
        ],
    )  # fmt: skip
    resolve(con)
    k = keys(con)
    person = {k[("pos", "1")], k[("web", "W1")], k[("app", "A1")], k[("callcentre", "CC1")]}
    assert len(person) == 1
    assert k[("pos", "2")] not in person
    rec = records(con)
    assert rec[("pos", "1")]["link_rule"] == "email"
    assert rec[("web", "W1")]["matched_on"] == "email,phone"
    assert rec[("app", "A1")]["link_rule"] == "loyalty_id"
    assert rec[("app", "A1")]["matched_on"] == "loyalty_id,phone"
    assert rec[("pos", "2")]["link_rule"] == "singleton"
    assert rec[("pos", "1")]["customer_records"] == 4


def test_references_without_customer_record_get_their_own_key(con):
    add_customers(con, [{"source_system": "pos", "source_customer_id": "1"}])
    add_transaction_refs(con, [("pos", "1"), ("pos", "99"), ("pos", "99")])
    resolve(con)
    rec = records(con)
    assert set(rec) == {("pos", "1"), ("pos", "99")}
    assert rec[("pos", "99")]["record_origin"] == "transaction_reference"
    assert rec[("pos", "99")]["link_rule"] == "reference"
    assert rec[("pos", "1")]["customer_key"] != rec[("pos", "99")]["customer_key"]


def test_latest_version_of_a_record_decides(con):
    add_customers(
        con,
        [
            {"source_system": "pos", "source_customer_id": "1", "email": "a@x.com"},
            {"source_system": "web", "source_customer_id": "W1", "email": "a@x.com"},
        ],
    )
    add_customers(con, [{"source_system": "web", "source_customer_id": "W1", "email": "b@x.com"}])
    resolve(con)
    k = keys(con)
    assert k[("pos", "1")] != k[("web", "W1")]  # fmt: skip


def test_blocked_values_link_nothing(con):
    add_customers(
        con,
        [
            {"source_system": "pos", "source_customer_id": str(i), "email": "Info@Shop.co.kr",
             "phone": "010-0000-0000"}
            for i in range(3)
        ],
    )  # fmt: skip
    cfg = IdentityConfig(blocked_values={"email": ("^info@.*",), "phone": (r"^\+82(10)?0+$",)})
    resolve(con, cfg=cfg)
    assert len(set(keys(con).values())) == 3
    rec = records(con)[("pos", "0")]
    assert (rec["email_status"], rec["phone_status"]) == ("blocked", "blocked")


@pytest.mark.parametrize(("holders", "linked"), [(3, True), (4, False)])
def test_max_records_per_identifier(con, holders, linked):
    add_customers(
        con,
        [{"source_system": "pos", "source_customer_id": str(i), "phone": "010-2222-3333"}
         for i in range(holders)],
    )  # fmt: skip
    resolve(con, cfg=IdentityConfig(max_records_per_identifier=3))
    assert (len(set(keys(con).values())) == 1) is linked
    status = records(con)[("pos", "0")]["phone_status"]
    assert status == ("ok" if linked else "over_shared")


def test_household_phone_splits_on_birth_date(con):
    phone = "010-4444-5555"
    add_customers(
        con,
        [
            {"source_system": "pos", "source_customer_id": "dad", "phone": phone,
             "birth_date": "1970-01-01"},
            {"source_system": "web", "source_customer_id": "dad", "phone": phone,
             "birth_date": "1970-01-01"},
            {"source_system": "pos", "source_customer_id": "kid", "phone": phone,
             "birth_date": "2005-05-05"},
            {"source_system": "app", "source_customer_id": "who", "phone": phone},
        ],
    )  # fmt: skip
    resolve(con)
    k = keys(con)
    assert k[("pos", "dad")] == k[("web", "dad")]
    assert len({k[("pos", "dad")], k[("pos", "kid")], k[("app", "who")]}) == 3
    assert records(con)[("app", "who")]["phone_status"] == "ambiguous"
    # with the guard off the shared phone links the whole household
    resolve(con, as_of="2024-02-02", cfg=IdentityConfig(split_on_birth_date_conflict=False))
    assert len(set(keys(con).values())) == 1


def test_malformed_identifiers_are_counted_and_link_nothing(con):
    add_customers(
        con,
        [
            {"source_system": "pos", "source_customer_id": "1", "email": "x@@y", "phone": "N/A"},
            {"source_system": "web", "source_customer_id": "2", "email": "x@@y", "phone": "N/A"},
            {"source_system": "web", "source_customer_id": "3", "email": "ok@naver.com",
             "phone": "없음"},
            {"source_system": "app", "source_customer_id": "4"},
        ],
    )  # fmt: skip
    result = resolve(con)
    assert result.customers == 4
    counts = {
        (t, s): n
        for t, s, n in con.execute(
            "select identifier_type, status, records from identity.quality_log "
            "where metric_group = 'identifier'"
        ).fetchall()
    }
    assert counts[("email", "malformed")] == 2
    assert counts[("email", "ok")] == 1
    assert counts[("email", "missing")] == 1
    assert counts[("phone", "malformed")] == 3
    assert counts[("phone", "missing")] == 1
    figures = dict(
        con.execute(
            "select status, records from identity.quality_log where metric_group = 'resolution'"
        ).fetchall()
    )
    assert figures["customers"] == 4 and figures["records"] == 4


def test_empty_landing_resolves_nothing(con):
    result = resolve(con)
    assert result.records == 0 and keys(con) == {}
