"""Landing-file hashes are kept between nights and reused only for files unchanged since."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from pipelines.ingest.filehash import RACY_SECONDS, hashed_files

HOUR_NS = 3600 * 1_000_000_000


def _file(root: Path, name: str, text: str, age_ns: int = HOUR_NS) -> Path:
    path = root / "transactions" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    stamp = time.time_ns() - age_ns
    os.utime(path, ns=(stamp, stamp))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_hashes_are_the_content_hashes_and_are_kept(tmp_path: Path) -> None:
    root, cache = tmp_path / "landing", tmp_path / "state" / "transactions.json"
    a, b = _file(root, "a.csv", "id\n1\n"), _file(root, "b.csv", "id\n2\n")
    assert hashed_files([a, b], cache, root) == [(a, _sha(a)), (b, _sha(b))]
    kept = json.loads(cache.read_text())
    assert sorted(kept) == ["transactions/a.csv", "transactions/b.csv"]
    assert kept["transactions/a.csv"][3] == _sha(a)

    # Proof that the kept hash is used without reading: content changed behind the same
    # size and mtime (what the cache cannot see) still gives the kept hash.
    stat = a.stat()
    a.write_text("id\n9\n", encoding="utf-8")
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    old = kept["transactions/a.csv"][3]
    assert hashed_files([a, b], cache, root)[0] == (a, old)


def test_changed_new_and_gone_files_are_hashed_again_or_dropped(tmp_path: Path) -> None:
    root, cache = tmp_path / "landing", tmp_path / "cache.json"
    a, b = _file(root, "a.csv", "id\n1\n"), _file(root, "b.csv", "id\n2\n")
    hashed_files([a, b], cache, root)
    _file(root, "a.csv", "id\n10\n")  # another size and mtime
    c = _file(root, "c.csv", "id\n3\n")
    assert hashed_files([a, c], cache, root) == [(a, _sha(a)), (c, _sha(c))]
    assert sorted(json.loads(cache.read_text())) == ["transactions/a.csv", "transactions/c.csv"]


def test_a_file_modified_just_before_hashing_is_hashed_again(tmp_path: Path) -> None:
    """Racy files: a rewrite within the clock's resolution could keep size and mtime, so a
    file modified less than RACY_SECONDS before its hashing is never taken from the cache."""
    root, cache = tmp_path / "landing", tmp_path / "cache.json"
    a = _file(root, "a.csv", "id\n1\n", age_ns=0)
    hashed_files([a], cache, root)
    stat = a.stat()
    a.write_text("id\n2\n", encoding="utf-8")  # same size; mtime put back
    os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert hashed_files([a], cache, root) == [(a, _sha(a))]
    # the kept entry is racy (hashed within RACY_SECONDS of the mtime): not trusted
    entry = json.loads(cache.read_text())["transactions/a.csv"]
    assert entry[2] - entry[1] < RACY_SECONDS * 1_000_000_000


def test_an_unreadable_cache_costs_only_the_reading(tmp_path: Path) -> None:
    root, cache = tmp_path / "landing", tmp_path / "cache.json"
    a = _file(root, "a.csv", "id\n1\n")
    cache.write_text("{not json", encoding="utf-8")
    assert hashed_files([a], cache, root) == [(a, _sha(a))]
    assert json.loads(cache.read_text())["transactions/a.csv"][3] == _sha(a)
