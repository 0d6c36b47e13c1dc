"""GX validation in a worker process, so importing GX is off the night's critical path.

Importing great_expectations and building its context take 5–7 s of CPU, more than the
whole default night spends validating. `crm run` starts this worker first thing
(:func:`start`): it imports GX on the second core while the run imports Dagster and its
definitions. The ingest then hands it the frames to validate (:class:`RemoteSession`);
frames go over a pipe, pickled, and are validated in order while the loader builds the
next one. Without a worker (``dagster dev``, the daemon's runs, tests that call the
loader) or when it fails, the same :class:`~pipelines.ingest.checks.GxSession` runs in
the calling process, so every file gets the same outcome either way.

The worker dies with its parent: it reads requests from its stdin, which the kernel
closes when the parent dies, and on Linux it also asks for SIGKILL when the parent dies
(``PR_SET_PDEATHSIG``), so a killed night leaves no worker behind even mid-import.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import traceback
from typing import Any, BinaryIO

_WORKER: GxWorker | None = None
_PARENT_ENV = "CRM_GX_WORKER_PARENT"


class GxWorkerError(RuntimeError):
    """The worker could not validate (it died, or GX raised): validate in-process instead."""


class GxWorker:
    """A child process that imports GX at start and validates the frames it is sent."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, _PARENT_ENV: str(os.getpid())},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._requests: BinaryIO = self.process.stdin
        self._replies: BinaryIO = self.process.stdout
        self.broken = False

    def send(self, *message: Any) -> None:
        try:
            pickle.dump(message, self._requests, protocol=pickle.HIGHEST_PROTOCOL)
            self._requests.flush()
        except (OSError, ValueError, pickle.PicklingError) as exc:
            self.broken = True
            raise GxWorkerError(f"GX worker (pid {self.process.pid}) is gone: {exc}") from exc

    def receive(self) -> Any:
        try:
            status, payload = pickle.load(self._replies)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self.broken = True
            raise GxWorkerError(f"GX worker (pid {self.process.pid}) died: {exc!r}") from exc
        if status != "ok":
            raise GxWorkerError(payload)
        return payload

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError):
            self._requests.close()  # EOF: the worker's loop ends
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._replies.close()


class RemoteSession:
    """A :class:`~pipelines.ingest.checks.GxSession` that runs in the worker."""

    def __init__(self, worker: GxWorker, *args: Any) -> None:
        self.worker = worker
        worker.send("open", *args)

    def add(self, df: Any) -> None:
        self.worker.send("add", df)  # no reply: the worker validates while we build the next

    def finish(self) -> Any:
        self.worker.send("finish")
        return self.worker.receive()


def start() -> GxWorker:
    """Start this process's GX worker (once); the ingest uses it from then on."""
    global _WORKER
    if _WORKER is None or _WORKER.broken or _WORKER.process.poll() is not None:
        _WORKER = GxWorker()
    return _WORKER


def stop() -> None:
    global _WORKER
    if _WORKER is not None:
        _WORKER.stop()
        _WORKER = None


def current() -> GxWorker | None:
    """The running worker, if this process started one and it still works."""
    if _WORKER is None or _WORKER.broken or _WORKER.process.poll() is not None:
        return None
    return _WORKER


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError):  # without it, stdin EOF still ends the loop
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if str(os.getppid()) != os.environ.get(_PARENT_ENV):  # it died before prctl took effect
        sys.exit(0)


def _serve(requests: BinaryIO, replies: BinaryIO) -> None:
    from pipelines.ingest.checks import GxSession
    from pipelines.quality.suites import gx_context

    gx_context()  # the import this worker exists for, before the first request
    session: GxSession | None = None
    failure: str | None = None
    while True:
        try:
            op, *args = pickle.load(requests)
        except EOFError:
            return
        try:
            if op == "open":
                session, failure = GxSession(*args), None
            elif op == "add" and failure is None and session is not None:
                session.add(args[0])
            elif op == "finish":
                if failure is None and session is not None:
                    reply: tuple[str, Any] = ("ok", session.finish())
                else:
                    reply = ("error", failure or "no open session")
                pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
                replies.flush()
                session = None
        except Exception:  # reported at "finish"; the caller then validates in-process
            failure = traceback.format_exc()


def main() -> None:
    _die_with_parent()
    # The pipe is our stdout: anything a library prints goes to stderr instead.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
