"""Content hashes of landing files, kept from night to night.

A landing file is one batch, recognised by the SHA-256 of its content, and the files stay
in place after loading. So every night would read all of them again only to find the ones
loaded before: 1.5 GB at 10M lines (~1.9 s of CPU), ~15 GB at 100M. Instead, each file's hash
is kept with its size and modification time (ns), in ``state/landing_hashes/<entity>.json``,
and reused while both are unchanged, as git's index does.

A file rewritten within the clock's resolution of being hashed could keep its size and
mtime. So, like git's rule for "racily clean" files, a hash is reused only for a file last
modified more than ``RACY_SECONDS`` before it was hashed; other files are hashed again. A
missing or unreadable cache only costs the reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

RACY_SECONDS = 2


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content (landing batches; also the outbox manifest's files)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hashed_files(paths: list[Path], cache: Path, root: Path) -> list[tuple[Path, str]]:
    """``(path, sha256)`` for each of ``paths``, reusing the hashes kept in ``cache`` (keyed
    by the path relative to ``root``) for files unchanged since; the cache is rewritten to
    hold exactly these files."""
    kept = _read(cache)
    entries: dict[str, list] = {}
    result = []
    for path in paths:
        stat = path.stat()
        name = str(path.relative_to(root))
        entry = kept.get(name)
        if not _reusable(entry, stat.st_size, stat.st_mtime_ns):
            hashed_at = time.time_ns()  # before reading: a write during the read is racy
            entry = [stat.st_size, stat.st_mtime_ns, hashed_at, file_sha256(path)]
        entries[name] = entry
        result.append((path, str(entry[3])))
    if entries != kept:
        _write(cache, entries)
    return result


def _reusable(entry: list | None, size: int, mtime_ns: int) -> bool:
    if not isinstance(entry, list) or len(entry) != 4:
        return False
    kept_size, kept_mtime, hashed_at, digest = entry
    return (
        kept_size == size
        and kept_mtime == mtime_ns
        and isinstance(hashed_at, int)
        and mtime_ns < hashed_at - RACY_SECONDS * 1_000_000_000
        and isinstance(digest, str)
    )


def _read(cache: Path) -> dict[str, list]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(cache: Path, entries: dict[str, list]) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f".{cache.name}.{os.getpid()}")
    partial.write_text(json.dumps(entries, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, cache)
