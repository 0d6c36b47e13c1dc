from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.generator import GeneratorConfig, generate
from pipelines.settings import Settings
from tests.generator.gen_helpers import END

SMALL = GeneratorConfig(chunk_size=1000, workers=1)


@pytest.fixture(scope="session")
def gen_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object]:
    """1,500 persons in two chunks (shared by read-only tests)."""
    home = tmp_path_factory.mktemp("gen_small")
    settings = Settings.load(home)
    result = generate(settings, customers=1500, seed=11, end_date=END, config=SMALL)
    return settings, result


@pytest.fixture(scope="session")
def gen_landing(gen_home) -> Path:
    return Path(gen_home[0].landing_dir)


@pytest.fixture(scope="session")
def gen_con(gen_home):
    """One DuckDB connection over the small home: raw views (tx, cu, co, ca, pr), the dirty
    truth (d), identity truth (ident), clean rows (*_clean) and priced lines (t)."""
    import pyarrow.parquet as pq

    from tests.generator.gen_helpers import connect

    settings, _ = gen_home
    truth = Path(settings.truth_dir)
    con = connect(Path(settings.landing_dir))
    con.register("dirty_arrow", pq.read_table(truth / "dirty_rows.parquet"))
    con.execute("CREATE TABLE d AS SELECT file, line_number AS line, entity FROM dirty_arrow")
    con.register("ident_arrow", pq.read_table(truth / "identity.parquet"))
    con.execute("CREATE TABLE ident AS SELECT * FROM ident_arrow")
    for v in ("tx", "cu", "co"):
        con.execute(f"CREATE TABLE {v}_clean AS SELECT * FROM {v} ANTI JOIN d USING (file, line)")
    con.execute(
        """CREATE TABLE t AS SELECT tx_clean.*, TRY_CAST(occurred_at AS TIMESTAMPTZ) ts,
             CAST(amount AS BIGINT) amt, i.person_id
           FROM tx_clean LEFT JOIN ident i USING (source_system, source_customer_id)"""
    )
    con.execute("SET threads=2")
    yield con
    con.close()
