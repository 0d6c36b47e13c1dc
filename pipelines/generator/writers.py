"""Deterministic file writing and timestamp formatting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

TS_FORMATS = {
    "naive": "%Y-%m-%d %H:%M:%S",
    "offset": "%Y-%m-%dT%H:%M:%S{off}",
    "utc": "%Y-%m-%dT%H:%M:%SZ",
}


def offset_suffix(offset_sec: int) -> str:
    sign = "+" if offset_sec >= 0 else "-"
    m = abs(offset_sec) // 60
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def ts_expr(col: str, style: str, offset_sec: int) -> pl.Expr:
    """Local naive epoch seconds (Int64 column) -> text in the given style."""
    c = pl.col(col)
    if style == "utc":
        c = c - offset_sec
    fmt = TS_FORMATS[style].replace("{off}", offset_suffix(offset_sec))
    return pl.from_epoch(c, time_unit="s").dt.strftime(fmt)


_TOD: pl.Series | None = None


def _tod_table() -> pl.Series:
    global _TOD
    if _TOD is None:
        _TOD = pl.Series(
            [f"{h:02d}:{m:02d}:{x:02d}" for h in range(24) for m in range(60) for x in range(60)],
            dtype=pl.String,
        )
    return _TOD


def format_ts(sec: pl.Series | np.ndarray, style: str, offset_sec: int) -> pl.Series:
    """Local naive epoch seconds -> text; same result as :func:`ts_expr`, via lookup tables."""
    s = pl.Series("sec", sec, dtype=pl.Int64)
    if style == "utc":
        s = s - offset_sec
    if s.len() == 0:
        return pl.Series("ts", [], dtype=pl.String)
    day = s // 86_400
    d0, d1 = int(day.min()), int(day.max())
    base = dt.date(1970, 1, 1).toordinal()
    dates = pl.Series(
        [dt.date.fromordinal(base + d).isoformat() for d in range(d0, d1 + 1)], dtype=pl.String
    )
    sep = " " if style == "naive" else "T"
    suffix = {"naive": "", "offset": offset_suffix(offset_sec), "utc": "Z"}[style]
    df = pl.DataFrame({"d": day - d0, "t": s - day * 86_400})
    out = df.select(
        pl.concat_str(
            [
                pl.lit(dates).gather(pl.col("d")),
                pl.lit(sep),
                pl.lit(_tod_table()).gather(pl.col("t")),
                pl.lit(suffix),
            ]
        ).alias("ts")
    )
    return out["ts"]


def ts_scalar(local: dt.datetime, style: str, offset_sec: int) -> str:
    if style == "utc":
        local = local - dt.timedelta(seconds=offset_sec)
    fmt = TS_FORMATS[style].replace("{off}", offset_suffix(offset_sec))
    return local.strftime(fmt)


def datetime_expr(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col), time_unit="s").cast(pl.Datetime("us"))


def write_frame(df: pl.DataFrame, path: Path, fmt: str) -> None:
    """Write one batch file; the bytes depend only on the frame's content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        df.write_csv(tmp, include_header=True, line_terminator="\n", null_value="")
    elif fmt == "parquet":
        df.write_parquet(
            tmp, compression="zstd", compression_level=3, statistics=True, row_group_size=262_144
        )
    elif fmt == "jsonl":
        df.write_ndjson(tmp)
    else:  # pragma: no cover
        raise ValueError(fmt)
    tmp.replace(path)


def as_text(df: pl.DataFrame) -> pl.DataFrame:
    """All columns as text (CSV files are planted with dirty values as text)."""
    return df.with_columns(pl.all().cast(pl.String))


def obj(values: np.ndarray | list) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.String)
