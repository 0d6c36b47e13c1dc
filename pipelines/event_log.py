"""Dagster's SQLite event log with pooled connections.

Dagster's ``SqliteEventLogStorage`` creates a SQLAlchemy engine, connects and disposes of
it for every write, and an asset or asset-check event writes to two or three databases
(the run's and the cross-run index). A night writes hundreds of such events (every dbt
model and test is one), at ~45 ms each on the 2-core machine; with one pooled engine
per database it is ~13 ms. The files and tables are exactly Dagster's: `dagster dev`,
the daemon and an instance without this class read the same storage.

`crm run` configures it for the home's instance (``pipelines.cli._instance``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# Run databases are one per run: a long-lived reader (the webserver) keeps the engines of
# the most recently used ones only.
_MAX_ENGINES = 8
_BUSY_TIMEOUT_SECONDS = 15


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` that keeps one engine (and its connections) per database."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: Any, config_value: dict[str, Any]
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=4,  # Dagster's schema setup opens a second connection
                # connections are only used under self._db_lock, one thread at a time
                connect_args={"timeout": _BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            self._engines[shard] = engine
            while len(self._engines) > _MAX_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
        else:
            self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _dispose_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()

    def wipe(self) -> None:
        self._dispose_engines()  # the files are deleted: no engine may keep them open
        super().wipe()


def instance_yaml(repo_yaml: str, storage_dir: str) -> str:
    """The repo's dagster.yaml plus this event log, for one home's instance."""
    return (
        repo_yaml.rstrip("\n")
        + "\n\n# Added by `crm run` (pipelines/event_log.py): Dagster's SQLite event log with\n"
        "# pooled connections, in the default place.\n"
        "event_log_storage:\n"
        "  module: pipelines.event_log\n"
        "  class: PooledSqliteEventLogStorage\n"
        "  config:\n"
        f"    base_dir: {json.dumps(storage_dir)}\n"
    )
