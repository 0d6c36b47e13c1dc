"""Plant dirty rows into text batches and record exactly where they are.

Dirty rows are *inserted* copies of clean rows (the clean data set stays complete). A
copied row gets a fresh key (id + "X") so it never collides with the clean original,
except ``duplicate_row``: an exact copy placed on the line right after its original.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from .config import DIRTY_KINDS
from .writers import ts_scalar

KEY_COLUMN = {
    "transactions": "transaction_id",
    "customers": "source_customer_id",
    "contacts": "contact_id",
}
TIME_COLUMN = {"transactions": "occurred_at", "customers": "updated_at", "contacts": "occurred_at"}
REQUIRED = {
    "transactions": (
        "transaction_id",
        "occurred_at",
        "product_id",
        "amount",
        "quantity",
        "channel",
        "source_system",
    ),
    "customers": ("source_customer_id", "updated_at", "source_system"),
    "contacts": ("contact_id", "source_customer_id", "occurred_at", "channel", "direction"),
}
GARBAGE_DATES = (
    "not a date",
    "2025/13/45 25:61",
    "??",
    "yesterday",
    "31.12.x",
)
NON_NUMERIC = ("N/A", "abc", "#VALUE!", "12o00", "₩15,000")
BAD_CHANNELS = ("fax", "tv_shopping", "pigeon", "telepathy")
BAD_DIRECTIONS = ("sideways", "both", "unknown")
BAD_CURRENCIES = ("USD", "JPY", "EUR", "CNY")


def plant(
    df: pl.DataFrame,
    entity: str,
    n: int,
    rng: np.random.Generator,
    kind_offset: int,
    style: str,
    offset_sec: int,
    end_date: dt.date,
    years: tuple[int, int],
) -> tuple[Planted, list[dict]]:
    """Plan ``n`` dirty rows for a frame; return the planted batch and one dict per row."""
    if n <= 0 or df.height == 0:
        return Planted(df, []), []
    kinds_all = DIRTY_KINDS[entity]
    key_col = KEY_COLUMN[entity]
    tcol = TIME_COLUMN[entity]
    n = min(n, df.height)
    src = np.sort(rng.choice(df.height, size=n, replace=False))
    rows = df[src.tolist()].to_dicts()
    new_rows, after, truth = [], [], []
    for i, (s, row) in enumerate(zip(src.tolist(), rows, strict=True)):
        kind = kinds_all[(kind_offset + i) % len(kinds_all)]
        r = dict(row)
        column, value = None, None
        if kind == "duplicate_row":
            pos = s  # right after the original
        else:
            if r.get(key_col):
                r[key_col] = r[key_col] + "X"
            pos = int(rng.integers(0, df.height))
            if kind == "non_numeric_amount":
                column, value = "amount", NON_NUMERIC[int(rng.integers(len(NON_NUMERIC)))]
            elif kind == "unparseable_date":
                column, value = tcol, GARBAGE_DATES[int(rng.integers(len(GARBAGE_DATES)))]
            elif kind == "impossible_date":
                y = int(rng.integers(years[0], years[1] + 1))
                month, day = ((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31))[
                    int(rng.integers(6))
                ]
                hh, mm = int(rng.integers(9, 21)), int(rng.integers(60))
                base = ts_scalar(dt.datetime(2000, 1, 1, hh, mm, 0), style, offset_sec)
                value = f"{y:04d}-{month:02d}-{day:02d}{base[10:]}"
                if style == "utc":  # keep the wall-clock digits; the date itself is impossible
                    value = f"{y:04d}-{month:02d}-{day:02d}T{hh:02d}:{mm:02d}:00Z"
                column = tcol
            elif kind == "future_date":
                d = end_date + dt.timedelta(days=int(rng.integers(60, 700)))
                local = dt.datetime(
                    d.year,
                    d.month,
                    d.day,
                    int(rng.integers(9, 21)),
                    int(rng.integers(60)),
                    int(rng.integers(60)),
                )
                column, value = tcol, ts_scalar(local, style, offset_sec)
            elif kind == "unknown_channel":
                column, value = "channel", BAD_CHANNELS[int(rng.integers(len(BAD_CHANNELS)))]
            elif kind == "unknown_direction":
                column, value = "direction", BAD_DIRECTIONS[int(rng.integers(len(BAD_DIRECTIONS)))]
            elif kind == "negative_quantity_positive_amount":
                q = abs(int(r["quantity"]))
                a = abs(int(r["amount"])) or 1000
                r["amount"] = str(a)
                column, value = "quantity", str(-q)
            elif kind == "wrong_currency":
                column, value = "currency", BAD_CURRENCIES[int(rng.integers(len(BAD_CURRENCIES)))]
            elif kind == "amount_outlier":
                column, value = "amount", "1000000000000"
            elif kind == "missing_required":
                req = REQUIRED[entity]
                column, value = req[int(rng.integers(len(req)))], None
            else:  # pragma: no cover
                raise ValueError(kind)
            r[column] = value
        new_rows.append(r)
        after.append(pos)
        truth.append(
            {
                "kind": kind,
                "source_system": r.get("source_system"),
                "record_key": r.get(key_col),
                "column": column,
                "value": value,
            }
        )
    return _insert(df, new_rows, after, truth)


@dataclass
class Planted:
    """A clean frame plus text rows to splice in after given 0-based positions."""

    frame: pl.DataFrame
    inserts: list[tuple[int, dict]]  # (after position, row with text values), in file order

    @property
    def height(self) -> int:
        return self.frame.height + len(self.inserts)

    def write_csv(self, path: Path) -> None:
        """Same bytes as writing the merged frame as text, without casting whole columns:
        the clean frame is written once and the dirty lines are spliced in (no field holds
        a newline, so line ends are row ends)."""
        df = self.frame
        buf = io.BytesIO()
        df.write_csv(buf, include_header=True)
        data = buf.getvalue()
        if self.inserts:
            text = pl.DataFrame(
                [r for _, r in self.inserts], schema={c: pl.String for c in df.columns}
            )
            tbuf = io.BytesIO()
            text.write_csv(tbuf, include_header=False)
            extra = tbuf.getvalue().splitlines(keepends=True)
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
            if len(ends) != df.height + 1 or len(extra) != len(self.inserts):
                raise ValueError(f"{path.name}: a field contains a line break")
            pieces, prev = [], 0
            for (pos, _), line in zip(self.inserts, extra, strict=True):
                cut = int(ends[pos + 1])
                pieces.append(data[prev:cut])
                pieces.append(line)
                prev = cut
            pieces.append(data[prev:])
            data = b"".join(pieces)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


def _text(v: object) -> str | None:
    return None if v is None else str(v)


def _insert(
    df: pl.DataFrame, new_rows: list[dict], after: list[int], truth: list[dict]
) -> tuple[Planted, list[dict]]:
    """Order the inserted rows (stable by position) and fill their 1-based line numbers."""
    order = sorted(range(len(after)), key=lambda i: (after[i], i))
    inserts = []
    for k, i in enumerate(order):
        truth[i]["line_number"] = after[i] + k + 2
        inserts.append((after[i], {c: _text(new_rows[i].get(c)) for c in df.columns}))
    return Planted(df, inserts), truth
