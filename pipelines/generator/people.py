"""True persons and their source-system customer records, with identity noise.

Every multi-record person is connected by construction: each non-first record shares one
*protected* strong identifier (email, phone or loyalty id) with the person's first record,
and noise that would change a normalised value (malformed values, generic e-mails,
household phones, e-mail/phone changes in updates) only hits unprotected identifiers. A
configured share of records is made deliberately unlinkable (work e-mail only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from .config import SYSTEMS, GeneratorConfig
from .reference import (
    COMPANY_DOMAINS,
    EMAIL_DOMAINS,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    GENERIC_LOCAL_PARTS,
    GMAIL_INDEX,
    PLACES,
    SURNAMES,
)
from .world import DAY, World, affine_ids

N_SYS = len(SYSTEMS)
SIGNUP_FIRST_WEIGHTS = np.array([0.5, 0.3, 0.15, 0.05])
ORDER_SYSTEM_WEIGHTS = np.array([1.0, 0.8, 0.8, 0.25])
BIRTH_PRESENCE = np.array([0.80, 0.92, 0.70, 0.55])
GENDER_PRESENCE = np.array([0.90, 0.95, 0.80, 0.60])
ADDRESS_PRESENCE = np.array([0.85, 0.95, 0.60, 0.70])
PHONE_DEFAULT_STYLE = np.array([0, 1, 2, 3])
MALFORMED_PHONES = ("N/A", "000", "010-XXXX-XXXX", "-", "없음", "12345")
MAX_PERSONS = 80_000_000  # phone/e-mail number spaces stay unique below this


@dataclass
class Persons:
    n: int
    pidx: np.ndarray
    person_id: np.ndarray  # object str
    gender: np.ndarray  # 0 male, 1 female
    first: np.ndarray  # object str
    last: np.ndarray
    last_idx: np.ndarray
    birth_days: np.ndarray  # days since 1970-01-01
    place: np.ndarray
    postal: np.ndarray
    email_local: np.ndarray  # canonical local part (lower case)
    email_domain: np.ndarray  # index into EMAIL_DOMAINS
    email_u: np.ndarray
    phone8: np.ndarray
    loyalty: np.ndarray  # object str
    mask: np.ndarray  # (n, 4) bool
    first_sys: np.ndarray
    signup_day: np.ndarray  # (n, 4) float days since calendar start, nan if none
    never_buyer: np.ndarray
    tau0: np.ndarray
    lam: np.ndarray
    p: np.ndarray
    tier: np.ndarray
    fav1: np.ndarray
    fav2: np.ndarray
    sys_cdf: np.ndarray  # (n, 4) cumulative order-system preference
    home_store: np.ndarray
    consent: np.ndarray  # (n, 4) bool base opt-in per channel email/sms/phone/mail
    household: np.ndarray  # household group id or -1


@dataclass
class Records:
    """Customer records ordered by (system, person)."""

    n: int
    person: np.ndarray
    sys: np.ndarray
    rec_of: np.ndarray  # (n_persons, 4) record index or -1
    source_customer_id: np.ndarray  # object str
    first_name: np.ndarray
    last_name: np.ndarray
    email: np.ndarray  # object str or None
    email_key: np.ndarray  # normalised linkable value or None
    phone: np.ndarray
    phone_key: np.ndarray
    loyalty_id: np.ndarray
    has_birth: np.ndarray
    has_gender: np.ndarray
    has_address: np.ndarray
    signup_sec: np.ndarray  # local naive epoch seconds
    updated_sec: np.ndarray
    consent: np.ndarray  # (n, 4) int8 -1 unknown / 0 / 1
    referred_by: np.ndarray  # object str or None
    link_type: np.ndarray  # 0 none (first record / unlinkable), 1 email, 2 phone, 3 loyalty
    prot_email: np.ndarray
    prot_phone: np.ndarray
    unlinkable: np.ndarray
    name_typo: np.ndarray
    malformed_email: np.ndarray
    malformed_phone: np.ndarray
    generic_email: np.ndarray
    household_phone: np.ndarray
    work_email: np.ndarray
    phone8: np.ndarray  # number actually used (household phones differ from the person's)
    phone_style: np.ndarray


def _parse_system_sets(config: GeneratorConfig) -> tuple[np.ndarray, np.ndarray]:
    masks, weights = [], []
    for spec, w in config.system_set_weights:
        m = np.zeros(N_SYS, dtype=bool)
        for name in spec.split("+"):
            m[SYSTEMS.index(name.strip())] = True
        masks.append(m)
        weights.append(w)
    wv = np.asarray(weights, dtype=float)
    return np.array(masks), wv / wv.sum()


def _choose(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    cdf = np.cumsum(weights / np.sum(weights))
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(weights) - 1)


def _masked_choice(rng: np.random.Generator, weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """One column per row, among True columns of mask, proportional to weights (gumbel)."""
    g = np.log(np.broadcast_to(weights, mask.shape)) - np.log(-np.log(rng.random(mask.shape)))
    return np.argmax(np.where(mask, g, -np.inf), axis=1)


def make_persons(world: World, chunk: int, n: int, g0: int, rng: np.random.Generator) -> Persons:
    cfg, cal, cat = world.config, world.cal, world.catalog
    pidx = np.arange(g0, g0 + n, dtype=np.int64)
    if g0 + n > MAX_PERSONS:
        raise ValueError(f"at most {MAX_PERSONS} persons are supported")
    gender = (rng.random(n) < 0.52).astype(np.int8)
    fm, ff = np.array(FIRST_NAMES_M, dtype=object), np.array(FIRST_NAMES_F, dtype=object)
    first = np.where(
        gender == 1, ff[rng.integers(len(ff), size=n)], fm[rng.integers(len(fm), size=n)]
    )
    last_idx = _choose(rng, np.array([s[1] for s in SURNAMES]), n)
    last = np.array([s[0] for s in SURNAMES], dtype=object)[last_idx]
    age = np.clip(rng.normal(42, 13, n), 19, 85)
    end_days = cal.end.toordinal() - 719163  # 719163 = date(1970,1,1).toordinal()
    birth_days = (end_days - age * 365.25).astype(np.int64)
    place = _choose(rng, np.array([p[5] for p in PLACES]), n)
    lo = np.array([p[3] for p in PLACES])[place]
    hi = np.array([p[4] for p in PLACES])[place]
    postal = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)

    # unique identifiers (bijective scrambles of the global person index)
    email_u = affine_ids(pidx, 10_000_000, 7_654_321, 1_234_567) + 1
    email_domain = _choose(rng, np.array([d[1] for d in EMAIL_DOMAINS]), n)
    pattern = rng.integers(0, 5, n)
    fl = np.char.lower(first.astype(str)).astype(object) if n else np.array([], object)
    ll = np.char.lower(last.astype(str)).astype(object) if n else np.array([], object)
    email_local = _email_locals(fl, ll, pattern, email_u)
    phone8 = affine_ids(pidx, 80_000_000, 48_271, 13_579_111) + 20_000_000
    loyalty = np.array(
        pl.Series(affine_ids(pidx, 10**12, 6_364_136_223, 1_442_695_040_888))
        .cast(pl.String)
        .str.zfill(12)
        .to_list(),
        dtype=object,
    )
    loyalty = np.array(["9410" + x for x in loyalty], dtype=object) if n else loyalty

    masks, mw = _parse_system_sets(cfg)
    mask = masks[_choose(rng, mw, n)]
    first_sys = _masked_choice(rng, SIGNUP_FIRST_WEIGHTS, mask)

    # acquisition in operational time with linear growth, then signup days per system
    g = cfg.acquisition_growth
    u = rng.random(n)
    x = u if g == 0 else (-1 + np.sqrt(1 + 2 * g * u * (1 + g / 2))) / g
    tau0 = x * cal.n_days
    acq_day = cal.warp(tau0).astype(float) + rng.random(n)
    signup_day = np.full((n, N_SYS), np.nan)
    later = acq_day[:, None] + rng.random((n, N_SYS)) * (cal.n_days - acq_day[:, None])
    signup_day[mask] = later[mask]
    rows = np.arange(n)
    signup_day[rows, first_sys] = acq_day - rng.random(n) * 20.0
    never_buyer = rng.random(n) < cfg.never_buyer_share

    lam = rng.gamma(cfg.bgnbd_r, 1.0 / cfg.bgnbd_alpha, n)
    p = rng.beta(cfg.bgnbd_a, cfg.bgnbd_b, n)
    tier = rng.normal(0.0, cfg.price_tier_sigma, n)
    fav1 = _choose(rng, cat.dept_weights, n)
    fav2 = _choose(rng, cat.dept_weights, n)
    pref = rng.gamma(1.0, 1.0, (n, N_SYS)) * ORDER_SYSTEM_WEIGHTS * mask
    sys_cdf = np.cumsum(pref / pref.sum(axis=1, keepdims=True), axis=1)
    region = world.stores.region_of_place[place]
    home_store = np.empty(n, dtype=np.int64)
    r_choice = rng.random(n)
    for r, stores in enumerate(world.stores.stores_by_region):
        sel = region == r
        pool = stores if len(stores) else np.arange(len(world.stores.store_id))
        home_store[sel] = pool[(r_choice[sel] * len(pool)).astype(int)]
    consent = rng.random((n, 4)) < np.asarray(cfg.consent_true)

    household = np.full(n, -1, dtype=np.int64)
    n_house = int(round(n * cfg.household_share))
    if n >= 200:
        n_house = max(n_house, 4)
    if n_house >= 2:
        members = rng.choice(n, size=n_house, replace=False)
        hid, k = 0, 0
        while k < n_house - 1:
            size = min(int(rng.integers(2, 4)), n_house - k)
            if size < 2:
                break
            household[members[k : k + size]] = chunk * 1_000_000 + hid
            hid += 1
            k += size
    person_id = np.array(pl.Series(pidx + 1).cast(pl.String).str.zfill(8).to_list(), dtype=object)
    person_id = np.array(["P" + x for x in person_id], dtype=object) if n else person_id
    return Persons(
        n=n,
        pidx=pidx,
        person_id=person_id,
        gender=gender,
        first=first,
        last=last,
        last_idx=last_idx,
        birth_days=birth_days,
        place=place,
        postal=postal,
        email_local=email_local,
        email_domain=email_domain,
        email_u=email_u,
        phone8=phone8,
        loyalty=loyalty,
        mask=mask,
        first_sys=first_sys,
        signup_day=signup_day,
        never_buyer=never_buyer,
        tau0=tau0,
        lam=lam,
        p=p,
        tier=tier,
        fav1=fav1,
        fav2=fav2,
        sys_cdf=sys_cdf,
        home_store=home_store,
        consent=consent,
        household=household,
    )


def _email_locals(fl: np.ndarray, ll: np.ndarray, pattern: np.ndarray, u: np.ndarray) -> np.ndarray:
    df = pl.DataFrame({"f": fl.tolist(), "l": ll.tolist(), "p": pattern, "u": u}, strict=False)
    f, lc, us = pl.col("f"), pl.col("l"), pl.col("u").cast(pl.String)
    expr = (
        pl.when(pl.col("p") == 0)
        .then(pl.concat_str([f, pl.lit("."), lc, us]))
        .when(pl.col("p") == 1)
        .then(pl.concat_str([f, lc, us]))
        .when(pl.col("p") == 2)
        .then(pl.concat_str([f.str.slice(0, 1), lc, us]))
        .when(pl.col("p") == 3)
        .then(pl.concat_str([lc, f, us]))
        .otherwise(pl.concat_str([lc, pl.lit("."), f.str.slice(0, 1), us]))
    )
    return np.array(df.select(expr.alias("e"))["e"].to_list(), dtype=object)


def _sub(arr: np.ndarray, sel: np.ndarray, fn) -> None:
    """Apply a str -> str function in place to the selected elements of an object array."""
    idx = np.flatnonzero(sel)
    if len(idx):
        arr[idx] = [fn(x) for x in arr[idx]]


def _emails(
    rng: np.random.Generator,
    cfg: GeneratorConfig,
    local: np.ndarray,
    dom: np.ndarray,
    is_gmail: np.ndarray,
    malformed: np.ndarray,
    work: np.ndarray,
    generic_addr: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    u: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """E-mail as written in the record, and its normalised key (None = unusable/trap)."""
    R = len(local)
    dot = rng.random(R) < cfg.gmail_dot_variant_rate
    casev = rng.random(R)
    ws = rng.random(R) < cfg.email_whitespace_noise
    malk = rng.integers(0, 5, R)
    company = np.array(COMPANY_DOMAINS[:8], dtype=object)[rng.integers(0, 8, R)]
    key_local = local.copy()
    _sub(key_local, is_gmail, lambda x: x.replace(".", ""))
    key = key_local + "@" + dom
    var = local.copy()
    _sub(var, is_gmail & dot, lambda x: x.replace(".", "") if "." in x else x[0] + "." + x[1:])
    e = var + "@" + dom
    n = cfg.email_case_noise
    _sub(e, casev < n / 2, str.title)
    _sub(e, (casev >= n / 2) & (casev < n * 0.8), str.upper)
    sel = (casev >= n * 0.8) & (casev < n)
    if sel.any():
        e[sel] = var[sel] + "@" + np.array([d.upper() for d in dom[sel]], dtype=object)
    _sub(e, ws, lambda x: " " + x + " ")
    for k, fn in enumerate(
        (
            lambda lo, d: lo + d,
            lambda lo, d: lo + "@@" + d,
            lambda lo, d: lo + "@" + d.split(".")[0],
            lambda lo, d: lo + " @ " + d,
            lambda lo, d: "none",
        )
    ):
        sel = np.flatnonzero(malformed & (malk == k))
        if len(sel):
            e[sel] = [fn(lo, d) for lo, d in zip(local[sel], dom[sel], strict=True)]
    widx = np.flatnonzero(work)
    if len(widx):
        w = [
            f"{f[0].lower()}{la.lower()}{uu}@{c}"
            for f, la, uu, c in zip(first[widx], last[widx], u[widx], company[widx], strict=True)
        ]
        e[widx] = w
        key[widx] = w
    gen = np.array([g is not None for g in generic_addr], dtype=bool)
    e[gen] = generic_addr[gen]
    key[gen | malformed] = None
    return e, key


def email_key_of(local: str, domain: str) -> str:
    """Normalised e-mail: lower case, Gmail dots removed (the identity rule we plant for)."""
    local = local.lower()
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


def make_records(world: World, persons: Persons, chunk: int, rng: np.random.Generator) -> Records:
    cfg, cal = world.config, world.cal
    n = persons.n
    person_list, sys_list = [], []
    for s in range(N_SYS):
        idx = np.flatnonzero(persons.mask[:, s])
        person_list.append(idx)
        sys_list.append(np.full(len(idx), s, dtype=np.int8))
    person = np.concatenate(person_list) if n else np.array([], np.int64)
    sys = np.concatenate(sys_list) if n else np.array([], np.int8)
    R = len(person)
    rec_of = np.full((n, N_SYS), -1, dtype=np.int64)
    rec_of[person, sys] = np.arange(R)

    # ---- identifiers present per record ----------------------------------------------
    has_e = rng.random(R) < np.asarray(cfg.email_presence)[sys]
    has_p = rng.random(R) < np.asarray(cfg.phone_presence)[sys]
    has_l = rng.random(R) < np.asarray(cfg.loyalty_presence)[sys]
    prim_sys = np.argmax(persons.mask, axis=1)
    prim_rec = rec_of[person, prim_sys[person]]
    nonprim = np.arange(R) != prim_rec
    loy_ok = (np.asarray(cfg.loyalty_presence)[sys] > 0) & (
        np.asarray(cfg.loyalty_presence)[prim_sys[person]] > 0
    )
    shared = np.stack(
        [has_e & has_e[prim_rec], has_p & has_p[prim_rec], has_l & has_l[prim_rec]], 1
    )
    need = nonprim & ~shared.any(axis=1)
    allowed = np.stack([np.ones(R, bool), np.ones(R, bool), loy_ok], 1)
    forced = _masked_choice(rng, np.ones(3), allowed)
    for t, arr in enumerate((has_e, has_p, has_l)):
        sel = need & (forced == t)
        arr[sel] = True
        arr[prim_rec[sel]] = True
    shared = np.stack(
        [has_e & has_e[prim_rec], has_p & has_p[prim_rec], has_l & has_l[prim_rec]], 1
    )
    ltype = _masked_choice(rng, np.ones(3), shared | ~nonprim[:, None]) + 1
    link_type = np.where(nonprim, ltype, 0).astype(np.int8)
    prot_email = np.zeros(R, bool)
    prot_phone = np.zeros(R, bool)
    for t, prot in ((1, prot_email), (2, prot_phone)):
        sel = link_type == t
        prot[sel] = True
        prot[prim_rec[sel]] = True

    unlinkable = nonprim & (rng.random(R) < cfg.unlinkable_record_rate)
    work_email = unlinkable.copy()
    has_e[unlinkable] = True
    has_p[unlinkable] = False
    has_l[unlinkable] = False
    link_type[unlinkable] = 0
    prot_email[unlinkable] = False
    prot_phone[unlinkable] = False

    # ---- noise that changes normalised values (unprotected identifiers only) ----------
    malformed_email = has_e & ~prot_email & ~work_email & (rng.random(R) < cfg.malformed_email_rate)
    malformed_phone = has_p & ~prot_phone & (rng.random(R) < cfg.malformed_phone_rate)
    generic_email = np.zeros(R, bool)
    generic_addr = np.full(R, None, dtype=object)
    n_generic = max(1, round(n / max(1, cfg.persons_per_generic_email))) if n >= 200 else 0
    used = persons.household >= 0
    order = rng.permutation(R)
    cursor = 0
    n_combo = len(GENERIC_LOCAL_PARTS) * len(COMPANY_DOMAINS)
    combos = rng.permutation(n_combo)
    for g in range(n_generic):
        lo_u, hi_u = cfg.generic_email_users
        users = min(int(rng.integers(lo_u, hi_u + 1)), max(lo_u, n // 50))
        combo = int(combos[g % n_combo])
        local = GENERIC_LOCAL_PARTS[combo % len(GENERIC_LOCAL_PARTS)]
        domain = COMPANY_DOMAINS[combo // len(GENERIC_LOCAL_PARTS)]
        taken = 0
        while taken < users and cursor < R:
            r = order[cursor]
            cursor += 1
            if prot_email[r] or work_email[r] or used[person[r]]:
                continue
            used[person[r]] = True
            generic_email[r] = True
            generic_addr[r] = f"{local}@{domain}"
            taken += 1
    has_e |= generic_email
    malformed_email &= ~generic_email

    phone8 = persons.phone8[person].copy()
    household_phone = np.zeros(R, bool)
    hh = persons.household
    for h in np.unique(hh[hh >= 0]):
        members = np.flatnonzero(hh == h)
        head = members[0]
        for m in members[1:]:
            cands = [r for r in rec_of[m] if r >= 0 and not prot_phone[r] and not unlinkable[r]]
            if not cands:
                continue
            r = cands[int(rng.integers(len(cands)))]
            phone8[r] = persons.phone8[head]
            has_p[r] = True
            household_phone[r] = True
            malformed_phone[r] = False

    # ---- strings -----------------------------------------------------------------------
    domains = np.array([d[0] for d in EMAIL_DOMAINS], dtype=object)
    dom = domains[persons.email_domain[person]]
    local = persons.email_local[person]
    is_gmail = persons.email_domain[person] == GMAIL_INDEX
    email, email_key = _emails(
        rng,
        cfg,
        local,
        dom,
        is_gmail,
        malformed_email,
        work_email,
        generic_addr,
        persons.first[person],
        persons.last[person],
        persons.email_u[person],
    )
    email[~has_e] = None
    email_key[~has_e] = None

    style = np.where(
        rng.random(R) < cfg.phone_other_format_rate, rng.integers(0, 5, R), PHONE_DEFAULT_STYLE[sys]
    )
    phone, phone_key = format_phones(phone8, style)
    mal_pick = np.array(MALFORMED_PHONES, dtype=object)[rng.integers(0, len(MALFORMED_PHONES), R)]
    phone = np.where(malformed_phone, mal_pick, phone)
    phone_key = np.where(malformed_phone, None, phone_key)
    phone[~has_p] = None
    phone_key[~has_p] = None
    loyalty_id = np.where(has_l, persons.loyalty[person], None)

    first_name = persons.first[person].copy()
    last_name = persons.last[person].copy()
    name_typo = rng.random(R) < cfg.name_typo_rate
    _apply_typos(rng, first_name, last_name, persons.last_idx[person], name_typo)
    cc = sys == 3
    first_name[cc] = [x.upper() for x in first_name[cc]]
    last_name[cc] = [x.upper() for x in last_name[cc]]

    # ---- dates, consent, referrals -------------------------------------------------------
    end_sec = cal.start_epoch + cal.n_days * DAY - 1
    sday = persons.signup_day[person, sys]
    signup_sec = np.minimum(cal.start_epoch + (sday * DAY).astype(np.int64), end_sec - 3600)
    updated_sec = np.minimum(signup_sec + rng.integers(0, 2 * DAY, R), end_sec)
    consent = persons.consent[person].astype(np.int8)
    optout = rng.random((R, 4)) < cfg.consent_system_optout_rate
    consent[optout] = 0
    consent[rng.random((R, 4)) < cfg.consent_unknown_rate] = -1

    ids = customer_ids(persons.pidx[person], sys)
    referred_by = np.full(R, None, dtype=object)
    ref = (sys != 3) & (rng.random(R) < cfg.referral_share)
    for s in range(3):
        recs = np.flatnonzero(sys == s)
        if len(recs) < 2:
            continue
        srt = recs[np.argsort(signup_sec[recs], kind="stable")]
        pos = np.arange(len(srt))
        pick = ref[srt] & (pos > 0)
        referrer = srt[(rng.random(len(srt)) * pos).astype(np.int64)]
        referred_by[srt[pick]] = ids[referrer[pick]]

    return Records(
        n=R,
        person=person,
        sys=sys,
        rec_of=rec_of,
        source_customer_id=ids,
        first_name=first_name,
        last_name=last_name,
        email=email,
        email_key=email_key,
        phone=phone,
        phone_key=phone_key,
        loyalty_id=loyalty_id,
        has_birth=rng.random(R) < BIRTH_PRESENCE[sys],
        has_gender=rng.random(R) < GENDER_PRESENCE[sys],
        has_address=rng.random(R) < ADDRESS_PRESENCE[sys],
        signup_sec=signup_sec,
        updated_sec=updated_sec,
        consent=consent,
        referred_by=referred_by,
        link_type=link_type,
        prot_email=prot_email,
        prot_phone=prot_phone,
        unlinkable=unlinkable,
        name_typo=name_typo,
        malformed_email=malformed_email,
        malformed_phone=malformed_phone,
        generic_email=generic_email,
        household_phone=household_phone,
        work_email=work_email,
        phone8=phone8,
        phone_style=style,
    )


def customer_ids(pidx: np.ndarray, sys: np.ndarray) -> np.ndarray:
    """Per-system customer numbers (unique within a system)."""
    out = np.empty(len(pidx), dtype=object)
    specs = (
        ("", 10**9, 387_420_489, 1_000_003, 10, 1_000_000_000),
        ("W", 10**9, 244_140_621, 77_777, 9, 0),
        ("A", 10**9, 282_475_249, 31_415_926, 9, 0),
        ("CC", 10**8, 19_487_171, 2_718_281, 8, 0),
    )
    for s, (prefix, mod, mult, add, width, base) in enumerate(specs):
        sel = sys == s
        if not sel.any():
            continue
        num = affine_ids(pidx[sel], mod, mult, add) + base
        strs = pl.Series(num).cast(pl.String).str.zfill(width)
        out[sel] = [prefix + x for x in strs]
    return out


def format_phones(phone8: np.ndarray, style: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phone as written in one of five Korean styles, and its E.164 key."""
    df = pl.DataFrame({"n": np.asarray(phone8, dtype=np.int64), "s": np.asarray(style)})
    a = (pl.col("n") // 10000).cast(pl.String).str.zfill(4)
    b = (pl.col("n") % 10000).cast(pl.String).str.zfill(4)
    df = df.with_columns(a.alias("a"), b.alias("b"))
    a, b, s = pl.col("a"), pl.col("b"), pl.col("s")
    expr = (
        pl.when(s == 0)
        .then(pl.concat_str([pl.lit("010-"), a, pl.lit("-"), b]))
        .when(s == 1)
        .then(pl.concat_str([pl.lit("010"), a, b]))
        .when(s == 2)
        .then(pl.concat_str([pl.lit("+82 10-"), a, pl.lit("-"), b]))
        .when(s == 3)
        .then(pl.concat_str([pl.lit("+8210"), a, b]))
        .otherwise(pl.concat_str([pl.lit("010 "), a, pl.lit(" "), b]))
    )
    out = df.select(expr.alias("p"), pl.concat_str([pl.lit("+8210"), a, b]).alias("k"))
    return out["p"].to_numpy().astype(object), out["k"].to_numpy().astype(object)


def _apply_typos(
    rng: np.random.Generator,
    first: np.ndarray,
    last: np.ndarray,
    last_idx: np.ndarray,
    sel: np.ndarray,
) -> None:
    variants = [s[2] for s in SURNAMES]
    for r in np.flatnonzero(sel):
        kind = int(rng.integers(0, 5))
        f = str(first[r])
        if kind == 0:  # romanisation variant of the surname
            opts = variants[int(last_idx[r])]
            last[r] = opts[int(rng.integers(len(opts)))]
        elif kind == 1 and len(f) > 3:  # dropped letter
            i = int(rng.integers(1, len(f)))
            first[r] = f[:i] + f[i + 1 :]
        elif kind == 2 and len(f) > 3:  # swapped letters
            i = int(rng.integers(1, len(f) - 1))
            first[r] = f[:i] + f[i + 1] + f[i] + f[i + 2 :]
        elif kind == 3:  # syllables split: "Min-jun" / "Min jun"
            i = _syllable_split(f)
            sep = "-" if rng.random() < 0.5 else " "
            first[r] = f[:i] + sep + f[i:].lower() if i else f
        else:  # first and last swapped (Korean order)
            first[r], last[r] = last[r], first[r]


def _syllable_split(name: str) -> int:
    vowels = set("aeiouy")
    seen_vowel = False
    for i, ch in enumerate(name.lower()):
        if ch in vowels:
            seen_vowel = True
        elif seen_vowel and i + 1 < len(name) and name[i + 1].lower() in vowels:
            return i
    return len(name) // 2
