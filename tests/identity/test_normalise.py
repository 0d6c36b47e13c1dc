"""Normalisation of e-mail, phone and loyalty id (the SQL the resolver runs)."""

from __future__ import annotations

import random

import duckdb
import phonenumbers
import pytest

from pipelines.identity.config import IdentityConfig
from pipelines.identity.normalise import PhoneFastPath, normalise_phone, normalise_values


@pytest.fixture()
def con():
    c = duckdb.connect()
    yield c
    c.close()


CFG = IdentityConfig()


def test_email_trim_lower_and_gmail_rules(con):
    values = [
        " Kim.Min+promo@GMail.com ",
        "kimmin@gmail.com",
        "kim.min@googlemail.com",
        "Kim.Min@naver.com",
        "kim.min+x@naver.com",
    ]
    keys = [k for k, _ in normalise_values(con, "email", values, CFG)]
    assert keys == [
        "kimmin@gmail.com",
        "kimmin@gmail.com",
        "kimmin@gmail.com",  # googlemail.com is an alias of gmail.com
        "kim.min@naver.com",  # dots matter outside the configured providers
        "kim.min+x@naver.com",
    ]


def test_email_provider_rules_are_configurable(con):
    cfg = IdentityConfig(dot_insensitive_domains=(), plus_tag_domains=(), domain_aliases={})
    keys = [k for k, _ in normalise_values(con, "email", ["Kim.Min+a@gmail.com"], cfg)]
    assert keys == ["kim.min+a@gmail.com"]


@pytest.mark.parametrize(
    "value",
    ["none", "kim@@naver.com", "kim@naver", "kim @ naver.com", "kimnaver.com", "+tag@gmail.com",
     "a..b@naver.com", ".a@naver.com"],
)  # fmt: skip
def test_malformed_email_is_kept_as_malformed(con, value):
    assert normalise_values(con, "email", [value], CFG) == [(None, "malformed")]


def test_missing_email(con):
    assert normalise_values(con, "email", [None, "", "   "], CFG) == [(None, "missing")] * 3


@pytest.mark.parametrize(
    ("value", "e164", "mobile"),
    [
        ("010-1234-5678", "+821012345678", True),
        ("01012345678", "+821012345678", True),
        ("+82 10-1234-5678", "+821012345678", True),
        ("+821012345678", "+821012345678", True),
        ("010 1234 5678", "+821012345678", True),
        ("(010) 1234.5678", "+821012345678", True),
        ("02-123-4567", "+8221234567", False),
        ("+1 650 253 0000", "+16502530000", True),  # other countries keep their code
        ("０１０-1234-5678", "+821012345678", True),  # full-width digits (Python path)
    ],
)
def test_phone_to_e164(con, value, e164, mobile):
    assert normalise_values(con, "phone", [value], CFG) == [(e164, "ok", mobile)]


@pytest.mark.parametrize(
    "value", ["N/A", "000", "010-XXXX-XXXX", "-", "없음", "12345", "010-1234", "tel 01012345678"]
)
def test_malformed_phone_links_nothing(con, value):
    assert normalise_values(con, "phone", [value], CFG) == [(None, "malformed", None)]


def test_letters_are_malformed_although_phonenumbers_reads_them_as_a_vanity_number():
    number = phonenumbers.parse("010-XXXX-XXXX", "KR")
    assert phonenumbers.is_valid_number(number)  # the library's keypad reading
    assert normalise_phone("010-XXXX-XXXX", "KR").status == "malformed"


def test_sql_fast_path_agrees_with_phonenumbers(con):
    """Random numbers of every shape: SQL (+ Python fallback) == phonenumbers, value by value."""
    rng = random.Random(20240601)
    values = []
    for _ in range(3000):
        prefix = rng.choice(["0", "0", "0", "+82", "+82 ", "+820", "82", "", "00", "08", "+1"])
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 11)))
        if rng.random() < 0.5 and len(body) > 4:
            body = body[:3] + rng.choice(["-", " ", "."]) + body[3:]
        values.append(prefix + body)
    # plenty of valid mobile numbers too
    values += [f"010-{rng.randint(0, 9999):04d}-{rng.randint(0, 9999):04d}" for _ in range(500)]
    got = normalise_values(con, "phone", values, CFG)
    expected = [(r.e164, r.status, r.is_mobile) for r in (normalise_phone(v, "KR") for v in values)]
    assert got == expected
    assert sum(1 for g in got if g[1] == "ok") > 500


def test_fast_path_is_built_from_phonenumbers_metadata():
    fast = PhoneFastPath("KR")
    assert fast.supported and fast.country_code == "82" and fast.national_prefix == "0"
    with pytest.raises(ValueError):
        PhoneFastPath("XX")


def test_other_default_country(con):
    cfg = IdentityConfig(default_country="US")
    assert normalise_values(con, "phone", ["(650) 253-0000"], cfg) == [("+16502530000", "ok", True)]


def test_loyalty_id(con):
    assert normalise_values(con, "loyalty_id", [" 9410-0000 1234 ", "x!", None], CFG) == [
        ("941000001234", "ok"),
        (None, "malformed"),
        (None, "missing"),
    ]
