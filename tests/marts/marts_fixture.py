"""A small, deterministic landing fixture for the analytics marts tests.

The fixture is written as landing CSVs (the contract v1 columns) and also kept
as pandas frames, so the tests can recompute every mart figure independently of
dbt from exactly the rows that were landed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SOURCE = "shop"
START = dt.date(2024, 1, 1)
END = dt.date(2025, 6, 30)
CHANNELS = ("store", "web", "app")
GEO = (
    ("Seoul", "Seoul", "Gangnam-gu"),
    ("Seoul", "Seoul", "Mapo-gu"),
    ("Seoul", "Seoul", "Jongno-gu"),
    ("Gyeonggi-do", "Suwon", "Yeongtong-gu"),
    ("Gyeonggi-do", "Seongnam", "Bundang-gu"),
    ("Busan", "Busan", "Haeundae-gu"),
    (None, None, None),
)


@dataclass
class Fixture:
    customers: pd.DataFrame
    transactions: pd.DataFrame
    contacts: pd.DataFrame
    campaigns: pd.DataFrame
    products: pd.DataFrame

    def write(
        self,
        home: Path,
        after: dt.date | None = None,
        until: dt.date | None = None,
        tag: str = "001",
    ) -> None:
        """Write one landing batch per entity with the dated rows in (after, until].

        The loader quarantines dates after as_of, so a multi-night test lands each
        night's rows before that night's run. Customers and products go with the
        first batch (after is None).
        """
        dated = {
            "transactions": "occurred_at",
            "contacts": "occurred_at",
            "campaigns": "end_date",
        }
        for name in ("customers", "transactions", "contacts", "campaigns", "products"):
            frame = getattr(self, name)
            if name in dated:
                day = pd.to_datetime(frame[dated[name]]).dt.date
                keep = pd.Series(True, index=frame.index)
                if after is not None:
                    keep &= day > after
                if until is not None:
                    keep &= day <= until
                frame = frame[keep]
            elif after is not None:
                continue
            if frame.empty:
                continue
            folder = home / "landing" / name
            folder.mkdir(parents=True, exist_ok=True)
            frame.to_csv(folder / f"{name}_{tag}.csv", index=False)


def _ts(day: dt.date, rng: np.random.Generator) -> str:
    hour = int(rng.integers(9, 21))
    minute = int(rng.integers(0, 60))
    return f"{day.isoformat()} {hour:02d}:{minute:02d}:00"


def build(seed: int = 7, customers: int = 90) -> Fixture:
    """Customers, orders with returns, contacts and campaigns over 18 months.

    Planted edge cases: customers without any transaction, a customer with only
    returns, return-only orders in months without purchases, identical spend
    (ties), single-order customers, anonymous sales.
    """
    rng = np.random.default_rng(seed)
    days = (END - START).days + 1

    cust_rows = []
    for i in range(customers):
        region, city, district = GEO[i % len(GEO)]
        cust_rows.append(
            {
                "source_system": SOURCE,
                "source_customer_id": f"C{i:04d}",
                "updated_at": "2024-01-01 00:00:00",
                "first_name": f"Name{i}",
                "last_name": "Test",
                "email": f"c{i}@example.com",
                "phone": f"010-0000-{i:04d}",
                "city": city,
                "district": district,
                "region": region,
                "country": "KR",
                "consent_email": "true",
            }
        )
    customers_df = pd.DataFrame(cust_rows)

    products = pd.DataFrame(
        {
            "product_id": [f"P{i}" for i in range(6)],
            "name": [f"Product {i}" for i in range(6)],
            "category": ["a", "a", "b", "b", "c", "c"],
            "department": ["x", "x", "x", "y", "y", "y"],
            "unit_cost": [1000, 2000, 3000, 4000, 5000, 6000],
        }
    )
    prices = [2500, 4000, 6000, 9000, 11000, 15000]

    lines = []
    tx_no = 0

    def add_order(cust: str | None, day: dt.date, channel: str, items: list[tuple[int, int]]):
        nonlocal tx_no
        tx_no += 1
        ts = _ts(day, rng)
        for n, (prod, qty) in enumerate(items, start=1):
            lines.append(
                {
                    "source_system": SOURCE,
                    "transaction_id": f"T{tx_no:06d}",
                    "line_number": n,
                    "source_customer_id": cust or "",
                    "occurred_at": ts,
                    "channel": channel,
                    "product_id": f"P{prod}",
                    "quantity": qty,
                    "amount": qty * prices[prod],
                    "currency": "KRW",
                }
            )

    # Customers 0..9 never buy; 10 only returns; 11 and 12 have identical single orders.
    for i in range(13, customers):
        cust = f"C{i:04d}"
        first = START + dt.timedelta(days=int(rng.integers(0, days - 30)))
        n_orders = int(rng.choice([1, 1, 2, 3, 5, 8, 13]))
        order_days = sorted(
            {first}
            | {
                first + dt.timedelta(days=int(d))
                for d in rng.integers(0, (END - first).days + 1, n_orders - 1)
            }
        )
        for day in order_days:
            items = [
                (int(rng.integers(0, 6)), int(rng.integers(1, 4)))
                for _ in range(int(rng.integers(1, 4)))
            ]
            add_order(cust, day, str(rng.choice(CHANNELS)), items)
            if rng.random() < 0.15:
                # a later return-only order of part of this purchase
                back = day + dt.timedelta(days=int(rng.integers(1, 40)))
                if back <= END:
                    prod, _ = items[0]
                    add_order(cust, back, "store", [(prod, -1)])
    # Ties: two customers with identical behaviour (same day, same basket).
    tie_day = dt.date(2025, 3, 14)
    add_order("C0011", tie_day, "web", [(2, 1)])
    add_order("C0012", tie_day, "web", [(2, 1)])
    # Only returns (e.g. an item bought before the loyalty card existed).
    add_order("C0010", dt.date(2025, 2, 3), "store", [(1, -1)])
    # A month with only a return for customer 13: a return-only order in Jan 2025.
    add_order("C0013", dt.date(2025, 1, 20), "store", [(0, -1)])
    # Anonymous sales.
    for k in range(15):
        add_order(None, START + dt.timedelta(days=k * 30), "store", [(k % 6, 1)])
    tx = pd.DataFrame(lines)

    campaigns = pd.DataFrame(
        {
            "campaign_id": ["CMP1", "CMP2", "CMP3"],
            "name": ["Spring", "Summer", "Winback"],
            "campaign_type": ["newsletter", "crosssell", "winback"],
            "channel": ["email", "sms", "email"],
            "start_date": ["2024-03-01", "2024-09-01", "2025-05-20"],
            "end_date": ["2024-03-31", "2024-09-30", "2025-06-30"],
            "cost_per_contact": [50, 30, 50],
        }
    )
    contact_rows = []
    cno = 0
    for i in range(10, customers):
        cust = f"C{i:04d}"
        for cid, day, channel in (
            ("CMP1", dt.date(2024, 3, 5), "email"),
            ("CMP2", dt.date(2024, 9, 10), "sms"),
            ("CMP3", dt.date(2025, 6, 5), "email"),
            (None, dt.date(2025, 6, 20), "push"),
        ):
            if rng.random() < 0.6:
                cno += 1
                outcome = str(
                    rng.choice(["delivered", "opened", "clicked", "responded", "bounced"])
                )
                contact_rows.append(
                    {
                        "source_system": SOURCE,
                        "contact_id": f"K{cno:06d}",
                        "source_customer_id": cust,
                        "occurred_at": _ts(day + dt.timedelta(days=int(rng.integers(0, 5))), rng),
                        "channel": channel,
                        "direction": "outbound",
                        "contact_type": "campaign" if cid else "notification",
                        "campaign_id": cid or "",
                        "outcome": outcome,
                        "cost": 50,
                    }
                )
        for _ in range(int(rng.integers(0, 3))):
            cno += 1
            day = END - dt.timedelta(days=int(rng.integers(0, 200)))
            contact_rows.append(
                {
                    "source_system": SOURCE,
                    "contact_id": f"K{cno:06d}",
                    "source_customer_id": cust,
                    "occurred_at": _ts(day, rng),
                    "channel": str(rng.choice(["phone", "chat"])),
                    "direction": "inbound",
                    "contact_type": str(rng.choice(["service", "complaint", "inquiry"])),
                    "campaign_id": "",
                    "outcome": "",
                    "cost": "",
                }
            )
    contacts = pd.DataFrame(contact_rows)
    return Fixture(customers_df, tx, contacts, campaigns, products)
