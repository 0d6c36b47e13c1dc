"""Campaign audiences (contacted vs holdout), planted responses, and contact rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .orders import (
    KIND_CAMPAIGN,
    KIND_HOLDOUT,
    Orders,
    choose_order_system,
    order_seconds,
    pick_store,
)
from .people import Persons, Records
from .world import DAY, World

# channel priority of source systems for a campaign channel, and the consent column used
CHANNEL_SYSTEMS: dict[str, tuple[tuple[int, ...], int]] = {
    "email": ((1, 2, 0, 3), 0),
    "sms": ((0, 3, 2, 1), 1),
    "push": ((2,), -1),
    "direct_mail": ((0, 1, 3, 2), 3),
}
CONSENT_COLUMN = {"email": 0, "sms": 1, "direct_mail": 3}
INBOUND_CHANNEL = ("visit", "chat", "chat", "phone")
INBOUND_COST = (-1, 700, 700, 2500)
INBOUND_TYPES = ("inquiry", "service", "complaint")
INBOUND_TYPE_W = np.array([0.45, 0.40, 0.15])
INBOUND_OUTCOMES = ("resolved", "escalated", "pending")
INBOUND_OUTCOME_W = np.array([0.80, 0.12, 0.08])
# (outcomes, weights for non-responders, weights for responders) per channel
OUTCOMES: dict[str, tuple[tuple[str, ...], tuple[float, ...], tuple[float, ...]]] = {
    "email": (
        ("delivered", "opened", "clicked", "bounced", "unsubscribed"),
        (0.55, 0.30, 0.115, 0.03, 0.005),
        (0.15, 0.35, 0.50, 0.0, 0.0),
    ),
    "sms": (("delivered", "bounced", "unsubscribed"), (0.96, 0.035, 0.005), (1.0, 0.0, 0.0)),
    "push": (("delivered", "opened", "bounced"), (0.70, 0.25, 0.05), (0.40, 0.60, 0.0)),
    "direct_mail": (("sent", "bounced"), (0.98, 0.02), (1.0, 0.0)),
}


@dataclass
class Contacts:
    person: np.ndarray
    record: np.ndarray
    sec: np.ndarray
    channel: np.ndarray  # object str
    direction: np.ndarray  # object str
    ctype: np.ndarray  # object str
    campaign: np.ndarray  # index or -1
    outcome: np.ndarray  # object str
    cost: np.ndarray  # int, -1 = empty

    @property
    def n(self) -> int:
        return len(self.person)


@dataclass
class Audience:
    """One row per audience member of a campaign (for the truth)."""

    campaign: np.ndarray
    person: np.ndarray
    sec: np.ndarray  # actual (contacted) or notional (holdout) contact time
    contacted: np.ndarray


@dataclass
class Unsubscribe:
    record: np.ndarray
    consent_col: np.ndarray
    sec: np.ndarray


def _natural_stats(orders: Orders, n: int, day_of: int, keys: np.ndarray, starts: np.ndarray):
    """Per person: number of orders before day_of and day of the last one (-1)."""
    del orders
    pos = np.searchsorted(keys, np.arange(n, dtype=np.int64) * (1 << 32) + day_of, side="left")
    count = pos - starts
    return count, pos


def campaigns(
    world: World,
    rng: np.random.Generator,
    persons: Persons,
    records: Records,
    natural: Orders,
) -> tuple[Contacts, Orders, Audience, Unsubscribe]:
    cal, cfg, cp = world.cal, world.config, world.campaigns
    n = persons.n
    nat_day = (natural.sec - cal.start_epoch) // DAY
    keys = natural.person.astype(np.int64) * (1 << 32) + nat_day
    srt = np.sort(keys)
    sorted_day = srt & ((1 << 32) - 1)
    starts = np.searchsorted(srt, np.arange(n, dtype=np.int64) * (1 << 32), side="left")
    has_email = np.array([e is not None for e in records.email], dtype=bool)
    has_phone = np.array([e is not None for e in records.phone], dtype=bool)
    c_parts: list[dict] = []
    o_parts: list[Orders] = []
    a_parts: list[Audience] = []
    u_parts: list[Unsubscribe] = []
    for ci, cid in enumerate(cp.campaign_id):
        del cid
        s = int(cp.start_day[ci])
        chan = cp.channel[ci]
        send0 = cal.start_epoch + s * DAY + 10 * 3600
        systems, ccol = CHANNEL_SYSTEMS[chan]
        rec = np.full(n, -1, dtype=np.int64)
        for sy in systems:
            r = records.rec_of[:, sy]
            ok = r >= 0
            rr = np.where(ok, r, 0)
            ok &= records.signup_sec[rr] <= send0
            if chan == "email":
                ok &= has_email[rr]
            elif chan == "sms":
                ok &= has_phone[rr]
            elif chan == "direct_mail":
                ok &= records.has_address[rr]
            if ccol >= 0:
                ok &= records.consent[rr, ccol] == 1
            take = ok & (rec < 0)
            rec[take] = r[take]
        count, pos = _natural_stats(natural, n, s, srt, starts)
        last = np.where(count > 0, sorted_day[np.maximum(pos - 1, 0)], -(10**6))
        ctype = cp.ctype[ci]
        if ctype == "retention":
            ok_type = (count >= 3) & (last >= s - 90)
        elif ctype == "winback":
            ok_type = (last < s - 180) & (last >= s - 720)
        elif ctype == "crosssell":
            ok_type = last >= s - 180
        else:
            ok_type = np.ones(n, bool)
        aud = np.flatnonzero((rec >= 0) & ok_type & (rng.random(n) < cp.audience_share[ci]))
        hold = rng.random(len(aud)) < cfg.holdout_share
        sec = send0 + rng.integers(0, 7200, len(aud))
        a_parts.append(Audience(np.full(len(aud), ci), aud, sec, ~hold))
        rate = np.where(hold, cp.base_rate[ci], cp.base_rate[ci] + cp.uplift[ci])
        resp = rng.random(len(aud)) < rate
        # contact rows with outcomes
        con = ~hold
        names, w_non, w_resp = OUTCOMES[chan]
        cdf_n = np.cumsum(w_non) / sum(w_non)
        cdf_r = np.cumsum(w_resp) / sum(w_resp)
        uu = rng.random(len(aud))
        oi = np.where(
            resp,
            np.searchsorted(cdf_r, uu, side="right"),
            np.searchsorted(cdf_n, uu, side="right"),
        )
        oi = np.minimum(oi, len(names) - 1)
        outcome = np.array(names, dtype=object)[oi]
        if chan == "email":
            bad = records.email_key[rec[aud]] == None  # noqa: E711  malformed/generic
            outcome = np.where(
                bad & (records.generic_email[rec[aud]] == False) & ~resp,  # noqa: E712
                "bounced",
                outcome,
            )
        c_parts.append(
            dict(
                person=aud[con],
                record=rec[aud[con]],
                sec=sec[con],
                channel=chan,
                ctype="campaign",
                campaign=ci,
                outcome=outcome[con],
                cost=int(cp.cost[ci]),
            )
        )
        unsub = con & (outcome == "unsubscribed")
        if unsub.any() and ccol >= 0:
            u_parts.append(
                Unsubscribe(
                    rec[aud[unsub]],
                    np.full(int(unsub.sum()), ccol),
                    sec[unsub] + rng.integers(600, 2 * DAY, int(unsub.sum())),
                )
            )
        # response orders (contacted: carry campaign_id; holdout: ordinary purchase)
        rp = aud[resp]
        rsec = sec[resp] + rng.integers(1800, cfg.attribution_days * DAY - 3600, len(rp))
        rday = (rsec - cal.start_epoch) // DAY
        keep = rday < cal.n_days
        rp, rday, contacted = rp[keep], rday[keep], con[resp][keep]
        sys = choose_order_system(rng, persons, rp, rday)
        o_parts.append(
            Orders(
                person=rp.astype(np.int64),
                sys=sys.astype(np.int8),
                sec=order_seconds(world, rng, rday, sys),
                kind=np.where(contacted, KIND_CAMPAIGN, KIND_HOLDOUT).astype(np.int8),
                campaign=np.where(contacted, ci, -1).astype(np.int64),
                store=pick_store(world, rng, persons, rp, sys),
            )
        )
    contacts = _contacts_from_parts(c_parts)
    orders = Orders.concat(o_parts) if o_parts else _empty_orders()
    audience = Audience(
        *(
            np.concatenate([getattr(a, f) for a in a_parts]) if a_parts else np.array([], np.int64)
            for f in ("campaign", "person", "sec", "contacted")
        )
    )
    unsub = Unsubscribe(
        *(
            np.concatenate([getattr(u, f) for u in u_parts]) if u_parts else np.array([], np.int64)
            for f in ("record", "consent_col", "sec")
        )
    )
    return contacts, orders, audience, unsub


def _empty_orders() -> Orders:
    e = np.array([], np.int64)
    return Orders(e, e.astype(np.int8), e, e.astype(np.int8), e, e)


def _contacts_from_parts(parts: list[dict]) -> Contacts:
    if not parts:
        e = np.array([], np.int64)
        o = np.array([], dtype=object)
        return Contacts(e, e, e, o, o, o, e, o, e)
    sizes = [len(p["person"]) for p in parts]
    return Contacts(
        person=np.concatenate([p["person"] for p in parts]),
        record=np.concatenate([p["record"] for p in parts]),
        sec=np.concatenate([p["sec"] for p in parts]),
        channel=np.repeat(np.array([p["channel"] for p in parts], dtype=object), sizes),
        direction=np.full(sum(sizes), "outbound", dtype=object),
        ctype=np.repeat(np.array([p["ctype"] for p in parts], dtype=object), sizes),
        campaign=np.repeat(np.array([p["campaign"] for p in parts]), sizes),
        outcome=np.concatenate([p["outcome"] for p in parts]).astype(object),
        cost=np.repeat(np.array([p["cost"] for p in parts]), sizes),
    )


def inbound(
    world: World,
    rng: np.random.Generator,
    persons: Persons,
    records: Records,
    orders: Orders,
    n_orders_per_person: np.ndarray,
    day_range: tuple[int, int] | None = None,
) -> Contacts:
    """Inbound service contacts, inquiries and complaints (visit/chat/phone)."""
    cal, cfg = world.cal, world.config
    n = persons.n
    lam = cfg.inbound_contacts_base + cfg.inbound_contacts_per_order * n_orders_per_person
    k = rng.poisson(lam)
    person = np.repeat(np.arange(n), k)
    m = len(person)
    end_sec = cal.start_epoch + cal.n_days * DAY - 1
    # around a random own order (70%) or any time after the first signup
    first_signup = np.nanmin(persons.signup_day, axis=1)
    lo = cal.start_epoch + (np.maximum(first_signup, 0) * DAY).astype(np.int64)
    sec = lo[person] + (rng.random(m) * (end_sec - lo[person])).astype(np.int64)
    if orders.n:
        cust = orders.person >= 0
        o_idx = np.flatnonzero(cust)
        o_srt = o_idx[np.argsort(orders.person[o_idx], kind="stable")]
        cnt = np.bincount(orders.person[o_srt], minlength=n)
        st = np.concatenate([[0], np.cumsum(cnt)[:-1]])
        has = cnt[person] > 0
        pick = (
            o_srt[
                np.minimum(
                    st[person] + (rng.random(m) * cnt[person]).astype(np.int64), len(o_srt) - 1
                )
            ]
            if len(o_srt)
            else np.zeros(m, np.int64)
        )
        near = has & (rng.random(m) < 0.7)
        sec = np.where(near, orders.sec[pick] + rng.integers(600, 10 * DAY, m), sec)
    sec = np.minimum(sec, end_sec)
    # the system the person used: one of their records that existed at that time
    rec = np.full(m, -1, dtype=np.int64)
    order_sys = rng.permuted(np.tile(np.arange(4), (m, 1)), axis=1)
    for j in range(4):
        sy = order_sys[:, j]
        r = records.rec_of[person, sy]
        ok = (r >= 0) & (rec < 0)
        ok &= records.signup_sec[np.where(r >= 0, r, 0)] <= sec
        rec[ok] = r[ok]
    keep = rec >= 0
    if day_range is not None:
        d = (sec - cal.start_epoch) // DAY
        keep &= (d >= day_range[0]) & (d <= day_range[1])
    person, rec, sec = person[keep], rec[keep], sec[keep]
    m = len(person)
    sys = records.sys[rec]
    # time of day of the touchpoint: store hours for visits, call-centre hours for calls
    day = (sec - cal.start_epoch) // DAY
    tod_channel = np.array([0, 1, 2, 3])[sys]
    sec = cal.start_epoch + day * DAY + cal.sample_time_of_day(rng, tod_channel)
    t = np.minimum(np.searchsorted(np.cumsum(INBOUND_TYPE_W), rng.random(m), side="right"), 2)
    o = np.minimum(np.searchsorted(np.cumsum(INBOUND_OUTCOME_W), rng.random(m), side="right"), 2)
    return Contacts(
        person=person,
        record=rec,
        sec=sec,
        channel=np.array(INBOUND_CHANNEL, dtype=object)[sys],
        direction=np.full(m, "inbound", dtype=object),
        ctype=np.array(INBOUND_TYPES, dtype=object)[t],
        campaign=np.full(m, -1, np.int64),
        outcome=np.array(INBOUND_OUTCOMES, dtype=object)[o],
        cost=np.array(INBOUND_COST)[sys],
    )


def response_truth(
    world: World, audience: Audience, orders: Orders, order_positive: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per campaign: (contacted, holdout, contacted responders, holdout responders).

    A responder has a purchase order (positive amount) in (contact, contact + window].
    """
    nc = len(world.campaigns.campaign_id)
    window = world.config.attribution_days * DAY
    sel = (orders.person >= 0) & order_positive
    keys = np.sort(orders.person[sel].astype(np.int64) * (1 << 40) + orders.sec[sel])
    q = audience.person.astype(np.int64) * (1 << 40) + audience.sec
    pos = np.searchsorted(keys, q, side="right")
    nxt = keys[np.minimum(pos, len(keys) - 1)] if len(keys) else np.zeros(len(q), np.int64)
    responded = (pos < len(keys)) & (nxt <= q + window)
    con = audience.contacted.astype(bool)
    camp = audience.campaign.astype(np.int64)
    return (
        np.bincount(camp[con], minlength=nc),
        np.bincount(camp[~con], minlength=nc),
        np.bincount(camp[con & responded], minlength=nc),
        np.bincount(camp[~con & responded], minlength=nc),
    )
