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


PENDING = "pending"  # internal: the SQL fast path did not settle the phone
MOBILE_TYPES_SQL = "('mobile', 'fixed_line_or_mobile')"


def phone_query(source: str, column: str, fast: PhoneFastPath) -> str:
    """SELECT over ``source``: all its columns plus phone_text, phone_e164, phone_is_mobile
    and phone_status (``pending`` where :func:`apply_phone_fallback` must decide)."""
    text = f"nullif(trim({column}), '')"
    if fast.supported:
        national = fast.national_sql("_p_canonical")
        ptype = f"case when _p_national is not null then {fast.type_sql('_p_national')} end"
    else:
        national, ptype = "null::varchar", "null::varchar"
    return f"""
        with _p1 as (
            select *, {text} as phone_text from {source}
        ),
        _p2 as (
            select *, regexp_matches(phone_text, '\\pL') as _p_letters,
                   regexp_replace(phone_text, {sql_literal(PHONE_SEPARATORS)}, '', 'g')
                       as _p_canonical
            from _p1
        ),
        _p3 as (
            select *, {national} as _p_national from _p2
        ),
        _p4 as (
            select *, {ptype} as _p_type from _p3
        )
        select * exclude (_p_letters, _p_canonical, _p_national, _p_type),
               case when _p_type is not null then '+{fast.country_code}' || _p_national end
                   as phone_e164,
               case when _p_type is not null then _p_type in {MOBILE_TYPES_SQL} end
                   as phone_is_mobile,
               case when phone_text is null then '{MISSING}'
                    when _p_letters then '{MALFORMED}'
                    when _p_type is not null then '{OK}'
                    else '{PENDING}' end as phone_status
        from _p4
    """


def identifiers_query(source: str, cfg: IdentityConfig) -> str:
    """SELECT over ``source`` (columns email, phone, loyalty_id, ...): every column plus the
    normalised identifiers and their statuses. Run :func:`apply_phone_fallback` on the
    materialised result to settle the phones the SQL fast path left ``pending``."""
    fast = PhoneFastPath(cfg.default_country)
    loyalty = loyalty_sql("loyalty_id", cfg)
    return f"""
        with _emails as ({email_query(source, "email", cfg)}),
        _phones as ({phone_query("_emails", "phone", fast)})
        select * exclude (email, phone, loyalty_id),
               {loyalty["key"]} as loyalty_key,
               {loyalty["status"]} as loyalty_status
        from _phones
    """


def apply_phone_fallback(con: duckdb.DuckDBPyConnection, table: str, cfg: IdentityConfig) -> int:
    """Settle ``pending`` phones of ``table`` with phonenumbers (distinct values only)."""
    pending = [
        r[0]
        for r in con.execute(
            f"select distinct phone_text from {table} where phone_status = '{PENDING}' order by 1"
        ).fetchall()
    ]
    if not pending:
        return 0
    import pyarrow as pa

    results = [normalise_phone(v, cfg.default_country) for v in pending]
    con.register(
        "_id_phone_py",
        pa.table(
            {
                "text": pa.array(pending, pa.string()),
                "e164": pa.array([r.e164 for r in results], pa.string()),
                "status": pa.array([r.status for r in results], pa.string()),
                "is_mobile": pa.array([r.is_mobile for r in results], pa.bool_()),
            }
        ),
    )
    try:
        con.execute(
            f"""
            update {table} as t
            set phone_e164 = p.e164, phone_status = p.status, phone_is_mobile = p.is_mobile
            from _id_phone_py as p
            where t.phone_status = '{PENDING}' and t.phone_text = p.text
            """
        )
    finally:
        con.unregister("_id_phone_py")
    return len(pending)


# ---- helpers for tests and ad-hoc use ----------------------------------------------------
def normalise_values(
    con: duckdb.DuckDBPyConnection, kind: str, values: list[str | None], cfg: IdentityConfig
) -> list[tuple]:
    """Normalise a list of raw values with the same SQL the resolver runs.

    Returns (key, status) for e-mail and loyalty ids, (e164, status, is_mobile) for phones.
    """
    import pyarrow as pa

    columns = {k: [None] * len(values) for k in ("email", "phone", "loyalty_id")}
    if kind not in columns:
        raise ValueError(kind)
    columns[kind] = values
    con.register(
        "_id_values",
        pa.table(
            {
                "i": list(range(len(values))),
                **{k: pa.array(v, pa.string()) for k, v in columns.items()},
            }
        ),
    )
    try:
        con.execute(
            f"create or replace temp table _id_values_norm as {identifiers_query('_id_values', cfg)}"
        )
    finally:
        con.unregister("_id_values")
    apply_phone_fallback(con, "_id_values_norm", cfg)
    select = {
        "email": "email_key, email_status",
        "phone": "phone_e164, phone_status, phone_is_mobile",
        "loyalty_id": "loyalty_key, loyalty_status",
    }[kind]
    rows = con.execute(f"select {select} from _id_values_norm order by i").fetchall()
    con.execute("drop table _id_values_norm")
    return [tuple(r) for r in rows]
