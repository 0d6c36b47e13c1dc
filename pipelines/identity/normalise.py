"""Normalisation of the strong identifiers: e-mail, phone (E.164) and loyalty id.

Every rule is a SQL expression run in DuckDB over all records at once, so a million
records normalise in seconds. Phone numbers follow the phonenumbers library exactly:

* the common shapes (``+<country code><digits>`` and ``<national prefix><digits>`` in the
  default country) are checked in SQL against the regular expressions of phonenumbers'
  own metadata for the default country (the same patterns ``is_valid_number`` uses);
* every other value, and every value the SQL check rejects, goes through
  ``phonenumbers.parse`` in Python (:func:`normalise_phone`), which has the last word.

A value that carries letters is malformed (phonenumbers would read "010-XXXX-XXXX" as a
keypad vanity number). Malformed values are kept with a status and link nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from pipelines.identity.config import IdentityConfig

# statuses of one identifier of one record
MISSING = "missing"
MALFORMED = "malformed"
OK = "ok"
BLOCKED = "blocked"
OVER_SHARED = "over_shared"
AMBIGUOUS = "ambiguous"

# local part @ domain, the two captured in one pass (non-capturing inner groups)
EMAIL_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
EMAIL_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}"
EMAIL_PATTERN = f"^({EMAIL_LOCAL})@({EMAIL_DOMAIN})$"
PHONE_SEPARATORS = r"[\s\-\.\(\)/]"

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(expr: str, values: Iterable[str]) -> str:
    items = sorted(set(values))
    if not items:
        return "false"
    return f"{expr} in ({', '.join(sql_literal(v) for v in items)})"


# ---- e-mail ------------------------------------------------------------------------------
def email_query(source: str, column: str, cfg: IdentityConfig) -> str:
    """SELECT over ``source``: all its columns plus email_address, email_key, email_status.

    * email_address: trimmed, lower-cased, syntactically valid address (for contacting);
    * email_key: the address with provider rules applied (aliases, +tags, dots): links;
    * email_status: missing, malformed or ok.

    One regular expression validates the address and captures local part and domain.
    """
    if cfg.domain_aliases:
        cases = " ".join(
            f"when {sql_literal(k)} then {sql_literal(v)}"
            for k, v in sorted(cfg.domain_aliases.items())
        )
        domain = f"case _e.d {cases} else _e.d end"
    else:
        domain = "_e.d"
    plus = _in_list("_e_domain", cfg.plus_tag_domains)
    dots = _in_list("_e_domain", cfg.dot_insensitive_domains)
    return f"""
        with _e1 as (
            select *, lower(trim({column})) as _e_addr from {source}
        ),
        _e2 as (
            select *, regexp_extract(_e_addr, {sql_literal(EMAIL_PATTERN)}, ['l', 'd']) as _e
            from _e1
        ),
        _e3 as (
            select *, {domain} as _e_domain,
                   case when {plus.replace("_e_domain", domain)}
                        then regexp_replace(_e.l, '[+].*$', '') else _e.l end as _e_local
            from _e2
        ),
        _e4 as (
            select *, case when {dots} then replace(_e_local, '.', '') else _e_local end
                          as _e_key_local
            from _e3
        )
        select * exclude (_e_addr, _e, _e_domain, _e_local, _e_key_local),
               case when length(_e_key_local) > 0 then _e_addr end as email_address,
               case when length(_e_key_local) > 0 then _e_key_local || '@' || _e_domain end
                   as email_key,
               case when _e_addr is null or _e_addr = '' then '{MISSING}'
                    when length(_e_key_local) > 0 then '{OK}'
                    else '{MALFORMED}' end as email_status
        from _e4
    """


# ---- loyalty id --------------------------------------------------------------------------
def loyalty_sql(column: str, cfg: IdentityConfig) -> dict[str, str]:
    value = f"upper(regexp_replace(trim({column}), '[\\s\\-]', '', 'g'))"
    ok = f"regexp_full_match({value}, {sql_literal(cfg.loyalty_pattern)})"
    present = f"nullif(trim({column}), '') is not null"
    return {
        "key": f"case when {ok} then {value} end",
        "status": (
            f"case when not coalesce({present}, false) then '{MISSING}' "
            f"when {ok} then '{OK}' else '{MALFORMED}' end"
        ),
    }


# ---- phone -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhoneResult:
    e164: str | None
    status: str
    is_mobile: bool | None


def normalise_phone(value: str | None, region: str) -> PhoneResult:
    """The authoritative rule: phonenumbers parse + is_valid_number, E.164 format."""
    if value is None or not value.strip():
        return PhoneResult(None, MISSING, None)
    if any(ch.isalpha() for ch in value):
        return PhoneResult(None, MALFORMED, None)
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return PhoneResult(None, MALFORMED, None)
    if not phonenumbers.is_valid_number(number):
        return PhoneResult(None, MALFORMED, None)
    return PhoneResult(
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        OK,
        phonenumbers.number_type(number) in _MOBILE_TYPES,
    )


# phonenumbers' _number_type_helper order; fixed line and mobile are handled after these
_OTHER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


def _desc_match(national: str, desc) -> str | None:
    """SQL for phonenumbers' _is_number_matching_desc (length, then full pattern)."""
    if desc is None or desc.national_number_pattern is None:
        return None
    cond = f"regexp_full_match({national}, {sql_literal(desc.national_number_pattern)})"
    lengths = [n for n in (desc.possible_length or ()) if n > 0]
    if lengths:
        cond = f"(length({national}) in ({', '.join(map(str, lengths))}) and {cond})"
    if desc.possible_length and all(n == -1 for n in desc.possible_length):
        return None  # a type that does not exist in this region
    return cond


class PhoneFastPath:
    """phonenumbers' validity and E.164 rules for one region, as SQL expressions.

    Only the shapes whose parsing is unambiguous are handled; ``supported`` is false for
    regions whose metadata needs a rule this class does not implement (then every value
    goes through Python).
    """

    def __init__(self, region: str) -> None:
        md = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if md is None:
            raise ValueError(f"identity.phone.default_country: unknown region {region!r}")
        self.region = region
        self.metadata = md
        self.country_code = str(md.country_code)
        self.national_prefix = md.national_prefix or ""
        self.supported = (
            md.national_prefix_transform_rule is None
            and bool(self.national_prefix)
            and md.general_desc is not None
            and md.mobile is not None
            and md.fixed_line is not None
            and not _leading_zero_possible(md)
        )

    def national_sql(self, canonical: str) -> str:
        """National significant number for the shapes handled in SQL, else null."""
        cc, np_ = self.country_code, self.national_prefix
        npfp = self.metadata.national_prefix_for_parsing or re.escape(np_)
        international = sql_literal(r"\+" + cc + "[1-9][0-9]*")
        national = sql_literal(re.escape(np_) + "[1-9][0-9]*")
        prefix = sql_literal("^(?:" + npfp + ")")
        return (
            f"case when regexp_full_match({canonical}, {international}) "
            f"then substr({canonical}, {len(cc) + 2}) "
            f"when regexp_full_match({canonical}, {national}) "
            f"and regexp_extract({canonical}, {prefix}) = {sql_literal(np_)} "
            f"then substr({canonical}, {len(np_) + 1}) end"
        )

    def type_sql(self, national: str) -> str:
        """'mobile', 'fixed_line', ... or null (not a valid number), like number_type()."""
        md = self.metadata
        general = _desc_match(national, md.general_desc)
        whens = []
        for name in _OTHER_TYPES:
            cond = _desc_match(national, getattr(md, name))
            if cond:
                whens.append(f"when {cond} then '{name}'")
        fixed = _desc_match(national, md.fixed_line)
        mobile = _desc_match(national, md.mobile)
        if md.same_mobile_and_fixed_line_pattern:
            whens.append(f"when {fixed} then 'fixed_line_or_mobile'")
        else:
            whens.append(f"when {fixed} and {mobile} then 'fixed_line_or_mobile'")
            whens.append(f"when {fixed} then 'fixed_line'")
            whens.append(f"when {mobile} then 'mobile'")
        return f"case when not ({general}) then null {' '.join(whens)} end"


def _leading_zero_possible(md) -> bool:
    return bool(getattr(md, "leading_zero_possible", False))


def phone_sql(column: str) -> dict[str, str]:
    """SQL columns: has_text, has_letters, canonical, national (fast path), type."""
    text = f"nullif(trim({column}), '')"
    canonical = f"regexp_replace({text}, {sql_literal(PHONE_SEPARATORS)}, '', 'g')"
    return {
        "text": text,
        "has_letters": f"regexp_matches({text}, '\\pL')",
        "canonical": canonical,
    }


MOBILE_TYPES_SQL = "('mobile', 'fixed_line_or_mobile')"


def normalise_phones_table(
    con: duckdb.DuckDBPyConnection, source: str, column: str, key: str, cfg: IdentityConfig
) -> str:
    """Normalise ``source.column`` into a temp table ``_id_phone`` (key, e164, status, mobile).

    ``source`` is a table with a unique ``key`` column. Returns the table name.
    """
    fast = PhoneFastPath(cfg.default_country)
    cols = phone_sql(column)
    con.execute(
        f"""
        create or replace temp table _id_phone_stage as
        select {key} as k, {cols["text"]} as text, {cols["has_letters"]} as has_letters,
               {cols["canonical"]} as canonical
        from {source}
        """
    )
    if fast.supported:
        con.execute(
            f"""
            create or replace temp table _id_phone_fast as
            with n as (
                select k, text, has_letters, {fast.national_sql("canonical")} as national
                from _id_phone_stage
            )
            select k, text, has_letters, national,
                   case when national is not null then {fast.type_sql("national")} end as ptype
            from n
            """
        )
    else:
        con.execute(
            "create or replace temp table _id_phone_fast as select k, text, has_letters, "
            "null::varchar as national, null::varchar as ptype from _id_phone_stage"
        )
    # everything the SQL path did not settle goes through phonenumbers (distinct values)
    pending = [
        r[0]
        for r in con.execute(
            "select distinct text from _id_phone_fast where text is not null "
            "and not has_letters and ptype is null order by 1"
        ).fetchall()
    ]
    results = [normalise_phone(v, cfg.default_country) for v in pending]
    con.execute(
        "create or replace temp table _id_phone_py "
        "(text varchar, e164 varchar, status varchar, is_mobile boolean)"
    )
    if pending:
        import pyarrow as pa

        py_table = pa.table(
            {
                "text": pending,
                "e164": [r.e164 for r in results],
                "status": [r.status for r in results],
                "is_mobile": [r.is_mobile for r in results],
            }
        )
        con.register("_id_phone_py_arrow", py_table)
        con.execute("insert into _id_phone_py select * from _id_phone_py_arrow")
        con.unregister("_id_phone_py_arrow")
    con.execute(
        f"""
        create or replace temp table _id_phone as
        select f.k,
               case when f.ptype is not null then '+{fast.country_code}' || f.national
                    else p.e164 end as e164,
               case when f.text is null then '{MISSING}'
                    when f.has_letters then '{MALFORMED}'
                    when f.ptype is not null then '{OK}'
                    else coalesce(p.status, '{MALFORMED}') end as status,
               case when f.ptype is not null then f.ptype in {MOBILE_TYPES_SQL}
                    else p.is_mobile end as is_mobile
        from _id_phone_fast as f
        left join _id_phone_py as p on f.ptype is null and f.text = p.text
        """
    )
    for t in ("_id_phone_stage", "_id_phone_fast", "_id_phone_py"):
        con.execute(f"drop table if exists {t}")
    return "_id_phone"


# ---- helpers for tests and ad-hoc use ----------------------------------------------------
def normalise_values(
    con: duckdb.DuckDBPyConnection, kind: str, values: list[str | None], cfg: IdentityConfig
) -> list[tuple]:
    """Normalise a list of raw values with the same SQL the resolver runs.

    Returns (key, status) for e-mail and loyalty ids, (e164, status, is_mobile) for phones.
    """
    import pyarrow as pa

    con.register("_id_values", pa.table({"i": list(range(len(values))), "v": values}))
    try:
        if kind == "phone":
            table = normalise_phones_table(con, "_id_values", "v", "i", cfg)
            rows = con.execute(f"select e164, status, is_mobile from {table} order by k").fetchall()
        elif kind == "email":
            rows = con.execute(
                f"select email_key, email_status from ({email_query('_id_values', 'v', cfg)}) "
                "order by i"
            ).fetchall()
        elif kind == "loyalty_id":
            lo = loyalty_sql("v", cfg)
            rows = con.execute(
                f"select {lo['key']}, {lo['status']} from _id_values order by i"
            ).fetchall()
        else:
            raise ValueError(kind)
    finally:
        con.unregister("_id_values")
    return [tuple(r) for r in rows]
