"""Generate and write one chunk of persons (all their records, orders, contacts)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import dirty as dirty_mod
from .config import (
    DIRTY_KINDS,
    SYSTEM_CHANNEL,
    SYSTEM_CONSENT_CODES,
    SYSTEM_CUSTOMER_FORMAT,
    SYSTEM_TS_STYLE,
    SYSTEM_TXN_PREFIX,
    SYSTEMS,
    GeneratorConfig,
)
from .contacts import Contacts, campaigns, inbound, response_truth
from .orders import (
    KIND_ANON,
    KIND_CAMPAIGN,
    KIND_RETURN,
    Lines,
    Orders,
    anonymous_orders,
    concat_lines,
    make_lines,
    make_returns,
    natural_orders,
)
from .people import Persons, Records, format_phones, make_persons, make_records
from .reference import EMAIL_DOMAINS, PLACES
from .world import DAY, EPOCH, World, affine_ids, build_world, rng_for
from .writers import datetime_expr, format_ts, write_frame

CUSTOMER_COLUMNS = (
    "source_system",
    "source_customer_id",
    "updated_at",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "postal_code",
    "city",
    "district",
    "region",
    "country",
    "signup_at",
    "consent_email",
    "consent_sms",
    "consent_phone",
    "consent_mail",
    "referred_by",
    "loyalty_id",
)
TRANSACTION_COLUMNS = (
    "source_system",
    "transaction_id",
    "line_number",
    "source_customer_id",
    "occurred_at",
    "channel",
    "store_id",
    "product_id",
    "quantity",
    "amount",
    "discount",
    "currency",
    "unit_cost",
    "campaign_id",
)
CONTACT_COLUMNS = (
    "source_system",
    "contact_id",
    "source_customer_id",
    "occurred_at",
    "channel",
    "direction",
    "contact_type",
    "campaign_id",
    "outcome",
    "cost",
)
CONSENT_NAMES = ("consent_email", "consent_sms", "consent_phone", "consent_mail")


@dataclass
class ChunkTask:
    seed: int
    end_date: dt.date
    config: GeneratorConfig
    chunk: int
    n: int
    g0: int
    landing_dir: Path
    offset_sec: int
    currency: str = "KRW"


@dataclass
class FileInfo:
    entity: str
    name: str
    fmt: str
    rows: int
    dirty: int


@dataclass
class ChunkResult:
    chunk: int
    identity: pl.DataFrame
    persons: pl.DataFrame
    dirty: list[dict] = field(default_factory=list)
    files: list[FileInfo] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    campaign: dict = field(default_factory=dict)


def txn_format(sys: int, year: int, end_year: int) -> str:
    if sys == 1 and year == end_year:
        return "parquet"
    if sys == 2 and year == end_year:
        return "jsonl"
    return "csv"


def run_chunk(task: ChunkTask) -> ChunkResult:
    world = build_world(task.seed, task.end_date, task.config)
    return ChunkBuilder(world, task).run()


class ChunkBuilder:
    def __init__(self, world: World, task: ChunkTask) -> None:
        self.w = world
        self.t = task
        self.cfg = world.config
        self.part = f"p{task.chunk + 1:04d}"
        self.end_sec = world.cal.start_epoch + world.cal.n_days * DAY - 1
        self.dirty_rng = rng_for(task.seed, 19, task.chunk)
        self.dirty_rows: list[dict] = []
        self.files: list[FileInfo] = []
        self.kind_offset = {e: task.chunk * 3 for e in DIRTY_KINDS}

    def rng(self, stream: int) -> np.random.Generator:
        return rng_for(self.t.seed, stream, self.t.chunk)

    # ------------------------------------------------------------------------------------
    def run(self) -> ChunkResult:
        w, cfg, t = self.w, self.cfg, self.t
        persons = make_persons(w, t.chunk, t.n, t.g0, self.rng(10))
        records = make_records(w, persons, t.chunk, self.rng(11))
        natural, life = natural_orders(w, persons, self.rng(12))
        out_contacts, resp_orders, audience, unsub = campaigns(
            w, self.rng(13), persons, records, natural
        )
        cust_orders = Orders.concat([natural, resp_orders])
        p = cust_orders.person
        crosssell = np.array([c == "crosssell" for c in w.campaigns.ctype] + [False])
        avoid = (cust_orders.kind == KIND_CAMPAIGN) & crosssell[cust_orders.campaign]
        cust_lines = make_lines(
            w,
            self.rng(14),
            cust_orders,
            persons.tier[p],
            persons.fav1[p],
            persons.fav2[p],
            avoid_favourites=avoid,
        )
        ret_orders, ret_lines = make_returns(w, self.rng(15), cust_orders, cust_lines)
        w_lpo = np.asarray(cfg.lines_per_order_weights, float)
        mean_lpo = float((np.arange(1, len(w_lpo) + 1) * w_lpo).sum() / w_lpo.sum())
        n_cust_lines = len(cust_lines.order) + len(ret_lines.order)
        share = cfg.anonymous_line_share
        n_anon = int(round(share / (1 - share) * n_cust_lines / mean_lpo)) if share < 1 else 0
        rng_a = self.rng(16)
        anon_orders, anon_tier = anonymous_orders(w, rng_a, n_anon)
        nd = len(w.catalog.dept_names)
        anon_lines = make_lines(
            w,
            rng_a,
            anon_orders,
            anon_tier,
            rng_a.integers(0, nd, n_anon),
            rng_a.integers(0, nd, n_anon),
        )
        orders = Orders.concat([cust_orders, ret_orders, anon_orders])
        lines = concat_lines(
            [
                (cust_lines, 0),
                (ret_lines, cust_orders.n),
                (anon_lines, cust_orders.n + ret_orders.n),
            ]
        )
        n_orders_pp = np.bincount(cust_orders.person, minlength=persons.n)
        in_contacts = inbound(w, self.rng(17), persons, records, cust_orders, n_orders_pp)

        upd_idx, upd_df, upd_flags = self.customer_updates(persons, records, unsub)
        identity = self.identity_frame(persons, records, upd_idx, upd_df, upd_flags)
        txn_stats, person_rev = self.write_transactions(persons, records, orders, lines)
        self.write_customers(persons, records, upd_idx, upd_df)
        n_contacts = self.write_contacts(records, out_contacts, in_contacts)

        pos_kind = np.isin(orders.kind, (0, 1, 2))
        contacted, holdout, resp_c, resp_h = response_truth(w, audience, orders, pos_kind)
        nc = len(w.campaigns.campaign_id)
        l_camp = orders.campaign[lines.order]
        has_c = l_camp >= 0
        attr_rev = np.bincount(l_camp[has_c], weights=lines.amount[has_c], minlength=nc)
        attr_orders = np.bincount(orders.campaign[orders.campaign >= 0], minlength=nc)
        persons_df = self.persons_frame(persons, records, life, cust_orders, person_rev)
        counts = {
            **shared_identifier_stats(identity),
            "persons": persons.n,
            "records": records.n,
            "records_by_system": np.bincount(records.sys, minlength=4).tolist(),
            "customer_update_rows": len(upd_idx),
            "contacts_outbound": out_contacts.n,
            "contacts_inbound": in_contacts.n,
            "contacts": n_contacts,
            **txn_stats,
        }
        return ChunkResult(
            chunk=t.chunk,
            identity=identity,
            persons=persons_df,
            dirty=self.dirty_rows,
            files=self.files,
            counts=counts,
            campaign={
                "contacted": contacted.tolist(),
                "holdout": holdout.tolist(),
                "contacted_responders": resp_c.tolist(),
                "holdout_responders": resp_h.tolist(),
                "attributed_orders": attr_orders.tolist(),
                "attributed_revenue": [int(x) for x in np.rint(attr_rev)],
            },
        )

    # ---- writing helpers -------------------------------------------------------------------
    def emit(
        self, entity: str, name: str, df: pl.DataFrame, fmt: str, n_dirty: int, style: str
    ) -> None:
        rows_clean = df.height
        if rows_clean == 0:
            return  # never write header-only batches (a bad-file case for the ingest)
        path = self.t.landing_dir / entity / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv" and n_dirty:
            cal = self.w.cal
            batch, planted = dirty_mod.plant(
                df,
                entity,
                n_dirty,
                self.dirty_rng,
                self.kind_offset[entity],
                style,
                self.t.offset_sec,
                cal.end,
                (int(cal.year[0]), int(cal.year[-1])),
            )
            self.kind_offset[entity] += len(planted)
            for d in planted:
                d.update(entity=entity, file=name)
            self.dirty_rows.extend(planted)
            batch.write_csv(path)
            height = batch.height
        else:
            write_frame(df, path, fmt)
            height = df.height
        self.files.append(FileInfo(entity, name, fmt, height, height - rows_clean))

    def dirty_plan(self, entity: str, sizes: list[tuple[int, bool]], rate: float) -> list[int]:
        """Dirty rows per file (only text files); chunk 0 gets every kind at least once
        (when the entity has at least 200 rows in the chunk)."""
        total = sum(s for s, _ in sizes)
        csv_total = sum(s for s, csv in sizes if csv)
        if csv_total == 0 or rate <= 0:
            return [0] * len(sizes)
        r = min(0.5, rate * total / csv_total)
        plan = [int(self.dirty_rng.binomial(s, r)) if csv else 0 for s, csv in sizes]
        k = len(DIRTY_KINDS[entity])
        if self.t.chunk == 0 and sum(plan) < k and total >= 200:
            big = max((i for i, (s, csv) in enumerate(sizes) if csv), key=lambda i: sizes[i][0])
            plan[big] += min(k - sum(plan), sizes[big][0])
        return plan

    # ---- transactions ----------------------------------------------------------------------
    def write_transactions(
        self, persons: Persons, records: Records, orders: Orders, lines: Lines
    ) -> tuple[dict, np.ndarray]:
        w, cfg = self.w, self.cfg
        n_o = orders.n
        order_ix = np.lexsort((np.arange(n_o), orders.person, orders.kind, orders.sec, orders.sys))
        sys_sorted = orders.sys[order_ix]
        first_of_sys = np.searchsorted(sys_sorted, np.arange(4), side="left")
        seq = np.empty(n_o, np.int64)
        seq[order_ix] = np.arange(n_o) - first_of_sys[sys_sorted] + 1
        rec = np.where(
            orders.person >= 0,
            records.rec_of[np.maximum(orders.person, 0), orders.sys.astype(np.int64)],
            -1,
        )
        ids = pl.Series(list(records.source_customer_id), dtype=pl.String)
        stores = pl.Series(list(w.stores.store_id), dtype=pl.String)
        camps = pl.Series(list(w.campaigns.campaign_id) or [""], dtype=pl.String)
        cat = w.catalog
        products = pl.Series(list(cat.product_id), dtype=pl.String)
        no_cost_sys = np.zeros(4, bool)
        no_cost_sys[3] = True  # the call centre does not send costs
        l_sys = orders.sys[lines.order].astype(np.int64)
        cost = np.where(lines.cost_missing | no_cost_sys[l_sys], -1, cat.cost[lines.product])
        # lines in file order: (system, time, transaction id, line); ids follow that order, so
        # every (system, year) file is one contiguous slice
        rank = np.empty(n_o, np.int64)
        rank[order_ix] = np.arange(n_o)
        lo = np.lexsort((lines.line, rank[lines.order]))
        o_of = lines.order[lo]
        s_sys = orders.sys[o_of].astype(np.int64)
        s_sec = orders.sec[o_of]
        day = np.clip((s_sec - w.cal.start_epoch) // DAY, 0, w.cal.n_days - 1)
        key = s_sys * 10_000 + w.cal.year[day]
        bounds = np.flatnonzero(np.diff(key)) + 1
        starts = np.concatenate([[0], bounds]) if len(key) else np.array([], np.int64)
        ends = np.concatenate([bounds, [len(key)]]) if len(key) else np.array([], np.int64)
        end_year = w.cal.end.year
        slices = [
            (int(key[a] // 10_000), int(key[a] % 10_000), a, b)
            for a, b in zip(starts, ends, strict=True)
        ]
        sizes = [(b - a, txn_format(sy, yr, end_year) == "csv") for sy, yr, a, b in slices]
        plan = self.dirty_plan("transactions", sizes, cfg.dirty_transaction_rate)
        chunk_s = f"{self.t.chunk:04d}"
        for (sy, year, a, b), nd in zip(slices, plan, strict=True):
            o = o_of[a:b]
            li = lo[a:b]
            fmt = txn_format(sy, year, end_year)
            style = SYSTEM_TS_STYLE[sy]
            num = pl.DataFrame(
                {
                    "seq": seq[o],
                    "rec": rec[o],
                    "store": orders.store[o],
                    "camp": orders.campaign[o],
                    "line": lines.line[li],
                    "prod": lines.product[li],
                    "qty": lines.qty[li],
                    "amount": lines.amount[li],
                    "disc": lines.discount[li],
                    "cost": cost[li],
                    "sec": s_sec[a:b],
                }
            )
            if fmt == "parquet":
                occ = num.select(datetime_expr("sec")).to_series()
            else:
                occ = format_ts(num["sec"], style if fmt == "csv" else "utc", self.t.offset_sec)
            currency = None if SYSTEMS[sy] in cfg.empty_currency_systems else self.t.currency
            df = num.select(
                pl.lit(SYSTEMS[sy]).alias("source_system"),
                pl.concat_str(
                    [
                        pl.lit(SYSTEM_TXN_PREFIX[sy] + chunk_s),
                        pl.col("seq").cast(pl.String).str.zfill(8),
                    ]
                ).alias("transaction_id"),
                pl.col("line").alias("line_number"),
                pl.when(pl.col("rec") >= 0)
                .then(pl.lit(ids).gather(pl.col("rec").clip(0)))
                .alias("source_customer_id"),
                occ.alias("occurred_at"),
                pl.lit(SYSTEM_CHANNEL[sy]).alias("channel"),
                pl.when(pl.col("store") >= 0)
                .then(pl.lit(stores).gather(pl.col("store").clip(0)))
                .alias("store_id"),
                pl.lit(products).gather(pl.col("prod")).alias("product_id"),
                pl.col("qty").alias("quantity"),
                pl.col("amount"),
                pl.col("disc").alias("discount"),
                pl.lit(currency, dtype=pl.String).alias("currency"),
                pl.when(pl.col("cost") >= 0).then(pl.col("cost")).alias("unit_cost"),
                pl.when(pl.col("camp") >= 0)
                .then(pl.lit(camps).gather(pl.col("camp").clip(0)))
                .alias("campaign_id"),
            )
            ext = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}[fmt]
            self.emit("transactions", f"{SYSTEMS[sy]}_{year}_{self.part}.{ext}", df, fmt, nd, style)
        # clean statistics
        l_kind = orders.kind[lines.order]
        amount = lines.amount
        rev_sys = np.bincount(l_sys, weights=amount, minlength=4)
        lp = orders.person[lines.order]
        cust = lp >= 0
        person_rev = np.bincount(lp[cust], weights=amount[cust], minlength=persons.n)
        stats = {
            "lines": int(len(amount)),
            "orders": int(n_o),
            "lines_by_system": np.bincount(l_sys, minlength=4).tolist(),
            "revenue_by_system": [int(x) for x in np.rint(rev_sys)],
            "revenue": int(amount.sum()),
            "return_lines": int((l_kind == KIND_RETURN).sum()),
            "return_amount": int(amount[l_kind == KIND_RETURN].sum()),
            "anonymous_lines": int((l_kind == KIND_ANON).sum()),
            "campaign_lines": int((l_kind == KIND_CAMPAIGN).sum()),
            "margin_known_lines": int((cost >= 0).sum()),
            "margin": int((amount - lines.qty * np.maximum(cost, 0))[cost >= 0].sum()),
        }
        return stats, person_rev

    # ---- customers ---------------------------------------------------------------------------
    def base_customer_frame(self, persons: Persons, records: Records) -> pl.DataFrame:
        r = records
        p = r.person
        return pl.DataFrame(
            {
                "sys": r.sys.astype(np.int64),
                "source_customer_id": list(r.source_customer_id),
                "updated_sec": r.updated_sec,
                "first_name": list(r.first_name),
                "last_name": list(r.last_name),
                "email": list(r.email),
                "phone": list(r.phone),
                "birth_days": np.where(r.has_birth, persons.birth_days[p], -(10**9)),
                "gender": np.where(r.has_gender, persons.gender[p], -1),
                "place": np.where(r.has_address, persons.place[p], -1),
                "postal": np.where(r.has_address, persons.postal[p], -1),
                "signup_sec": r.signup_sec,
                **{c: r.consent[:, i].astype(np.int64) for i, c in enumerate(CONSENT_NAMES)},
                "referred_by": list(r.referred_by),
                "loyalty_id": list(r.loyalty_id),
            },
            schema_overrides={
                k: pl.String
                for k in (
                    "source_customer_id",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "referred_by",
                    "loyalty_id",
                )
            },
            strict=False,
        )

    def customer_updates(self, persons: Persons, records: Records, unsub) -> tuple:
        """Later snapshots of some records: moves, new e-mail/phone, consent changes."""
        rng = self.rng(18)
        cfg, r = self.cfg, records
        R = r.n
        sel = (rng.random(R) < cfg.customer_update_share) & (
            self.end_sec - r.updated_sec > 2 * 3600
        )
        u_sec = np.full(R, -1, np.int64)
        span = np.maximum(self.end_sec - r.updated_sec - 3600, 1)
        u_sec[sel] = (r.updated_sec + 3600 + rng.random(R) * span).astype(np.int64)[sel]
        kind = np.minimum(
            np.searchsorted(np.cumsum([0.35, 0.20, 0.10, 0.35]), rng.random(R), side="right"), 3
        )
        email_ok = (r.email_key != None) & ~r.prot_email & ~r.work_email & ~r.generic_email  # noqa: E711
        phone_ok = (r.phone_key != None) & ~r.prot_phone & ~r.household_phone  # noqa: E711
        kind = np.where((kind == 1) & ~email_ok, 3, kind)
        kind = np.where((kind == 2) & ~phone_ok, 3, kind)
        kind = np.where(sel, kind, -1)
        unsub_col = np.full((R, 4), False)
        if len(unsub.record):
            o = np.lexsort((unsub.sec, unsub.record))
            for rec_i, col, s in zip(
                unsub.record[o], unsub.consent_col[o], unsub.sec[o], strict=True
            ):
                if s > self.end_sec:
                    continue
                unsub_col[rec_i, col] = True
                u_sec[rec_i] = max(u_sec[rec_i], min(int(s), self.end_sec))
        idx = np.flatnonzero(u_sec >= 0)
        base = self.base_customer_frame(persons, records)[idx]
        k = kind[idx]
        m = len(idx)
        # moves
        n_places = len(PLACES)
        new_place = rng.integers(0, n_places, m)
        lo = np.array([pp[3] for pp in PLACES])[new_place]
        hi = np.array([pp[4] for pp in PLACES])[new_place]
        new_postal = lo + (rng.random(m) * (hi - lo + 1)).astype(np.int64)
        move = k == 0
        # e-mail change: same personal local part at another provider
        dom_i = persons.email_domain[r.person[idx]]
        new_dom_i = (dom_i + 1 + rng.integers(0, len(EMAIL_DOMAINS) - 1, m)) % len(EMAIL_DOMAINS)
        domains = np.array([d[0] for d in EMAIL_DOMAINS], dtype=object)
        local = persons.email_local[r.person[idx]]
        new_email = np.array(
            [f"{a}@{b}" for a, b in zip(local, domains[new_dom_i], strict=True)], dtype=object
        )
        new_key = np.array(
            [_key(a, b) for a, b in zip(local, domains[new_dom_i], strict=True)], dtype=object
        )
        emailc = k == 1
        # phone change: a fresh number from a disjoint block of the number space
        new8 = (
            affine_ids(persons.pidx[r.person[idx]] + 40_000_000, 80_000_000, 48_271, 13_579_111)
            + 20_000_000
        )
        new_phone, new_pkey = format_phones(new8, r.phone_style[idx])
        phonec = k == 2
        # consent change
        ccol = rng.integers(0, 4, m)
        cval = np.where(rng.random(m) < 0.7, 0, 1)
        consent = np.stack([base[c].to_numpy() for c in CONSENT_NAMES], 1)
        cons = k == 3
        consent[np.flatnonzero(cons), ccol[cons]] = cval[cons]
        consent[unsub_col[idx]] = 0
        upd = base.with_columns(
            pl.Series("updated_sec", u_sec[idx], dtype=pl.Int64),
            pl.Series("place", np.where(move, new_place, base["place"].to_numpy())),
            pl.Series("postal", np.where(move, new_postal, base["postal"].to_numpy())),
            pl.Series(
                "email",
                list(np.where(emailc, new_email, np.array(base["email"].to_list(), dtype=object))),
                dtype=pl.String,
            ),
            pl.Series(
                "phone",
                list(np.where(phonec, new_phone, np.array(base["phone"].to_list(), dtype=object))),
                dtype=pl.String,
            ),
            *[pl.Series(c, consent[:, i]) for i, c in enumerate(CONSENT_NAMES)],
        )
        flags = {
            "email_key": np.where(emailc, new_key, r.email_key[idx]),
            "phone_key": np.where(phonec, new_pkey, r.phone_key[idx]),
            "email_changed": emailc,
            "phone_changed": phonec,
        }
        return idx, upd, flags

    def customer_output(self, df: pl.DataFrame, sy: int) -> tuple[pl.DataFrame, str]:
        fmt = SYSTEM_CUSTOMER_FORMAT[sy]
        style = SYSTEM_TS_STYLE[sy] if fmt == "csv" else "utc"
        t_off = self.t.offset_sec
        regions = pl.Series([pp[0] for pp in PLACES], dtype=pl.String)
        cities = pl.Series([pp[1] for pp in PLACES], dtype=pl.String)
        districts = pl.Series([pp[2] for pp in PLACES], dtype=pl.String)
        has_addr = pl.col("place") >= 0
        placec = pl.col("place").clip(0)
        if fmt == "parquet":
            ts = [
                datetime_expr("updated_sec").alias("updated_at"),
                datetime_expr("signup_sec").alias("signup_at"),
            ]
        else:
            ts = [
                format_ts(df["updated_sec"], style, t_off).alias("updated_at"),
                format_ts(df["signup_sec"], style, t_off).alias("signup_at"),
            ]
        birth = pl.when(pl.col("birth_days") > -(10**8)).then(
            pl.from_epoch(pl.col("birth_days"), time_unit="d")
        )
        if fmt != "parquet":
            birth = birth.dt.strftime("%Y-%m-%d")
        genders = ("male", "female") if sy == 2 else ("M", "F")
        yes, no = SYSTEM_CONSENT_CODES[sy]
        cons = []
        for c in CONSENT_NAMES:
            col = pl.col(c)
            if fmt == "parquet":
                e = pl.when(col >= 0).then(col == 1)
            elif fmt == "jsonl":
                e = pl.when(col >= 0).then(col)
            else:
                e = pl.when(col == 1).then(pl.lit(yes)).when(col == 0).then(pl.lit(no))
            cons.append(e.alias(c))
        out = df.with_columns(
            *ts,
            birth.alias("birth_date"),
            pl.when(pl.col("gender") == 0)
            .then(pl.lit(genders[0]))
            .when(pl.col("gender") == 1)
            .then(pl.lit(genders[1]))
            .alias("gender"),
            pl.when(has_addr)
            .then(pl.col("postal").cast(pl.String).str.zfill(5))
            .alias("postal_code"),
            pl.when(has_addr).then(pl.lit(cities).gather(placec)).alias("city"),
            pl.when(has_addr).then(pl.lit(districts).gather(placec)).alias("district"),
            pl.when(has_addr).then(pl.lit(regions).gather(placec)).alias("region"),
            pl.lit("KR").alias("country"),
            pl.lit(SYSTEMS[sy]).alias("source_system"),
            *cons,
        ).select(CUSTOMER_COLUMNS)
        return out, fmt

    def write_customers(
        self, persons: Persons, records: Records, upd_idx: np.ndarray, upd: pl.DataFrame
    ) -> None:
        base = self.base_customer_frame(persons, records)
        frames = []
        for sy in range(4):
            b = base.filter(pl.col("sys") == sy).sort(["signup_sec", "source_customer_id"])
            u = upd.filter(pl.col("sys") == sy).sort(["updated_sec", "source_customer_id"])
            frames.append((sy, "base", b))
            frames.append((sy, "updates", u))
        sizes = [(f.height, SYSTEM_CUSTOMER_FORMAT[sy] == "csv") for sy, _, f in frames]
        plan = self.dirty_plan("customers", sizes, self.cfg.dirty_customer_rate)
        for (sy, kind, f), nd in zip(frames, plan, strict=True):
            out, fmt = self.customer_output(f, sy)
            style = SYSTEM_TS_STYLE[sy]
            self.emit("customers", f"{SYSTEMS[sy]}_{kind}_{self.part}.{fmt}", out, fmt, nd, style)

    # ---- contacts -------------------------------------------------------------------------------
    def write_contacts(self, records: Records, out_c: Contacts, in_c: Contacts) -> int:
        w = self.w
        parts = []
        for c in (out_c, in_c):
            parts.append(
                pl.DataFrame(
                    {
                        "sec": c.sec.astype(np.int64),
                        "person": c.person.astype(np.int64),
                        "rec": c.record.astype(np.int64),
                        "camp": c.campaign.astype(np.int64),
                        "channel": list(c.channel),
                        "direction": list(c.direction),
                        "contact_type": list(c.ctype),
                        "outcome": list(c.outcome),
                        "cost": c.cost.astype(np.int64),
                    },
                    schema_overrides={
                        k: pl.String for k in ("channel", "direction", "contact_type", "outcome")
                    },
                )
            )
        df = pl.concat(parts).sort(
            ["direction", "sec", "person", "camp"], descending=[True, False, False, False]
        )
        ids = pl.Series(list(records.source_customer_id), dtype=pl.String)
        camps = pl.Series(list(w.campaigns.campaign_id) or [""], dtype=pl.String)
        sys_names = pl.Series(list(SYSTEMS), dtype=pl.String)
        rec_sys = pl.Series(records.sys.astype(np.int64))
        df = df.with_row_index("seq", offset=1).with_columns(
            pl.lit(sys_names).gather(pl.lit(rec_sys).gather(pl.col("rec"))).alias("source_system"),
            pl.concat_str(
                [pl.lit(f"CT{self.t.chunk:04d}"), pl.col("seq").cast(pl.String).str.zfill(8)]
            ).alias("contact_id"),
            pl.lit(ids).gather(pl.col("rec")).alias("source_customer_id"),
            format_ts(df["sec"], "naive", self.t.offset_sec).alias("occurred_at"),
            pl.when(pl.col("camp") >= 0)
            .then(pl.lit(camps).gather(pl.col("camp").clip(0)))
            .alias("campaign_id"),
            pl.when(pl.col("cost") >= 0).then(pl.col("cost")).alias("cost"),
        )
        out = df.filter(pl.col("direction") == "outbound").select(CONTACT_COLUMNS)
        inn = df.filter(pl.col("direction") == "inbound").select(CONTACT_COLUMNS)
        plan = self.dirty_plan(
            "contacts", [(out.height, True), (inn.height, True)], self.cfg.dirty_contact_rate
        )
        self.emit("contacts", f"outbound_{self.part}.csv", out, "csv", plan[0], "naive")
        self.emit("contacts", f"inbound_{self.part}.csv", inn, "csv", plan[1], "naive")
        return df.height

    # ---- truth frames ---------------------------------------------------------------
    def identity_frame(
        self,
        persons: Persons,
        records: Records,
        upd_idx: np.ndarray,
        upd: pl.DataFrame,
        flags: dict,
    ) -> pl.DataFrame:
        r = records
        email_key = r.email_key.copy()
        phone_key = r.phone_key.copy()
        email_key[upd_idx] = flags["email_key"]
        phone_key[upd_idx] = flags["phone_key"]
        changed_e = np.zeros(r.n, bool)
        changed_p = np.zeros(r.n, bool)
        changed_e[upd_idx] = flags["email_changed"]
        changed_p[upd_idx] = flags["phone_changed"]
        updated = np.zeros(r.n, bool)
        updated[upd_idx] = True
        link_names = np.array(["none", "email", "phone", "loyalty"], dtype=object)
        base_file = np.array(
            [f"{SYSTEMS[s]}_base_{self.part}.{SYSTEM_CUSTOMER_FORMAT[s]}" for s in range(4)],
            dtype=object,
        )
        return pl.DataFrame(
            {
                "source_system": list(np.array(SYSTEMS, dtype=object)[r.sys]),
                "source_customer_id": list(r.source_customer_id),
                "person_id": list(persons.person_id[r.person]),
                "link_type": list(link_names[r.link_type]),
                "email_key": list(email_key),
                "phone_key": list(phone_key),
                "loyalty_key": list(r.loyalty_id),
                "unlinkable": r.unlinkable,
                "name_typo": r.name_typo,
                "malformed_email": r.malformed_email,
                "malformed_phone": r.malformed_phone,
                "generic_email": r.generic_email,
                "generic_address": [
                    e.strip().lower() if g else None
                    for e, g in zip(r.email, r.generic_email, strict=True)
                ],
                "household_phone": r.household_phone,
                "work_email": r.work_email,
                "email_links_siblings": r.prot_email,
                "phone_links_siblings": r.prot_phone,
                "email_changed": changed_e,
                "phone_changed": changed_p,
                "updated": updated,
                "base_file": list(base_file[r.sys]),
            },
            schema_overrides={
                k: pl.String
                for k in (
                    "source_system",
                    "source_customer_id",
                    "person_id",
                    "link_type",
                    "email_key",
                    "phone_key",
                    "loyalty_key",
                    "base_file",
                    "generic_address",
                )
            },
        )

    def persons_frame(
        self, persons: Persons, records: Records, life, cust_orders: Orders, revenue: np.ndarray
    ) -> pl.DataFrame:
        cal = self.w.cal
        n = persons.n
        systems = np.array(
            ["+".join(SYSTEMS[s] for s in range(4) if m[s]) for m in map(tuple, _mask_codes())],
            dtype=object,
        )
        code = persons.mask.astype(np.int64) @ np.array([1, 2, 4, 8])
        acq = cal.warp(persons.tau0)
        start_days = (cal.start - EPOCH).days
        purchase = np.isin(cust_orders.kind, (0, 1, 2))
        return pl.DataFrame(
            {
                "person_id": list(persons.person_id),
                "n_records": persons.mask.sum(axis=1).astype(np.int64),
                "systems": list(systems[code]),
                "never_buyer": persons.never_buyer,
                "acquisition_date": start_days + acq,
                "lambda_per_day": np.round(persons.lam, 8),
                "p_dropout": np.round(persons.p, 8),
                "alive_at_end": life.alive,
                "dropout_date": np.where(life.dropout_day >= 0, start_days + life.dropout_day, -1),
                "natural_orders": life.n_natural.astype(np.int64),
                "orders": np.bincount(cust_orders.person[purchase], minlength=n).astype(np.int64),
                "net_revenue": np.rint(revenue).astype(np.int64),
                "price_tier": np.round(persons.tier, 6),
                "favourite_department": list(
                    np.array(self.w.catalog.dept_names, dtype=object)[persons.fav1]
                ),
                "household_id": persons.household.astype(np.int64),
            },
            schema_overrides={
                "person_id": pl.String,
                "systems": pl.String,
                "favourite_department": pl.String,
            },
            strict=False,
        ).with_columns(
            pl.col("acquisition_date").cast(pl.Date),
            pl.when(pl.col("dropout_date") >= 0).then(pl.col("dropout_date")).cast(pl.Date),
            pl.when(pl.col("household_id") >= 0).then(pl.col("household_id")).alias("household_id"),
        )


def _mask_codes() -> list[list[bool]]:
    return [[bool(c >> s & 1) for s in range(4)] for c in range(16)]


def _key(local: str, domain: str) -> str:
    local = local.lower()
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


def shared_identifier_stats(identity: pl.DataFrame) -> dict[str, Any]:
    """Records of multi-record persons sharing no normalised strong identifier with a sibling."""
    multi = identity.filter(pl.len().over("person_id") > 1)
    long = pl.concat(
        [
            multi.select(
                "person_id",
                "source_system",
                "source_customer_id",
                pl.lit(t).alias("t"),
                pl.col(c).alias("key"),
            )
            for t, c in (("email", "email_key"), ("phone", "phone_key"), ("loyalty", "loyalty_key"))
        ]
    ).drop_nulls("key")
    shared = (
        long.with_columns(pl.len().over(["person_id", "t", "key"]).alias("k"))
        .filter(pl.col("k") > 1)
        .select("source_system", "source_customer_id")
        .unique()
    )
    n_multi = multi.height
    return {
        "records_of_multi_record_persons": n_multi,
        "records_without_shared_identifier": n_multi - shared.height,
        "true_pairs": true_pairs(identity),
    }


def true_pairs(identity: pl.DataFrame) -> int:
    sizes = identity.group_by("person_id").len()["len"].to_numpy().astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())
