"""Purchases: BG/NBD buy-till-you-die orders, line items, returns, anonymous sales."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from .people import Persons
from .world import DAY, World

MAX_REPEAT = 600
KIND_NATURAL, KIND_CAMPAIGN, KIND_HOLDOUT, KIND_ANON, KIND_RETURN = 0, 1, 2, 3, 4


@dataclass
class Orders:
    person: np.ndarray  # local person index, -1 anonymous
    sys: np.ndarray
    sec: np.ndarray  # local naive epoch seconds
    kind: np.ndarray
    campaign: np.ndarray  # campaign index or -1
    store: np.ndarray  # store index or -1

    @property
    def n(self) -> int:
        return len(self.person)

    @staticmethod
    def concat(parts: list[Orders]) -> Orders:
        return Orders(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("person", "sys", "sec", "kind", "campaign", "store")
            )
        )


@dataclass
class Lines:
    order: np.ndarray
    line: np.ndarray
    product: np.ndarray
    qty: np.ndarray
    amount: np.ndarray
    discount: np.ndarray
    cost_missing: np.ndarray


@dataclass
class Lifetimes:
    n_natural: np.ndarray  # natural orders per person
    alive: np.ndarray  # still active at end_date (BG/NBD truth)
    dropout_day: np.ndarray  # calendar day of the last purchase before dropping out, -1 if alive


def natural_orders(
    world: World, persons: Persons, rng: np.random.Generator
) -> tuple[Orders, Lifetimes]:
    cal = world.cal
    n = persons.n
    buyers = ~persons.never_buyer
    D = cal.n_days - persons.tau0
    K = rng.geometric(np.clip(persons.p, 1e-6, 1.0))
    M = rng.poisson(persons.lam * D)
    nrep = np.minimum(np.minimum(M, K - 1), MAX_REPEAT)
    nrep[~buyers] = 0
    alive = buyers & (K - 1 > M)
    total = int(nrep.sum())
    owner = np.repeat(np.arange(n), nrep)
    cs = np.cumsum(rng.exponential(1.0, total))
    ends = np.cumsum(nrep)
    starts = ends - nrep
    cs0 = np.concatenate([[0.0], cs])
    base = cs0[starts]
    s_last = cs0[ends] - base
    denom = s_last + rng.gamma(np.maximum(M - nrep, 0) + 1.0, 1.0)
    u = (cs - base[owner]) / denom[owner]
    tau_rep = persons.tau0[owner] + D[owner] * u
    b_idx = np.flatnonzero(buyers)
    person = np.concatenate([b_idx, owner])
    tau = np.concatenate([persons.tau0[b_idx], tau_rep])
    day = cal.warp(tau)
    first = np.concatenate([np.ones(len(b_idx), bool), np.zeros(total, bool)])
    sys = choose_order_system(rng, persons, person, day)
    sys[first] = persons.first_sys[person[first]]
    lastday = np.full(n, -1, dtype=np.int64)
    np.maximum.at(lastday, person, day)
    dropout_day = np.where(buyers & ~alive, lastday, -1)
    orders = Orders(
        person=person.astype(np.int64),
        sys=sys.astype(np.int8),
        sec=order_seconds(world, rng, day, sys),
        kind=np.full(len(person), KIND_NATURAL, np.int8),
        campaign=np.full(len(person), -1, np.int64),
        store=pick_store(world, rng, persons, person, sys),
    )
    return orders, Lifetimes(
        n_natural=np.bincount(person, minlength=n), alive=alive, dropout_day=dropout_day
    )


def choose_order_system(
    rng: np.random.Generator, persons: Persons, person: np.ndarray, day: np.ndarray
) -> np.ndarray:
    u = rng.random(len(person))
    sys = np.minimum((u[:, None] > persons.sys_cdf[person]).sum(axis=1), 3)
    signup = persons.signup_day[person, sys]
    bad = ~(signup <= day + 1.0)
    sys[bad] = persons.first_sys[person[bad]]
    return sys


def order_seconds(
    world: World, rng: np.random.Generator, day: np.ndarray, sys: np.ndarray
) -> np.ndarray:
    tod = world.cal.sample_time_of_day(rng, sys.astype(np.int64))
    return world.cal.start_epoch + day.astype(np.int64) * DAY + tod


def pick_store(
    world: World, rng: np.random.Generator, persons: Persons, person: np.ndarray, sys: np.ndarray
) -> np.ndarray:
    n_stores = len(world.stores.store_id)
    store = np.where(
        rng.random(len(person)) < 0.8,
        persons.home_store[person],
        rng.integers(0, n_stores, len(person)),
    )
    return np.where(sys == 0, store, -1).astype(np.int64)


def make_lines(
    world: World,
    rng: np.random.Generator,
    orders: Orders,
    tier: np.ndarray,
    fav1: np.ndarray,
    fav2: np.ndarray,
    max_lines: int = 5,
    avoid_favourites: np.ndarray | None = None,
) -> Lines:
    """Line items for each order (tier/fav arrays are per order)."""
    cfg, cat = world.config, world.catalog
    w = np.asarray(cfg.lines_per_order_weights[:max_lines], dtype=float)
    cdf = np.cumsum(w / w.sum())
    k = np.minimum(np.searchsorted(cdf, rng.random(orders.n), side="right"), len(w) - 1) + 1
    order = np.repeat(np.arange(orders.n), k)
    ends = np.cumsum(k)
    line = np.arange(len(order)) - np.repeat(ends - k, k) + 1
    L = len(order)
    n_dept = len(cat.dept_names)
    dcdf = np.cumsum(cat.dept_weights)
    rand_dept = np.minimum(np.searchsorted(dcdf, rng.random(L), side="right"), n_dept - 1)
    fav = np.where(rng.random(L) < 0.7, fav1[order], fav2[order])
    dept = np.where(rng.random(L) < cfg.favourite_department_share, fav, rand_dept)
    if avoid_favourites is not None:
        av = avoid_favourites[order]
        shift = (dept == fav1[order]) | (dept == fav2[order])
        for _ in range(2):
            move = av & shift
            dept = np.where(move, (dept + 1) % n_dept, dept)
            shift = (dept == fav1[order]) | (dept == fav2[order])
    q = ndtr(0.8 * tier[order] + rng.normal(0.0, 0.6, L))
    size = cat.dept_sizes[dept]
    product = cat.dept_offsets[dept] + np.minimum((q * size).astype(np.int64), size - 1)
    maxq = cat.max_qty[product]
    qty = np.where(rng.random(L) < 0.7, 1, 2 + (rng.random(L) * (maxq - 1)).astype(np.int64))
    qty = np.minimum(qty, maxq).astype(np.int64)
    gross = qty * cat.price[product]
    disc = np.where(
        rng.random(L) < cfg.discount_line_share,
        (gross * rng.uniform(0.05, 0.30, L) / 100).astype(np.int64) * 100,
        0,
    )
    camp = orders.campaign[order] >= 0
    disc = np.where(camp, np.maximum(disc, (gross // 1000) * 100), disc)
    return Lines(
        order=order,
        line=line.astype(np.int64),
        product=product,
        qty=qty,
        amount=gross - disc,
        discount=disc,
        cost_missing=rng.random(L) < cfg.missing_unit_cost_rate,
    )


def make_returns(
    world: World, rng: np.random.Generator, orders: Orders, lines: Lines
) -> tuple[Orders, Lines]:
    """Return transactions: one per returned purchase line, 1-30 days later."""
    cat = world.catalog
    end_sec = world.cal.start_epoch + world.cal.n_days * DAY - 1
    f = cat.return_factor[lines.product]
    prob = world.config.return_rate * f / max(float(f.mean()), 1e-9) if len(f) else f
    sel = np.flatnonzero(rng.random(len(prob)) < prob * 1.04)
    o = lines.order[sel]
    sec = orders.sec[o] + rng.integers(DAY, 30 * DAY, len(sel))
    keep = sec <= end_sec
    sel, o, sec = sel[keep], o[keep], sec[keep]
    n = len(sel)
    qty = lines.qty[sel]
    rq = np.where(qty > 1, 1 + (rng.random(n) * qty).astype(np.int64), 1)
    rq = np.minimum(rq, qty)
    amount = -np.rint(lines.amount[sel] * rq / qty).astype(np.int64)
    ret_orders = Orders(
        person=orders.person[o],
        sys=orders.sys[o],
        sec=sec,
        kind=np.full(n, KIND_RETURN, np.int8),
        campaign=np.full(n, -1, np.int64),
        store=orders.store[o],
    )
    ret_lines = Lines(
        order=np.arange(n),
        line=np.ones(n, np.int64),
        product=lines.product[sel],
        qty=-rq,
        amount=amount,
        discount=np.zeros(n, np.int64),
        cost_missing=lines.cost_missing[sel],
    )
    return ret_orders, ret_lines


def anonymous_orders(
    world: World, rng: np.random.Generator, n_orders: int
) -> tuple[Orders, np.ndarray]:
    """Walk-in store sales without a customer; returns orders and a per-order tier."""
    cal, cfg = world.cal, world.config
    g = cfg.acquisition_growth
    u = rng.random(n_orders)
    x = u if g == 0 else np.sqrt(u * ((1 + g) ** 2 - 1) + 1) / g - 1 / g  # density ~ 1 + g x
    day = cal.warp(np.clip(x, 0, 1) * cal.n_days)
    sys = np.zeros(n_orders, np.int8)
    orders = Orders(
        person=np.full(n_orders, -1, np.int64),
        sys=sys,
        sec=order_seconds(world, rng, day, sys),
        kind=np.full(n_orders, KIND_ANON, np.int8),
        campaign=np.full(n_orders, -1, np.int64),
        store=rng.integers(0, len(world.stores.store_id), n_orders).astype(np.int64),
    )
    return orders, rng.normal(0.0, cfg.price_tier_sigma, n_orders)


def concat_lines(parts: list[tuple[Lines, int]]) -> Lines:
    """Concatenate line sets, offsetting their order indices."""
    fields = ("order", "line", "product", "qty", "amount", "discount", "cost_missing")
    out = {f: [] for f in fields}
    for lines, offset in parts:
        for f in fields:
            v = getattr(lines, f)
            out[f].append(v + offset if f == "order" else v)
    return Lines(**{f: np.concatenate(v) for f, v in out.items()})
