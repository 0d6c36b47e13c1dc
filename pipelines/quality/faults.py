"""Pause points for crash tests.

With ``CRM_TEST_PAUSE_AT=<name>`` in the environment, :func:`pause_point`
called with that name prints ``[crm-test] paused at <name>`` to stderr and
sleeps, so a test can SIGKILL the process at a known, nasty moment (inside the
ingest transaction, before the publish swap, ...). Without the variable it does
nothing. Names used by the job:

* ``ingest_commit`` — a batch's rows and ledger entry written, not committed;
* ``ingest_reject`` — a rejected file's ledger entry committed, file not yet moved;
* ``quality_checks`` — post-dbt checks writing marts.data_quality_log in the build DB;
* ``publish_swap`` — the new warehouse file complete, not yet renamed over the old;
* ``publish_exports`` — the warehouse swapped, Parquet exports being written.
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_ENV = "CRM_TEST_PAUSE_AT"
PAUSE_SECONDS_ENV = "CRM_TEST_PAUSE_SECONDS"


def pause_point(name: str) -> None:
    wanted = os.environ.get(PAUSE_ENV)
    if not wanted or wanted != name:
        return
    print(f"[crm-test] paused at {name}", file=sys.stderr, flush=True)
    time.sleep(float(os.environ.get(PAUSE_SECONDS_ENV, "600")))
