"""generate_next_night: ~1% new lines dated the night, customer updates, contacts."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.generator import GeneratorConfig, generate, generate_next_night
from pipelines.settings import Settings
from tests.generator.gen_helpers import END, connect, detect_dirty_sql

NIGHT = END + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def night_home(tmp_path_factory: pytest.TempPathFactory):
    settings = Settings.load(tmp_path_factory.mktemp("gen_night"))
    cfg = GeneratorConfig(chunk_size=1000, workers=1, dirty_transaction_rate=0.02)
    base = generate(settings, customers=800, seed=5, end_date=END, config=cfg)
    night = generate_next_night(settings, seed=5, day=NIGHT, new_line_fraction=0.01)
    return settings, base, night


def test_night_adds_one_percent_of_lines_dated_that_day(night_home) -> None:
    settings, base, night = night_home
    assert night.new_lines == round(0.01 * base.clean_rows["transactions"])
    con = connect(Path(settings.landing_dir))
    tag = NIGHT.strftime("%Y%m%d")
    rules = detect_dirty_sql("tx", "transactions", NIGHT.isoformat(), ["store", "web", "app",
                             "call_centre"])  # fmt: skip
    n, days, rev = con.execute(
        f"""SELECT count(*), list(DISTINCT CAST(timezone('Asia/Seoul',
                     TRY_CAST(occurred_at AS TIMESTAMPTZ)) AS DATE)), sum(CAST(amount AS BIGINT))
            FROM tx JOIN ({rules}) k USING (file, line)
            WHERE k.kind IS NULL AND file LIKE '%night_{tag}%'"""
    ).fetchone()
    assert n == night.new_lines
    assert days == [NIGHT]
    assert rev == night.revenue
    # the night's dirty rows are in the truth file too, and re-detected the same way
    truth = pl.read_parquet(Path(settings.truth_dir) / "dirty_rows.parquet").filter(
        pl.col("file").str.contains(f"night_{tag}") & (pl.col("entity") == "transactions")
    )
    found = con.execute(
        f"SELECT file, line, kind FROM ({rules}) WHERE kind IS NOT NULL "
        f"AND file LIKE '%night_{tag}%' ORDER BY file, line"
    ).fetchall()
    assert found == truth.sort("file", "line_number").select("file", "line_number", "kind").rows()
    assert len(found) == night.dirty_rows["transactions"] > 0


def test_night_references_and_updates(night_home) -> None:
    settings, _, night = night_home
    con = connect(Path(settings.landing_dir))
    ident = pl.read_parquet(Path(settings.truth_dir) / "identity.parquet")
    con.register("ident", ident.to_arrow())
    tag = NIGHT.strftime("%Y%m%d")
    orphans = con.execute(
        f"""SELECT count(*) FROM tx WHERE file LIKE '%night_{tag}%'
              AND source_customer_id IS NOT NULL AND NOT ends_with(transaction_id, 'X')
              AND (source_system, source_customer_id) NOT IN
                  (SELECT (source_system, source_customer_id) FROM ident)"""
    ).fetchone()[0]
    assert orphans == 0
    summary = json.loads(night.summary_path.read_text())
    assert summary["customer_updates"]
    changed = {u["source_customer_id"] for u in summary["customer_updates"]}
    rows = con.execute(
        f"SELECT source_customer_id, updated_at FROM cu WHERE file LIKE '%night_{tag}%'"
    ).fetchall()
    assert changed <= {r[0] for r in rows}
    assert all(r[1] is None or r[1].startswith(NIGHT.isoformat()) for r in rows)
    n_contacts = con.execute(f"SELECT count(*) FROM co WHERE file LIKE '%night_{tag}%'")
    assert n_contacts.fetchone()[0] > 0
    assert (Path(settings.landing_dir) / "campaigns" / f"campaigns_night_{tag}.csv").exists()


def test_night_is_deterministic_and_validates_inputs(night_home) -> None:
    settings, _, night = night_home
    landing = Path(settings.landing_dir)

    def digest() -> dict[str, str]:
        return {f: hashlib.sha256((landing / f).read_bytes()).hexdigest() for f in night.files}

    before = digest()
    again = generate_next_night(settings, seed=5, day=NIGHT, new_line_fraction=0.01)
    assert digest() == before and again.files == night.files
    with pytest.raises(ValueError):
        generate_next_night(settings, seed=6, day=NIGHT)
    with pytest.raises(ValueError):
        generate_next_night(settings, seed=5, day=END)
    later = generate_next_night(settings, seed=5, day=NIGHT + dt.timedelta(days=1))
    assert later.new_lines == night.new_lines and set(later.files).isdisjoint(night.files)
