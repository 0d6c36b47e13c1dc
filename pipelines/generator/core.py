"""`generate`: write a deterministic sample into landing/ and the planted truth into truth/."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from .chunk import ChunkResult, ChunkTask, run_chunk
from .config import DIRTY_KINDS, SYSTEMS, GeneratorConfig
from .world import World, build_world
from .writers import write_frame

GENERATOR_VERSION = "1"
DEFAULT_END_DATE = dt.date(2026, 11, 21)
"""Used when no end_date is given (never "today": output must not depend on the clock)."""
ENTITIES = ("customers", "transactions", "contacts", "campaigns", "products")


@dataclass(frozen=True)
class GenerateResult:
    """What `generate` wrote. ``rows`` include dirty rows; ``clean_rows`` do not."""

    customers: int  # true persons
    records: int  # customer records over all source systems
    seed: int
    end_date: dt.date
    rows: dict[str, int]
    clean_rows: dict[str, int]
    dirty_rows: dict[str, int]
    files: dict[str, int]
    revenue: int  # clean net revenue over all transaction lines (KRW)
    landing_dir: Path
    truth_dir: Path
    summary_path: Path
    seconds: float = field(compare=False, default=0.0)


def utc_offset_seconds(tz: str, day: dt.date) -> int:
    off = dt.datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(tz)).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def manifest_path(settings: Any) -> Path:
    return Path(settings.truth_dir) / "manifest.json"


def read_manifest(settings: Any) -> list[str]:
    path = manifest_path(settings)
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("files", []))


def write_manifest(settings: Any, files: list[str]) -> None:
    path = manifest_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "note": "files written by the generator (relative to landing/)",
        "files": sorted(set(files)),
    }
    path.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")


def remove_previous(settings: Any) -> None:
    """Remove what an earlier `generate`/`generate_next_night` wrote (and nothing else)."""
    landing = Path(settings.landing_dir)
    for rel in read_manifest(settings):
        (landing / rel).unlink(missing_ok=True)
    truth = Path(settings.truth_dir)
    if truth.exists():
        for p in sorted(truth.rglob("*"), reverse=True):
            if p.is_file():
                p.unlink()
            elif p.is_dir():
                p.rmdir()


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def generate(
    settings: Any,
    customers: int = 5000,
    seed: int = 42,
    end_date: dt.date | None = None,
    config: GeneratorConfig | None = None,
) -> GenerateResult:
    """Generate ``customers`` true persons (1-3 source records each) with ~3 years of history.

    Writes landing/<entity>/ files (landing contract v1) and truth/ side files. Output bytes
    depend only on (customers, seed, end_date, config). Files written by an earlier run in
    the same home (listed in truth/manifest.json) are removed first.
    """
    t0 = time.perf_counter()
    if customers < 1:
        raise ValueError("customers must be >= 1")
    config = config or GeneratorConfig.from_settings(settings)
    if end_date is None:
        end_date = DEFAULT_END_DATE
    landing = Path(settings.landing_dir)
    truth = Path(settings.truth_dir)
    remove_previous(settings)
    for e in ENTITIES:
        (landing / e).mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    offset = utc_offset_seconds(settings.business_time_zone, end_date)
    currency = settings.currency
    world = build_world(seed, end_date, config)
    written: list[str] = []
    written += write_reference_files(world, landing)

    n_chunks = math.ceil(customers / config.chunk_size)
    tasks = [
        ChunkTask(
            seed=seed,
            end_date=end_date,
            config=config,
            chunk=c,
            n=min(config.chunk_size, customers - c * config.chunk_size),
            g0=c * config.chunk_size,
            landing_dir=landing,
            offset_sec=offset,
            currency=currency,
        )
        for c in range(n_chunks)
    ]
    results = run_tasks(tasks, config.workers, truth / "_work")
    written += [f"{f.entity}/{f.name}" for r in results for f in r.files]
    write_manifest(settings, written)
    summary = write_truth(settings, world, results, customers, seed, end_date, config)
    counts = summary["counts"]
    return GenerateResult(
        customers=customers,
        records=counts["customers"]["records"],
        seed=seed,
        end_date=end_date,
        rows={e: counts[e]["rows"] for e in ENTITIES},
        clean_rows={e: counts[e]["clean_rows"] for e in ENTITIES},
        dirty_rows={e: counts[e]["dirty_rows"] for e in ENTITIES},
        files={e: counts[e]["files"] for e in ENTITIES},
        revenue=summary["revenue"]["total"],
        landing_dir=landing,
        truth_dir=truth,
        summary_path=truth / "summary.json",
        seconds=time.perf_counter() - t0,
    )


def run_tasks(tasks: list[ChunkTask], workers: int, scratch: Path) -> list[ChunkResult]:
    """Run chunks in this process, or in ``workers`` subprocesses (chunk i -> worker i % k)."""
    if workers <= 0:
        workers = min(2, os.cpu_count() or 1, len(tasks))
    if workers <= 1 or len(tasks) <= 1:
        return [run_chunk(t) for t in tasks]
    scratch.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # one polars thread pool per worker, sized so the workers do not oversubscribe the CPUs
    env.setdefault("POLARS_MAX_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    procs = []
    try:
        for k in range(workers):
            task_file = scratch / f"tasks_{k}.pkl"
            task_file.write_bytes(pickle.dumps(tasks[k::workers]))
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "pipelines.generator.worker", str(task_file)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        errors = []
        for p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                errors.append(err.decode("utf-8", "replace")[-4000:])
        if errors:
            raise RuntimeError("generator worker failed:\n" + "\n".join(errors))
        results = []
        for t in tasks:
            path = scratch / f"chunk_{t.chunk:06d}.pkl"
            results.append(pickle.loads(path.read_bytes()))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def write_reference_files(world: World, landing: Path) -> list[str]:
    cat, cp = world.catalog, world.campaigns
    products = pl.DataFrame(
        {
            "product_id": list(cat.product_id),
            "name": list(cat.name),
            "category": list(cat.category),
            "department": list(cat.department),
            "brand": list(cat.brand),
            "unit_cost": cat.cost.astype(np.int64),
        },
        schema_overrides={
            k: pl.String for k in ("product_id", "name", "category", "department", "brand")
        },
    ).sort("product_id")
    write_frame(products, landing / "products" / "products.csv", "csv")
    campaigns = pl.DataFrame(
        {
            "campaign_id": cp.campaign_id,
            "name": cp.name,
            "campaign_type": cp.ctype,
            "channel": cp.channel,
            "start_date": [d.isoformat() for d in cp.start_date],
            "end_date": [d.isoformat() for d in cp.end_date],
            "cost_per_contact": cp.cost.astype(np.int64),
        },
        schema_overrides={
            k: pl.String
            for k in ("campaign_id", "name", "campaign_type", "channel", "start_date", "end_date")
        },
    )
    write_frame(campaigns, landing / "campaigns" / "campaigns.csv", "csv")
    return ["products/products.csv", "campaigns/campaigns.csv"]


def write_truth(
    settings: Any,
    world: World,
    results: list[ChunkResult],
    customers: int,
    seed: int,
    end_date: dt.date,
    config: GeneratorConfig,
) -> dict[str, Any]:
    truth = Path(settings.truth_dir)
    # chunk order (then system, then person): stable without a global string sort
    identity = pl.concat([r.identity for r in results])
    write_frame(identity, truth / "identity.parquet", "parquet")
    persons = pl.concat([r.persons for r in results])  # person_id order
    write_frame(persons, truth / "persons.parquet", "parquet")
    dirty = dirty_frame([d for r in results for d in r.dirty])
    write_frame(dirty, truth / "dirty_rows.parquet", "parquet")

    cp = world.campaigns
    agg = {
        k: np.sum([r.campaign[k] for r in results], axis=0).astype(np.int64)
        for k in results[0].campaign
    }
    camp_list = []
    for i, cid in enumerate(cp.campaign_id):
        c, h = int(agg["contacted"][i]), int(agg["holdout"][i])
        rc, rh = int(agg["contacted_responders"][i]), int(agg["holdout_responders"][i])
        camp_list.append(
            {
                "campaign_id": cid,
                "name": cp.name[i],
                "campaign_type": cp.ctype[i],
                "channel": cp.channel[i],
                "start_date": cp.start_date[i].isoformat(),
                "end_date": cp.end_date[i].isoformat(),
                "cost_per_contact": int(cp.cost[i]),
                "audience": c + h,
                "contacted": c,
                "holdout": h,
                "planted_base_rate": float(cp.base_rate[i]),
                "planted_uplift": float(cp.uplift[i]),
                "planted_contacted_rate": round(float(cp.base_rate[i] + cp.uplift[i]), 6),
                "observed_contacted_responders": rc,
                "observed_holdout_responders": rh,
                "observed_contacted_rate": round(rc / c, 6) if c else None,
                "observed_holdout_rate": round(rh / h, 6) if h else None,
                "observed_uplift": round(rc / c - rh / h, 6) if c and h else None,
                "attributed_orders": int(agg["attributed_orders"][i]),
                "attributed_revenue": int(agg["attributed_revenue"][i]),
            }
        )
    campaign_truth = {
        "attribution_days": config.attribution_days,
        "holdout_share": config.holdout_share,
        "definition": (
            "audience = persons selected for the campaign; holdout = random share of the audience "
            "NOT contacted (absent from landing contacts); responder = person with a purchase "
            "order (positive amount, any source system) in (contact time, contact time + "
            "attribution_days]; holdout uses the campaign's notional send time. Contacted "
            "responders' planted orders carry campaign_id; natural purchases in the window also "
            "count for both groups, so observed_uplift ~ planted_uplift x (1 - natural purchase "
            "rate in the window), up to sampling noise."
        ),
        "campaigns": camp_list,
    }
    write_json(truth / "campaign_truth.json", campaign_truth)

    def tot(key: str) -> int:
        return int(sum(r.counts[key] for r in results))

    def tot_list(key: str) -> list[int]:
        return np.sum([r.counts[key] for r in results], axis=0).astype(np.int64).tolist()

    files_by_entity: dict[str, list] = {e: [] for e in ENTITIES}
    for r in results:
        for f in r.files:
            files_by_entity[f.entity].append(f)
    counts: dict[str, dict[str, Any]] = {}
    for e in ("customers", "transactions", "contacts"):
        fl = files_by_entity[e]
        rows = sum(f.rows for f in fl)
        d = sum(f.dirty for f in fl)
        counts[e] = {
            "files": len(fl),
            "rows": rows,
            "dirty_rows": d,
            "clean_rows": rows - d,
            "files_by_format": _by_format(fl),
        }
    counts["customers"].update(
        records=tot("records"),
        update_rows=tot("customer_update_rows"),
        records_by_system=dict(zip(SYSTEMS, tot_list("records_by_system"), strict=True)),
    )
    counts["transactions"].update(
        orders=tot("orders"),
        lines_by_system=dict(zip(SYSTEMS, tot_list("lines_by_system"), strict=True)),
        return_lines=tot("return_lines"),
        anonymous_lines=tot("anonymous_lines"),
        campaign_lines=tot("campaign_lines"),
        lines_with_unit_cost=tot("margin_known_lines"),
    )
    counts["contacts"].update(outbound=tot("contacts_outbound"), inbound=tot("contacts_inbound"))
    counts["products"] = {
        "files": 1,
        "rows": len(world.catalog.product_id),
        "dirty_rows": 0,
        "clean_rows": len(world.catalog.product_id),
        "files_by_format": {"csv": 1},
    }
    counts["campaigns"] = {
        "files": 1,
        "rows": len(cp.campaign_id),
        "dirty_rows": 0,
        "clean_rows": len(cp.campaign_id),
        "files_by_format": {"csv": 1},
    }
    n_multi = int(persons.filter(pl.col("n_records") > 1).height)
    rec_hist = persons.group_by("n_records").len().sort("n_records")
    summary = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "customers": customers,
        "end_date": end_date.isoformat(),
        "start_date": world.cal.start.isoformat(),
        "suggested_as_of": end_date.isoformat(),
        "business_time_zone": settings.business_time_zone,
        "utc_offset": utc_offset_seconds(settings.business_time_zone, end_date),
        "currency": settings.currency,
        "chunks": len(results),
        "counts": counts,
        "revenue": {
            "definition": "sum of amount over clean transaction lines (returns negative, "
            "anonymous included, dirty rows excluded), KRW",
            "total": tot("revenue"),
            "by_system": dict(zip(SYSTEMS, tot_list("revenue_by_system"), strict=True)),
            "returns": tot("return_amount"),
            "margin_on_lines_with_cost": tot("margin"),
        },
        "identity": {
            "persons": customers,
            "records": tot("records"),
            "persons_with_multiple_records": n_multi,
            "records_per_person": {str(k): int(v) for k, v in rec_hist.iter_rows()},
            "true_pairs": tot("true_pairs"),
            "records_of_multi_record_persons": tot("records_of_multi_record_persons"),
            "records_without_shared_identifier": tot("records_without_shared_identifier"),
            "share_without_shared_identifier": round(
                tot("records_without_shared_identifier")
                / max(1, tot("records_of_multi_record_persons")),
                6,
            ),
            "unlinkable_planted": int(identity["unlinkable"].sum()),
            "name_typos": int(identity["name_typo"].sum()),
            "malformed_emails": int(identity["malformed_email"].sum()),
            "malformed_phones": int(identity["malformed_phone"].sum()),
            "generic_email_records": int(identity["generic_email"].sum()),
            "generic_email_addresses": int(identity["generic_address"].drop_nulls().n_unique()),
            "household_phone_records": int(identity["household_phone"].sum()),
            "households": int(persons["household_id"].drop_nulls().n_unique()),
        },
        "dirty_rows": {
            e: {
                k: int(dirty.filter((pl.col("entity") == e) & (pl.col("kind") == k)).height)
                for k in DIRTY_KINDS[e]
            }
            for e in DIRTY_KINDS
        },
        "parameters": _jsonable(config.to_dict()),
        "truth_files": {
            "identity.parquet": "source_system, source_customer_id, person_id + noise flags and "
            "normalised keys (email_key lower-case with Gmail dots removed, phone_key E.164, "
            "loyalty_key) of the latest record version",
            "persons.parquet": "one row per true person: BG/NBD parameters, alive_at_end, "
            "orders, net_revenue",
            "dirty_rows.parquet": "entity, file, line_number (1-based data row, header "
            "excluded), kind, source_system, record_key, column, value",
            "campaign_truth.json": "per campaign audience/contacted/holdout, planted and observed "
            "response rates",
            "manifest.json": "landing files written by the generator",
        },
    }
    write_json(truth / "summary.json", summary)
    return summary


def _by_format(files: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in files:
        out[f.fmt] = out.get(f.fmt, 0) + 1
    return dict(sorted(out.items()))


def dirty_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "entity": pl.String,
        "file": pl.String,
        "line_number": pl.Int64,
        "kind": pl.String,
        "source_system": pl.String,
        "record_key": pl.String,
        "column": pl.String,
        "value": pl.String,
    }
    df = pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)
    return df.sort(["entity", "file", "line_number"])


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v
