"""Small, seeded landing files for targeting tests (foundation marts only).

The lists used with them (``FIXTURE_LISTS``) read dim_customers and the targeting dbt
models only, so the tests run before the RFM/scoring marts exist.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import yaml

CATEGORIES = {
    "outdoor": ["tent", "sleeping bag", "lantern"],
    "bbq": ["grill", "charcoal", "tongs"],
    "kitchen": ["pan", "knife", "pot"],
    "beauty": ["lotion", "serum", "mask"],
    "books": ["novel", "comic", "cookbook"],
    "toys": ["blocks", "doll", "puzzle"],
}
# Categories bought together (planted affinity): outdoor -> bbq, kitchen -> books.
PAIRS = {"outdoor": "bbq", "kitchen": "books", "beauty": "toys"}

FIXTURE_LISTS = {
    "lists": [
        {
            "name": "loyal_email",
            "strategy": "retention",
            "priority": 10,
            "channel": "email",
            "audience": "dim_customers.orders >= 2",
            "ranking": "dim_customers.net_revenue",
            "max_size": 100000,
            "cost_per_contact": 10,
            "expected_response_rate": 0.2,
            "control_share": 0.2,
            "offer": "Thank you, 5% off",
            "discount_rate": 0.05,
            "reason": "'orders ' || dim_customers.orders",
        },
        {
            "name": "all_sms",
            "strategy": "winback",
            "priority": 20,
            "channel": "sms",
            "audience": "dim_customers.orders >= 1",
            "budget": 6000,
            "cost_per_contact": 20,
            "expected_response_rate": 0.1,
            "control_share": 0.25,
        },
        {
            "name": "cross_sell_mail",
            "strategy": "cross_sell",
            "priority": 30,
            "channel": "direct_mail",
            "audience": "customer_next_best_category.next_best_category is not null",
            "ranking": "customer_next_best_category.score",
            "max_size": 150,
            "cost_per_contact": 50,
            "expected_response_rate": 0.3,
            "control_share": 0.2,
            "offer": "Try a new category",
            "category": "customer_next_best_category.next_best_category",
        },
    ]
}


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_home_config(home: Path, lists: dict | None = None, extra: dict | None = None) -> Path:
    """$CRM_HOME/crm.yml pointing targeting at the fixture lists (foundation-only economics)."""
    lists_path = home / "target_lists.yml"
    lists_path.write_text(yaml.safe_dump(lists or FIXTURE_LISTS, sort_keys=False), encoding="utf-8")
    config = {
        "targeting": {
            "lists_file": str(lists_path),
            "economics": {
                "response_score": "1",
                "expected_order_value": "dim_customers.net_revenue / nullif(dim_customers.orders, 0)",
            },
            **(extra or {}),
        },
        # The fixture's hand-made purchase histories are not meant for BG/NBD fits, and
        # these lists use foundation-only economics: skip model fitting (scoring then logs
        # "not fitted, previous scores kept" as a warning instead of failing to converge).
        "scoring": {"min_customers": 1_000_000},
    }
    (home / "crm.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return lists_path


def write_landing(home: Path, as_of: dt.date, customers: int = 800, seed: int = 7) -> dict:
    """Customers, products, transactions, contacts and one external campaign up to as_of."""
    rng = random.Random(seed)
    landing = home / "landing"
    products = []
    for cat, names in CATEGORIES.items():
        for i, name in enumerate(names):
            products.append(
                [f"P-{cat}-{i}", name, cat, "general", "acme", rng.randint(3, 20) * 1000]
            )
    _write(landing / "products" / "products.csv",
           ["product_id", "name", "category", "department", "brand", "unit_cost"], products)  # fmt: skip
    price = {p[0]: p[5] * 2 for p in products}
    by_cat = {cat: [p[0] for p in products if p[2] == cat] for cat in CATEGORIES}

    def consent(p_true: float, p_false: float) -> str:
        u = rng.random()
        return "true" if u < p_true else "false" if u < p_true + p_false else ""

    cust_rows, tx_rows, contact_rows = [], [], []
    facts = {"unsubscribed": [], "bounced": [], "complaint": [], "recent_contact": []}
    for i in range(1, customers + 1):
        cid = f"C{i:05d}"
        # not example.com: crm.yml's identity config treats that domain as a placeholder
        email = (
            f"user{i}@fixture-shop.kr" if rng.random() > 0.05 else ("broken-email" if i % 2 else "")
        )
        phone = (
            f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}" if rng.random() > 0.1 else ""
        )
        postal = f"{rng.randint(10000, 99999)}" if rng.random() > 0.1 else ""
        cust_rows.append([
            "web", cid, f"{as_of - dt.timedelta(days=400)}T10:00:00", f"Name{i}", "Kim",
            email, phone, "1985-05-05", "f", postal, "Seoul", "Gangnam", "Seoul", "KR",
            f"{as_of - dt.timedelta(days=500)}T10:00:00",
            consent(0.75, 0.15), consent(0.6, 0.25), consent(0.3, 0.5), consent(0.5, 0.3),
        ])  # fmt: skip
        n_orders = rng.choice([0, 1, 1, 2, 2, 3, 4])
        for o in range(n_orders):
            day = as_of - dt.timedelta(days=rng.randint(20, 350))
            first = rng.choice(list(CATEGORIES))
            cats = [first] + ([PAIRS[first]] if first in PAIRS and rng.random() < 0.6 else [])
            for ln, cat in enumerate(cats, start=1):
                pid = rng.choice(by_cat[cat])
                tx_rows.append([
                    "web", f"T{i:05d}-{o}", ln, cid, f"{day}T12:{ln:02d}:00", "web", "",
                    pid, 1, price[pid], 0, "KRW", "", "",
                ])  # fmt: skip
        u = rng.random()
        if u < 0.04:
            facts["unsubscribed"].append(cid)
            contact_rows.append(["web", f"K{i}-u", cid, f"{as_of - dt.timedelta(days=60)}T09:00:00",
                                 "email", "outbound", "newsletter", "", "unsubscribed", 5])  # fmt: skip
        elif u < 0.07:
            facts["bounced"].append(cid)
            contact_rows.append(["web", f"K{i}-b", cid, f"{as_of - dt.timedelta(days=40)}T09:00:00",
                                 "sms", "outbound", "newsletter", "", "bounced", 5])  # fmt: skip
        elif u < 0.10:
            facts["complaint"].append(cid)
            contact_rows.append(["web", f"K{i}-c", cid, f"{as_of - dt.timedelta(days=30)}T09:00:00",
                                 "phone", "inbound", "complaint", "", "", ""])  # fmt: skip
        elif u < 0.14:
            facts["recent_contact"].append(cid)
            contact_rows.append(["web", f"K{i}-r", cid, f"{as_of - dt.timedelta(days=3)}T09:00:00",
                                 "push", "outbound", "campaign", "", "delivered", 2])  # fmt: skip
        elif u < 0.30:
            # an external campaign 25 days ago; about a third respond within 5 days
            contact_rows.append(["web", f"K{i}-x", cid, f"{as_of - dt.timedelta(days=25)}T09:00:00",
                                 "email", "outbound", "campaign", "EXT-SPRING", "delivered", 8])  # fmt: skip
            if rng.random() < 0.33:
                pid = rng.choice(by_cat["books"])
                tx_rows.append(["web", f"T{i:05d}-x", 1, cid,
                                f"{as_of - dt.timedelta(days=22)}T15:00:00", "web", "", pid, 1,
                                price[pid], 0, "KRW", "", "EXT-SPRING"])  # fmt: skip
    _write(landing / "customers" / "customers.csv",
           ["source_system", "source_customer_id", "updated_at", "first_name", "last_name",
            "email", "phone", "birth_date", "gender", "postal_code", "city", "district",
            "region", "country", "signup_at", "consent_email", "consent_sms", "consent_phone",
            "consent_mail"], cust_rows)  # fmt: skip
    _write(landing / "transactions" / "transactions.csv",
           ["source_system", "transaction_id", "line_number", "source_customer_id", "occurred_at",
            "channel", "store_id", "product_id", "quantity", "amount", "discount", "currency",
            "unit_cost", "campaign_id"], tx_rows)  # fmt: skip
    _write(landing / "contacts" / "contacts.csv",
           ["source_system", "contact_id", "source_customer_id", "occurred_at", "channel",
            "direction", "contact_type", "campaign_id", "outcome", "cost"], contact_rows)  # fmt: skip
    _write(landing / "campaigns" / "campaigns.csv",
           ["campaign_id", "name", "campaign_type", "channel", "start_date", "end_date",
            "cost_per_contact"],
           [["EXT-SPRING", "Spring books", "newsletter", "email",
             str(as_of - dt.timedelta(days=25)), str(as_of - dt.timedelta(days=25)), 8]])  # fmt: skip
    return facts
