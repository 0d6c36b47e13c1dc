"""Closed-loop simulator: what a campaign tool and the customers would send back.

Reads the outbox of one night (outbox/<as_of>/manifest.json and its files) and writes the
next night's landing files:

* contacts: one outbound contact per treated (exported) customer, carrying the list run's
  campaign_id, on the list's channel, the day after as_of;
* transactions: one order per responder within ``response_days`` after as_of. Treated
  customers respond with probability base_rate + uplift, control members with base_rate.
  Treated responders' orders carry the campaign_id; control responders' do not;
* campaigns: one row per list run (campaign_id, name, channel, cost_per_contact);
* truth/targeting/<as_of>.json: the planted base rate and uplift per list and the
  realised responders, for tests and quality reports.

Control members are not in the outbox (by design), so they are read from
marts.target_list_members in the build database, opened read-only. Run it between two
nightly runs (the job holds the build database while it runs).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np

from pipelines.settings import Settings
from pipelines.targeting.config import load_targeting_config

CONTACT_HEADER = [
    "source_system", "contact_id", "source_customer_id", "occurred_at", "channel",
    "direction", "contact_type", "campaign_id", "outcome", "cost",
]  # fmt: skip
TRANSACTION_HEADER = [
    "source_system", "transaction_id", "line_number", "source_customer_id", "occurred_at",
    "channel", "store_id", "product_id", "quantity", "amount", "discount", "currency",
    "unit_cost", "campaign_id",
]  # fmt: skip
CAMPAIGN_HEADER = [
    "campaign_id", "name", "campaign_type", "channel", "start_date", "end_date",
    "cost_per_contact",
]  # fmt: skip


@dataclass(frozen=True)
class SimulatedList:
    list_name: str
    campaign_id: str
    channel: str
    base_rate: float
    uplift: float
    treated: int
    control: int
    treated_responders: int
    control_responders: int
    treated_revenue: int
    control_revenue: int

    @property
    def realised_uplift(self) -> float | None:
        """Treated minus control response rate as planted (None when a group is empty)."""
        if not self.treated or not self.control:
            return None
        return self.treated_responders / self.treated - self.control_responders / self.control


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _source_records(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[str, str]]:
    """customer_key -> one (source_system, source_customer_id) that resolves to it."""
    tables = {
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    source = next(
        (
            t
            for t in ("marts.customer_identities", "intermediate.int_customers_keyed")
            if t in tables
        ),
        None,
    )
    if source is None:
        raise RuntimeError("simulate: no customer_identities / int_customers_keyed in the build DB")
    rows = con.execute(
        f"select customer_key, min(source_system || chr(31) || source_customer_id) "
        f"from {source} where customer_key is not null group by customer_key"
    ).fetchall()
    return {int(k): tuple(v.split(chr(31), 1)) for k, v in rows}


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)


def simulate_campaign_responses(
    settings: Settings,
    as_of: dt.date,
    *,
    base_rate: float = 0.10,
    uplift: float = 0.20,
    per_list: dict[str, tuple[float, float]] | None = None,
    seed: int = 0,
    response_days: int | None = None,
    contact_outcome: str = "delivered",
    order_amount: tuple[int, int] = (20_000, 80_000),
    margin_rate: float = 0.4,
    source_system: str | None = None,
) -> list[SimulatedList]:
    """Write night-2 landing files answering outbox/<as_of>; returns what was planted.

    ``per_list`` overrides (base_rate, uplift) for single lists. ``response_days``
    defaults to the configured attribution window: run the next night with as_of >=
    as_of + response_days so every planted order is in the warehouse.
    """
    cfg = load_targeting_config(settings)
    days = int(response_days or cfg.attribution_days)
    folder = settings.outbox_dir / as_of.isoformat()
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no outbox manifest at {manifest_path}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))

    con = duckdb.connect(str(settings.work_db_path), read_only=True)
    try:
        records = _source_records(con)
        control_rows = con.execute(
            "select list_name, customer_key from marts.target_list_members "
            "where as_of = ? and treatment_group = 'control' order by list_name, customer_key",
            [as_of],
        ).fetchall()
        costs = dict(
            con.execute(
                "select list_name, cost_per_contact from marts.target_lists where as_of = ?",
                [as_of],
            ).fetchall()
        )
        products = [
            r[0]
            for r in con.execute(
                "select product_id from marts.dim_products order by product_id limit 50"
            ).fetchall()
        ]
    finally:
        con.close()
    if not products:
        raise RuntimeError("simulate: marts.dim_products is empty")
    control_by_list: dict[str, list[int]] = {}
    for name, key in control_rows:
        control_by_list.setdefault(name, []).append(int(key))

    contact_day = as_of + dt.timedelta(days=1)
    contacts: list[list] = []
    transactions: list[list] = []
    campaigns: list[list] = []
    planted: list[SimulatedList] = []
    for entry in manifest["files"]:
        name, campaign_id, channel = entry["list"], entry["campaign_id"], entry["channel"]
        with (folder / entry["file"]).open(encoding="utf-8", newline="") as fh:
            treated = [int(r["customer_key"]) for r in csv.DictReader(fh)]
        control = control_by_list.get(name, [])
        base, lift = (per_list or {}).get(name, (base_rate, uplift))
        rng = _rng(seed, f"{as_of}:{name}")
        cost = float(costs.get(name, 0.0))
        campaigns.append(
            [campaign_id, f"target list {name} {as_of}", "target_list", channel,
             contact_day.isoformat(), contact_day.isoformat(), cost]
        )  # fmt: skip
        revenue = {"treated": 0, "control": 0}
        responders = {"treated": 0, "control": 0}
        for group, keys, p in (("treated", treated, base + lift), ("control", control, base)):
            draws = rng.random(len(keys))
            offsets = rng.integers(1, days + 1, len(keys))
            amounts = rng.integers(order_amount[0] // 100, order_amount[1] // 100 + 1, len(keys))
            product_idx = rng.integers(0, len(products), len(keys))
            for key, u, off, amount, pi in zip(
                keys, draws, offsets, amounts, product_idx, strict=True
            ):
                system, source_id = records[key]
                system = source_system or system
                if group == "treated":
                    contacts.append(
                        [system, f"{campaign_id}:{key}", source_id,
                         f"{contact_day.isoformat()}T10:00:00", channel, "outbound",
                         "campaign", campaign_id, contact_outcome, cost]
                    )  # fmt: skip
                if u >= p:
                    continue
                amount = int(amount) * 100
                day = as_of + dt.timedelta(days=int(off))
                responders[group] += 1
                revenue[group] += amount
                transactions.append(
                    [system, f"SIM-{campaign_id}-{key}", 1, source_id,
                     f"{day.isoformat()}T14:00:00", "web", "", products[int(pi)], 1, amount, 0,
                     settings.currency, round(amount * (1 - margin_rate)),
                     campaign_id if group == "treated" else ""]
                )  # fmt: skip
        planted.append(
            SimulatedList(
                list_name=name,
                campaign_id=campaign_id,
                channel=channel,
                base_rate=base,
                uplift=lift,
                treated=len(treated),
                control=len(control),
                treated_responders=responders["treated"],
                control_responders=responders["control"],
                treated_revenue=revenue["treated"],
                control_revenue=revenue["control"],
            )
        )

    stem = f"targeting_sim_{as_of.isoformat()}.csv"
    _write_csv(settings.landing_entity_dir("campaigns") / stem, CAMPAIGN_HEADER, campaigns)
    _write_csv(settings.landing_entity_dir("contacts") / stem, CONTACT_HEADER, contacts)
    _write_csv(settings.landing_entity_dir("transactions") / stem, TRANSACTION_HEADER, transactions)
    truth = settings.truth_dir / "targeting" / f"{as_of.isoformat()}.json"
    truth.parent.mkdir(parents=True, exist_ok=True)
    truth.write_text(
        json.dumps(
            {
                "as_of": as_of.isoformat(),
                "seed": seed,
                "response_days": days,
                "note": "treated respond at base_rate + uplift, control at base_rate; "
                "one order per responder within response_days after as_of",
                "lists": [asdict(p) for p in planted],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return planted
