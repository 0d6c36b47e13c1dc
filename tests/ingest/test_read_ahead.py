"""Files read ahead on another thread (crm.yml ingest.read_ahead) load exactly as files the
loading thread reads itself: rows, record numbers, quarantine, ledger with batch ids, and
findings; rejected, duplicate and malformed files included."""

from __future__ import annotations

import shutil
import time

import duckdb

from pipelines.generator import generate
from pipelines.ingest.contract import CONTRACTS
from pipelines.ingest.loader import _ReadAheadThread, load_entities
from pipelines.ingest.rowchecks import IngestRules
from pipelines.settings import ENTITIES, Settings
from pipelines.warehouse import connect
from tests.ingest.test_parallel_entities import _contents
from tests.quality.helpers import AS_OF, make_home

LEDGER_WITH_IDS = (
    "select batch_id, entity, file_name, file_hash, status, rows_in_file, rows_loaded, "
    "rows_quarantined, amount_loaded, message from raw._batches order by batch_id"
)


def _load(settings: Settings) -> dict[str, set[str]]:
    """Load every entity one after another; the parts timed for each file, by status."""
    con = connect(settings)
    parts: dict[str, set[str]] = {}
    try:
        for _, results in load_entities(con, settings, list(ENTITIES), AS_OF, "r1"):
            for r in results:
                parts.setdefault(r.status, set()).update(r.seconds)
        return parts
    finally:
        con.close()


def _add_awkward_files(settings: Settings) -> None:
    """A copy of a file under another name, an empty file, and a CSV with a broken line."""
    folder = settings.landing_entity_dir("transactions")
    files = sorted(folder.glob("*.csv"))
    shutil.copyfile(files[0], folder / "zz_copy_of_first.csv")
    (folder / "m_empty.csv").write_text("", encoding="utf-8")
    lines = files[1].read_text(encoding="utf-8").splitlines()
    lines.insert(3, '"unterminated,quote')
    (folder / "n_broken_line.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_files_read_ahead_load_like_files_read_by_the_loading_thread(tmp_path) -> None:
    ahead = make_home(
        tmp_path / "ahead", {"ingest": {"parallel_entities": 1, "read_ahead": {"files": 2}}}
    )
    inline = make_home(
        tmp_path / "inline", {"ingest": {"parallel_entities": 1, "read_ahead": {"files": 0}}}
    )
    generate(ahead, customers=150, seed=11)
    _add_awkward_files(ahead)
    shutil.rmtree(inline.landing_dir)
    shutil.copytree(ahead.landing_dir, inline.landing_dir)

    ahead_parts, inline_parts = _load(ahead), _load(inline)
    assert "handover" in ahead_parts["loaded"]  # the files did come from the other thread
    assert all("handover" not in parts for parts in inline_parts.values())

    got, want = _contents(ahead), _contents(inline)
    statuses = {row[2] for row in got["ledger"]}
    assert {"loaded", "duplicate", "rejected"} <= statuses
    assert got == want
    ledgers = []
    for home in (ahead, inline):
        with duckdb.connect(str(home.work_db_path), read_only=True) as con:
            ledgers.append(con.execute(LEDGER_WITH_IDS).fetchall())
            malformed = con.execute(
                "select count(*) from quarantine.transactions where reason_code = 'malformed_line'"
            ).fetchone()[0]
            assert malformed >= 1
    assert ledgers[0] == ledgers[1]  # the same batch ids, in file order


def test_closing_a_read_ahead_stops_its_thread(tmp_path) -> None:
    """The loading thread stops early (an error, or fewer files to load than predicted):
    closing the read-ahead ends its thread, also while it waits to hand over a file."""
    home = make_home(tmp_path / "home")
    generate(home, customers=60, seed=5)
    paths = sorted(home.landing_entity_dir("transactions").iterdir())
    assert len(paths) >= 3
    rules = IngestRules.from_settings(home, AS_OF)
    ahead = _ReadAheadThread(home, CONTRACTS["transactions"], rules, paths, 1, {"threads": 1})
    first = ahead.take(paths[0])
    assert first is not None and first.read is not None and first.read.records > 0
    assert ahead.take(tmp_path / "not_read_ahead.csv") is None
    deadline = time.monotonic() + 30
    while ahead._queue.qsize() < 1 and time.monotonic() < deadline:
        time.sleep(0.05)  # the next file waits in the full queue: the thread is blocked
    ahead.close()
    assert not ahead._thread.is_alive()
