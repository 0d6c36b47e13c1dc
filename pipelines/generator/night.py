"""`generate_next_night`: one more night's delivery on top of a generated home.

Adds, in new files named ``*_night_<YYYYMMDD>.csv``: about ``new_line_fraction`` x the
base's clean transaction lines dated ``day`` (purchases by customers alive at end_date,
weighted by their purchase rate, plus anonymous store sales), a few customer updates
(changed e-mail or consent; full snapshots with a newer updated_at), inbound service
contacts and an outbound e-mail newsletter (with a new campaign row). Dirty rows are
planted at the configured rates and appended to truth/dirty_rows.parquet. The base truth
(identity.parquet, persons.parquet) is not modified; the night's changes are listed in
truth/nights/<YYYY-MM-DD>.json. Re-running the same night rewrites the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from . import dirty as dirty_mod
from .chunk import CONTACT_COLUMNS, CUSTOMER_COLUMNS, TRANSACTION_COLUMNS
from .config import (
    DIRTY_KINDS,
    SYSTEM_CHANNEL,
    SYSTEM_CONSENT_CODES,
    SYSTEM_TS_STYLE,
    SYSTEM_TXN_PREFIX,
    SYSTEMS,
    GeneratorConfig,
)
from .contacts import INBOUND_CHANNEL, INBOUND_COST, INBOUND_OUTCOMES, INBOUND_TYPES
from .core import dirty_frame, read_manifest, write_json, write_manifest
from .orders import Orders, make_lines
from .reference import EMAIL_DOMAINS
from .world import DAY, EPOCH, build_world, rng_for
from .writers import ts_expr, write_frame

CONSENT_NAMES = ("consent_email", "consent_sms", "consent_phone", "consent_mail")


@dataclass(frozen=True)
class NightResult:
    day: dt.date
    new_lines: int  # clean transaction lines added
    rows: dict[str, int]
    dirty_rows: dict[str, int]
    revenue: int  # clean revenue of the night's lines
    files: list[str]
    summary_path: Path


def _load_summary(settings: Any) -> dict[str, Any]:
    path = Path(settings.truth_dir) / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: run generate() first")
    return json.loads(path.read_text(encoding="utf-8"))


def generate_next_night(
    settings: Any,
    seed: int,
    day: dt.date,
    new_line_fraction: float = 0.01,
) -> NightResult:
    summary = _load_summary(settings)
    if int(summary["seed"]) != int(seed):
        raise ValueError(f"seed {seed} differs from the generated home's seed {summary['seed']}")
    end_date = dt.date.fromisoformat(summary["end_date"])
    if day <= end_date:
        raise ValueError(f"night {day} must be after the generated end_date {end_date}")
    config = GeneratorConfig.from_dict(summary["parameters"])
    offset = int(summary["utc_offset"])
    currency = summary.get("currency", settings.currency)
    world = build_world(seed, end_date, config)
    truth = Path(settings.truth_dir)
    landing = Path(settings.landing_dir)
    rng = rng_for(seed, 50, day.toordinal())
    d_rng = rng_for(seed, 51, day.toordinal())
    tag = day.strftime("%Y%m%d")
    day_epoch = (day - EPOCH).days * DAY

    identity = pl.read_parquet(truth / "identity.parquet").sort(["person_id", "source_system"])
    persons = pl.read_parquet(truth / "persons.parquet").sort("person_id")
    dirty_keys = set(
        pl.read_parquet(truth / "dirty_rows.parquet")["record_key"].drop_nulls().to_list()
    )

    # ---- transactions ---------------------------------------------------------------------
    base_lines = int(summary["counts"]["transactions"]["clean_rows"])
    target = max(1, int(round(new_line_fraction * base_lines)))
    w = np.asarray(config.lines_per_order_weights, float)
    mean_lpo = float((np.arange(1, len(w) + 1) * w).sum() / w.sum())
    # enough orders for the target; lines are cut at exactly `target`
    n_orders = int(np.ceil(target / mean_lpo * 1.3)) + 5
    anon = rng.random(n_orders) < config.anonymous_line_share
    n_cust = int((~anon).sum())
    pid = persons["person_id"].to_numpy()
    weight = np.where(
        persons["alive_at_end"].to_numpy() & ~persons["never_buyer"].to_numpy(),
        persons["lambda_per_day"].to_numpy(),
        0.0,
    )
    if weight.sum() <= 0:
        weight = np.ones(len(pid))
    buyer = np.full(n_orders, -1, np.int64)
    buyer[~anon] = rng.choice(len(pid), size=n_cust, p=weight / weight.sum())
    ident_pid = identity["person_id"].to_numpy()
    start = np.searchsorted(ident_pid, pid, side="left")
    count = np.searchsorted(ident_pid, pid, side="right") - start
    b0 = np.maximum(buyer, 0)
    rec = np.where(anon, -1, start[b0] + (rng.random(n_orders) * count[b0]).astype(np.int64))
    sys_names = identity["source_system"].to_numpy()
    sys_code = {name: i for i, name in enumerate(SYSTEMS)}
    o_sys = np.array([0 if r < 0 else sys_code[sys_names[r]] for r in rec.tolist()], dtype=np.int64)
    tod = world.cal.sample_time_of_day(rng, o_sys)
    orders = Orders(
        person=buyer,
        sys=o_sys.astype(np.int8),
        sec=day_epoch + tod,
        kind=np.zeros(n_orders, np.int8),
        campaign=np.full(n_orders, -1, np.int64),
        store=np.where(o_sys == 0, rng.integers(0, len(world.stores.store_id), n_orders), -1),
    )
    dept_names = list(world.catalog.dept_names)
    fav = np.array([dept_names.index(x) for x in persons["favourite_department"].to_list()])
    tier = persons["price_tier"].to_numpy()
    nd = len(dept_names)
    o_tier = np.where(anon, rng.normal(0, config.price_tier_sigma, n_orders), tier[b0])
    o_fav1 = np.where(anon, rng.integers(0, nd, n_orders), fav[b0])
    o_fav2 = rng.integers(0, nd, n_orders)
    lines = make_lines(world, rng, orders, o_tier, o_fav1, o_fav2)
    keep = np.arange(len(lines.order)) < target
    lines = type(lines)(**{k: v[keep] for k, v in vars(lines).items()})
    used = np.unique(lines.order)
    n_o = len(used)
    n_anon = int(anon[used].sum())
    order_ix = used[np.lexsort((used, orders.sec[used], orders.sys[used]))]
    seq = np.zeros(n_orders, np.int64)
    seq[order_ix] = np.arange(1, n_o + 1)
    all_ids = identity["source_customer_id"].to_numpy()
    cust_id = np.array([None if r < 0 else all_ids[r] for r in rec.tolist()], dtype=object)
    cat = world.catalog
    l_o = lines.order
    l_sys = o_sys[l_o]
    cost = np.where(lines.cost_missing | (l_sys == 3), -1, cat.cost[lines.product])
    no_cur = np.array([s in config.empty_currency_systems for s in SYSTEMS])[l_sys]
    tdf = pl.DataFrame(
        {
            "sys": l_sys,
            "sec": orders.sec[l_o],
            "source_system": [SYSTEMS[s] for s in l_sys],
            "transaction_id": [
                f"{SYSTEM_TXN_PREFIX[s]}N{tag}{q:06d}" for s, q in zip(l_sys, seq[l_o], strict=True)
            ],
            "line_number": lines.line,
            "source_customer_id": list(cust_id[l_o]),
            "channel": [SYSTEM_CHANNEL[s] for s in l_sys],
            "store_id": [world.stores.store_id[s] if s >= 0 else None for s in orders.store[l_o]],
            "product_id": list(cat.product_id[lines.product]),
            "quantity": lines.qty,
            "amount": lines.amount,
            "discount": lines.discount,
            "currency": [None if nc else currency for nc in no_cur],
            "unit_cost": [int(c) if c >= 0 else None for c in cost],
            "campaign_id": [None] * len(l_o),
        },
        schema_overrides={
            "source_customer_id": pl.String,
            "store_id": pl.String,
            "currency": pl.String,
            "unit_cost": pl.Int64,
            "campaign_id": pl.String,
        },
    )
    files: list[tuple[str, str, pl.DataFrame, str]] = []
    for s, name in enumerate(SYSTEMS):
        part = tdf.filter(pl.col("sys") == s).sort(["sec", "transaction_id", "line_number"])
        if part.height == 0:
            continue
        style = SYSTEM_TS_STYLE[s]
        part = part.with_columns(ts_expr("sec", style, offset).alias("occurred_at"))
        files.append(
            ("transactions", f"{name}_night_{tag}.csv", part.select(TRANSACTION_COLUMNS), style)
        )

    # ---- customer updates -------------------------------------------------------------------
    n_upd = max(3, int(round(config.night_customer_update_share * identity.height)))
    cand = identity.filter(
        ~pl.col("source_customer_id").is_in(list(dirty_keys))
        & ~pl.col("generic_email")
        & ~pl.col("household_phone")
    ).sort(["source_system", "source_customer_id"])
    pick = np.sort(rng.choice(cand.height, size=min(n_upd, cand.height), replace=False))
    chosen = cand[pick.tolist()]
    current = _current_customer_rows(landing, read_manifest(settings), chosen)
    upd_rows = []
    changes = []
    for row in chosen.iter_rows(named=True):
        key = (row["source_system"], row["source_customer_id"])
        cur = current.get(key)
        if cur is None:
            continue
        new = dict(cur)
        s = SYSTEMS.index(row["source_system"])
        email_ok = (
            row["email_key"] is not None
            and not row["email_links_siblings"]
            and not row["work_email"]
        )
        if email_ok and rng.random() < 0.5:
            local, dom = row["email_key"].split("@", 1)
            doms = [d for d, _ in EMAIL_DOMAINS if d != dom]
            nd_ = doms[int(rng.integers(len(doms)))]
            new["email"] = f"{local}@{nd_}"
            changes.append(
                {
                    "source_system": key[0],
                    "source_customer_id": key[1],
                    "change": "email",
                    "email_key": f"{local}@{nd_}",
                }
            )
        else:
            col = CONSENT_NAMES[int(rng.integers(4))]
            yes, no = SYSTEM_CONSENT_CODES[s]
            new[col] = no if rng.random() < 0.8 else yes
            changes.append(
                {
                    "source_system": key[0],
                    "source_customer_id": key[1],
                    "change": col,
                    "value": new[col],
                }
            )
        local_t = dt.datetime.combine(day, dt.time()) + dt.timedelta(
            seconds=int(rng.integers(8 * 3600, 22 * 3600))
        )
        new["updated_at"] = _fmt_local(local_t, SYSTEM_TS_STYLE[s], offset)
        upd_rows.append(new)
    udf = pl.DataFrame(upd_rows, schema={c: pl.String for c in CUSTOMER_COLUMNS})
    for s, name in enumerate(SYSTEMS):
        part = udf.filter(pl.col("source_system") == name).sort("source_customer_id")
        if part.height:
            files.append(("customers", f"{name}_night_{tag}.csv", part, SYSTEM_TS_STYLE[s]))

    # ---- contacts + a night newsletter campaign -----------------------------------------------
    n_in = max(1, int(round(config.night_contact_share * persons.height)))
    in_rec = rng.integers(0, identity.height, n_in)
    in_sys = np.array([SYSTEMS.index(x) for x in sys_names[in_rec]])
    in_sec = day_epoch + world.cal.sample_time_of_day(rng, in_sys)
    has_email = identity["email_key"].is_not_null().to_numpy()
    email_recs = np.flatnonzero(has_email)
    n_out = min(len(email_recs), max(1, int(round(config.night_contact_share * persons.height))))
    out_rec = (
        np.sort(rng.choice(email_recs, size=n_out, replace=False)) if n_out else email_recs[:0]
    )
    cid = f"CMPN{tag}"
    cpc = int(config.cost_per_contact["email"])
    out_sec = day_epoch + 10 * 3600 + rng.integers(0, 7200, len(out_rec))
    out_outcome = np.array(["delivered", "opened", "clicked", "bounced"], dtype=object)[
        np.minimum(
            np.searchsorted(
                np.cumsum([0.6, 0.27, 0.1, 0.03]), rng.random(len(out_rec)), side="right"
            ),
            3,
        )
    ]
    ids = identity["source_customer_id"].to_numpy()
    cdf = pl.DataFrame(
        {
            "sec": np.concatenate([out_sec, in_sec]).astype(np.int64),
            "source_system": list(sys_names[out_rec]) + list(sys_names[in_rec]),
            "source_customer_id": list(ids[out_rec]) + list(ids[in_rec]),
            "channel": ["email"] * len(out_rec) + [INBOUND_CHANNEL[s] for s in in_sys],
            "direction": ["outbound"] * len(out_rec) + ["inbound"] * n_in,
            "contact_type": ["campaign"] * len(out_rec)
            + [INBOUND_TYPES[int(i)] for i in rng.integers(0, 3, n_in)],
            "campaign_id": [cid] * len(out_rec) + [None] * n_in,
            "outcome": list(out_outcome) + [INBOUND_OUTCOMES[0]] * n_in,
            "cost": [cpc] * len(out_rec)
            + [INBOUND_COST[s] if INBOUND_COST[s] >= 0 else None for s in in_sys],
        },
        schema_overrides={"campaign_id": pl.String, "cost": pl.Int64},
    ).sort(["direction", "sec", "source_customer_id"], descending=[True, False, False])
    cdf = (
        cdf.with_row_index("seq", offset=1)
        .with_columns(
            pl.concat_str([pl.lit(f"CTN{tag}"), pl.col("seq").cast(pl.String).str.zfill(6)]).alias(
                "contact_id"
            ),
            ts_expr("sec", "naive", offset).alias("occurred_at"),
        )
        .select(CONTACT_COLUMNS)
    )
    files.append(("contacts", f"night_{tag}.csv", cdf, "naive"))
    camp = pl.DataFrame(
        {
            "campaign_id": [cid],
            "name": [f"Night newsletter {day.isoformat()} (email)"],
            "campaign_type": ["newsletter"],
            "channel": ["email"],
            "start_date": [day.isoformat()],
            "end_date": [day.isoformat()],
            "cost_per_contact": [cpc],
        }
    )

    # ---- write (with dirty rows) ----------------------------------------------------------
    rates = {
        "transactions": config.dirty_transaction_rate,
        "customers": config.dirty_customer_rate,
        "contacts": config.dirty_contact_rate,
    }
    planted: list[dict] = []
    written: list[str] = []
    rows: dict[str, int] = {}
    dirty_n: dict[str, int] = {}
    kind_offset = {e: 0 for e in DIRTY_KINDS}
    for entity, name, df, style in files:
        df = df.drop([c for c in ("sys", "sec") if c in df.columns])
        n_d = int(d_rng.binomial(df.height, rates[entity]))
        batch, pl_rows = dirty_mod.plant(
            df,
            entity,
            n_d,
            d_rng,
            kind_offset[entity],
            style,
            offset,
            day,
            (end_date.year, day.year),
        )
        kind_offset[entity] += len(pl_rows)
        for r in pl_rows:
            r.update(entity=entity, file=name)
        planted += pl_rows
        (landing / entity).mkdir(parents=True, exist_ok=True)
        batch.write_csv(landing / entity / name)
        written.append(f"{entity}/{name}")
        rows[entity] = rows.get(entity, 0) + batch.height
        dirty_n[entity] = dirty_n.get(entity, 0) + len(pl_rows)
    camp_name = f"campaigns_night_{tag}.csv"
    write_frame(camp, landing / "campaigns" / camp_name, "csv")
    written.append(f"campaigns/{camp_name}")
    rows["campaigns"] = 1

    old = pl.read_parquet(truth / "dirty_rows.parquet")
    names = {w.split("/", 1)[1] for w in written}
    merged = pl.concat([old.filter(~pl.col("file").is_in(list(names))), dirty_frame(planted)])
    write_frame(
        merged.sort(["entity", "file", "line_number"]), truth / "dirty_rows.parquet", "parquet"
    )
    write_manifest(settings, read_manifest(settings) + written)
    revenue = int(lines.amount.sum())
    night_summary = {
        "day": day.isoformat(),
        "seed": seed,
        "suggested_as_of": day.isoformat(),
        "new_line_fraction": new_line_fraction,
        "base_clean_lines": base_lines,
        "new_clean_lines": int(len(l_o)),
        "new_orders": int(n_o),
        "anonymous_orders": int(n_anon),
        "revenue": revenue,
        "rows": rows,
        "dirty_rows": dirty_n,
        "clean_rows": {e: rows[e] - dirty_n.get(e, 0) for e in rows},
        "files": sorted(written),
        "customer_updates": changes,
        "campaign": {"campaign_id": cid, "contacted": int(len(out_rec))},
    }
    path = truth / "nights" / f"{day.isoformat()}.json"
    write_json(path, night_summary)
    return NightResult(
        day=day,
        new_lines=int(len(l_o)),
        rows=rows,
        dirty_rows=dirty_n,
        revenue=revenue,
        files=sorted(written),
        summary_path=path,
    )


def _fmt_local(local: dt.datetime, style: str, offset: int) -> str:
    from .writers import ts_scalar

    return ts_scalar(local, style, offset)


def _current_customer_rows(landing: Path, manifest: list[str], chosen: pl.DataFrame) -> dict:
    """Latest clean row (as text) of each chosen record, from the generator's own files."""
    out: dict[tuple[str, str], dict] = {}
    con = duckdb.connect()
    try:
        con.execute("SET threads=1")
        varchar = ", ".join(f"{c}: 'VARCHAR'" for c in CUSTOMER_COLUMNS)
        for system in SYSTEMS:
            ids = chosen.filter(pl.col("source_system") == system)["source_customer_id"].to_list()
            if not ids:
                continue
            rels = sorted(m for m in manifest if m.startswith(f"customers/{system}_"))
            selects = []
            for rel in rels:
                p = str(landing / rel).replace("'", "''")
                if rel.endswith(".csv"):
                    src = f"read_csv('{p}', all_varchar=true, header=true)"
                elif rel.endswith(".parquet"):
                    src = f"read_parquet('{p}')"
                else:
                    src = f"read_json('{p}', format='newline_delimited', columns={{{varchar}}})"
                cols = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in CUSTOMER_COLUMNS)
                selects.append(f"SELECT {cols} FROM {src}")
            if not selects:
                continue
            con.register("wanted", pl.DataFrame({"id": ids}).to_arrow())
            sql = (
                "WITH allrows AS (" + " UNION ALL ".join(selects) + ") "
                "SELECT * FROM allrows WHERE source_customer_id IN (SELECT id FROM wanted) "
                "AND TRY_CAST(updated_at AS TIMESTAMPTZ) IS NOT NULL "
                "QUALIFY row_number() OVER (PARTITION BY source_customer_id "
                "ORDER BY TRY_CAST(updated_at AS TIMESTAMPTZ) DESC, updated_at DESC) = 1"
            )
            res = con.execute(sql)
            names = [d[0] for d in res.description]
            for tup in res.fetchall():
                row = dict(zip(names, tup, strict=True))
                out[(system, row["source_customer_id"])] = row
            con.unregister("wanted")
    finally:
        con.close()
    return out
