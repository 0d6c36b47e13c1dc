"""Global, customer-independent state: calendar, products, stores, campaigns.

Everything here depends only on (seed, end_date, config), so a chunk worker or the
next-night generator can rebuild it cheaply and identically.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .config import GeneratorConfig
from .reference import BRANDS, DEPARTMENTS, PLACES

EPOCH = dt.date(1970, 1, 1)
DAY = 86_400
CAMPAIGN_TYPES: tuple[str, ...] = ("newsletter", "retention", "crosssell", "winback")
CAMPAIGN_CHANNELS: dict[str, tuple[str, ...]] = {
    "newsletter": ("email", "push", "email"),
    "retention": ("email", "sms", "direct_mail"),
    "crosssell": ("push", "email", "sms"),
    "winback": ("sms", "direct_mail", "email"),
}
SEASONS = (
    "Winter",
    "Winter",
    "Spring",
    "Spring",
    "Spring",
    "Summer",
    "Summer",
    "Summer",
    "Autumn",
    "Autumn",
    "Autumn",
    "Winter",
)

# Hour-of-day weights per transaction channel (store, web, app, call_centre).
HOUR_WEIGHTS = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 8, 9, 8, 8, 9, 10, 11, 10, 8, 5, 0, 0],
        [2, 1, 1, 0.5, 0.5, 0.5, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 5, 5, 6, 7, 8, 9, 8, 5],
        [3, 2, 1, 0.5, 0.5, 0.5, 1, 3, 5, 4, 4, 5, 8, 6, 4, 4, 4, 5, 6, 7, 8, 9, 9, 6],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 9, 10, 7, 8, 10, 9, 8, 6, 0, 0, 0, 0, 0, 0],
    ],
    dtype=float,
)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """Independent, reproducible stream per (seed, purpose, chunk...)."""
    return np.random.default_rng([int(seed), *[int(s) for s in stream]])


def affine_ids(idx: np.ndarray, modulus: int, mult: int, add: int) -> np.ndarray:
    """Bijective scramble of non-negative indices into [0, modulus) (mult coprime)."""
    return (idx.astype(np.int64) * mult + add) % modulus


@dataclass
class Calendar:
    start: dt.date
    end: dt.date
    n_days: int
    start_epoch: int  # local naive epoch seconds of start 00:00
    cum: np.ndarray  # cumulative intensity, length n_days+1, cum[-1] == n_days
    month: np.ndarray
    year: np.ndarray

    def warp(self, tau: np.ndarray) -> np.ndarray:
        """Operational time (intensity-weighted days) -> calendar day index."""
        day = np.searchsorted(self.cum, tau, side="right") - 1
        return np.clip(day, 0, self.n_days - 1)

    def day_of_epoch(self, d: dt.date) -> int:
        return (d - self.start).days

    def sample_time_of_day(self, rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
        """Seconds after midnight, from the channel's hour profile."""
        probs = HOUR_WEIGHTS / HOUR_WEIGHTS.sum(axis=1, keepdims=True)
        cdf = np.cumsum(probs, axis=1)
        u = rng.random(channel.shape[0])
        hour = np.empty(channel.shape[0], dtype=np.int64)
        for c in range(cdf.shape[0]):
            sel = channel == c
            hour[sel] = np.searchsorted(cdf[c], u[sel], side="right")
        hour = np.minimum(hour, 23)
        return hour * 3600 + rng.integers(0, 3600, channel.shape[0])


def build_calendar(end_date: dt.date, config: GeneratorConfig) -> Calendar:
    try:
        start = end_date.replace(year=end_date.year - config.history_years)
    except ValueError:  # 29 February
        start = end_date.replace(year=end_date.year - config.history_years, day=28)
    start = start + dt.timedelta(days=1)
    n_days = (end_date - start).days + 1
    days = np.arange(n_days)
    ordinals = start.toordinal() + days
    dates = [dt.date.fromordinal(int(o)) for o in ordinals]
    month = np.array([d.month for d in dates])
    year = np.array([d.year for d in dates])
    weekday = np.array([d.weekday() for d in dates])
    w = np.asarray(config.month_factors)[month - 1] * np.asarray(config.weekday_factors)[weekday]
    cum = np.concatenate([[0.0], np.cumsum(w)])
    cum = cum * (n_days / cum[-1])
    return Calendar(
        start=start,
        end=end_date,
        n_days=n_days,
        start_epoch=(start - EPOCH).days * DAY,
        cum=cum,
        month=month,
        year=year,
    )


@dataclass
class Catalog:
    product_id: np.ndarray  # str
    name: np.ndarray
    category: np.ndarray
    department: np.ndarray
    brand: np.ndarray
    dept_idx: np.ndarray
    cat_idx: np.ndarray
    price: np.ndarray  # int64 KRW
    cost: np.ndarray  # int64 KRW
    max_qty: np.ndarray
    dept_names: tuple[str, ...]
    dept_weights: np.ndarray
    dept_offsets: np.ndarray  # products sorted by (dept, price): slice per dept
    dept_sizes: np.ndarray
    return_factor: np.ndarray  # per product


def build_catalog(seed: int, config: GeneratorConfig) -> Catalog:
    rng = rng_for(seed, 1)
    cats = []  # (dept_i, dept, cat, median, maxq, nouns, weight)
    for di, (dept, dweight, categories) in enumerate(DEPARTMENTS):
        for cat, median, maxq, nouns in categories:
            cats.append((di, dept, cat, median, maxq, nouns, dweight / len(categories)))
    n = max(config.n_products, 4 * len(cats))
    weights = np.array([c[6] for c in cats])
    counts = np.maximum(4, np.floor(weights / weights.sum() * n).astype(int))
    while counts.sum() < n:
        counts[int(np.argmax(weights / counts))] += 1
    while counts.sum() > n:
        counts[int(np.argmax(counts))] -= 1
    rows = []
    for ci, (di, dept, cat, median, maxq, nouns, _) in enumerate(cats):
        brands = BRANDS[dept]
        for k in range(int(counts[ci])):
            price = median * float(np.exp(rng.normal(0.0, 0.55)))
            price = max(1000, int(round(price / 1000.0)) * 1000 - 100)
            cost = int(round(price * rng.uniform(0.45, 0.75) / 10.0)) * 10
            brand = brands[int(rng.integers(len(brands)))]
            noun = nouns[k % len(nouns)]
            variant = ("", " Premium", " Lite", " Plus", " Mini", " Classic")[k // len(nouns) % 6]
            rows.append((di, ci, dept, cat, brand, f"{brand} {noun}{variant}", price, cost, maxq))
    rows.sort(key=lambda r: (r[0], r[6], r[1], r[5]))  # dept, price: tier selection slices
    order = np.arange(len(rows))
    perm = rng.permutation(len(rows))  # product ids do not reveal price order
    product_id = np.array([f"SKU{100001 + int(perm[i])}" for i in order], dtype=object)
    dept_idx = np.array([r[0] for r in rows])
    dept_names = tuple(d[0] for d in DEPARTMENTS)
    dept_sizes = np.bincount(dept_idx, minlength=len(dept_names))
    dept_offsets = np.concatenate([[0], np.cumsum(dept_sizes)[:-1]])
    return_factor = np.where(dept_idx == 0, 2.0, np.where(dept_idx == 2, 0.3, 1.0))
    return Catalog(
        product_id=product_id,
        name=np.array([r[5] for r in rows], dtype=object),
        category=np.array([r[3] for r in rows], dtype=object),
        department=np.array([r[2] for r in rows], dtype=object),
        brand=np.array([r[4] for r in rows], dtype=object),
        dept_idx=dept_idx,
        cat_idx=np.array([r[1] for r in rows]),
        price=np.array([r[6] for r in rows], dtype=np.int64),
        cost=np.array([r[7] for r in rows], dtype=np.int64),
        max_qty=np.array([r[8] for r in rows]),
        dept_names=dept_names,
        dept_weights=np.array([d[1] for d in DEPARTMENTS]) / sum(d[1] for d in DEPARTMENTS),
        dept_offsets=dept_offsets,
        dept_sizes=dept_sizes,
        return_factor=return_factor,
    )


@dataclass
class Stores:
    store_id: np.ndarray  # str
    place: np.ndarray  # index into PLACES
    region_of_place: np.ndarray  # region index per place
    stores_by_region: list[np.ndarray]


def build_stores(seed: int, config: GeneratorConfig) -> Stores:
    rng = rng_for(seed, 2)
    pw = np.array([p[5] for p in PLACES])
    regions = sorted({p[0] for p in PLACES})
    region_of_place = np.array([regions.index(p[0]) for p in PLACES])
    n = config.n_stores
    # one store per region first, the rest by population
    first = np.array([int(np.flatnonzero(region_of_place == r)[0]) for r in range(len(regions))])
    rest = rng.choice(len(PLACES), size=max(0, n - len(first)), p=pw / pw.sum())
    place = np.concatenate([first, rest])[:n]
    store_id = np.array([f"ST{101 + i}" for i in range(len(place))], dtype=object)
    by_region = [np.flatnonzero(region_of_place[place] == r) for r in range(len(regions))]
    return Stores(store_id, place, region_of_place, by_region)


@dataclass
class Campaigns:
    campaign_id: list[str]
    name: list[str]
    ctype: list[str]
    channel: list[str]
    start_day: np.ndarray  # calendar day index
    start_date: list[dt.date]
    end_date: list[dt.date]
    cost: np.ndarray
    base_rate: np.ndarray
    uplift: np.ndarray
    audience_share: np.ndarray


def build_campaigns(seed: int, cal: Calendar, config: GeneratorConfig) -> Campaigns:
    rng = rng_for(seed, 3)
    n = config.n_campaigns
    first, last = min(120, cal.n_days // 3), cal.n_days - config.attribution_days - 2
    days = np.linspace(first, max(first, last), n).round().astype(int) if n else np.array([], int)
    days = np.clip(days + rng.integers(-5, 6, n), 0, cal.n_days - config.attribution_days - 2)
    ids, names, types, chans, starts, ends = [], [], [], [], [], []
    base, uplift, share = [], [], []
    offset = 0  # newsletter first: no customer has lapsed yet when the history starts
    for i in range(n):
        ctype = CAMPAIGN_TYPES[(i + offset) % len(CAMPAIGN_TYPES)]
        chan = CAMPAIGN_CHANNELS[ctype][(i // len(CAMPAIGN_TYPES)) % 3]
        start = cal.start + dt.timedelta(days=int(days[i]))
        ids.append(f"CMP{start:%Y%m}{i + 1:02d}")
        names.append(f"{SEASONS[start.month - 1]} {start.year} {ctype.title()} ({chan})")
        types.append(ctype)
        chans.append(chan)
        starts.append(start)
        ends.append(start + dt.timedelta(days=13))
        b, u = config.campaign_rates[ctype]
        base.append(round(b * float(rng.uniform(0.8, 1.2)), 4))
        uplift.append(round(u * float(rng.uniform(0.8, 1.2)), 4))
        share.append(config.campaign_audience_share[ctype])
    return Campaigns(
        campaign_id=ids,
        name=names,
        ctype=types,
        channel=chans,
        start_day=np.asarray(days, dtype=np.int64),
        start_date=starts,
        end_date=ends,
        cost=np.array([config.cost_per_contact[c] for c in chans], dtype=np.int64),
        base_rate=np.array(base),
        uplift=np.array(uplift),
        audience_share=np.array(share),
    )


@dataclass
class World:
    seed: int
    config: GeneratorConfig
    cal: Calendar
    catalog: Catalog
    stores: Stores
    campaigns: Campaigns


def build_world(seed: int, end_date: dt.date, config: GeneratorConfig) -> World:
    cal = build_calendar(end_date, config)
    return World(
        seed=seed,
        config=config,
        cal=cal,
        catalog=build_catalog(seed, config),
        stores=build_stores(seed, config),
        campaigns=build_campaigns(seed, cal, config),
    )
