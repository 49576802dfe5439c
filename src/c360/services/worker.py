"""The server's background worker: keeps the processor caught up and compacts the log into the lake.

By default it runs in a process of its own (``WorkerProcess``): Python runs one thread of a process at a time, and
applying events costs more CPU than accepting them, so in the API's process the worker took most of its one core
from the requests. In a process of its own it has a core of its own; the log and the store are shared through the
workspace's files (or PostgreSQL), as they are between `c360 serve --workers N` processes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from c360.errors import StoreBusy
from c360.lake.lake import LakeBusy
from c360.services.compaction import maintain
from c360.services.processing import processor_for
from c360.workspace import Workspace

if TYPE_CHECKING:
    from c360.settings import Settings

log = logging.getLogger(__name__)


class _Stop(Protocol):
    def is_set(self) -> bool: ...
    def set(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class BackgroundWorker:
    """A thread that applies new events every ``interval`` seconds and compacts when enough have piled up."""

    def __init__(
        self, ws: Workspace, *, interval: float = 0.5, compact_every: float = 60.0, stop: _Stop | None = None
    ) -> None:
        self.ws = ws
        self.interval = interval
        self.compact_every = compact_every
        self._stop: _Stop = stop if stop is not None else threading.Event()
        self._thread = threading.Thread(target=self.run, name="c360-worker", daemon=True)
        self._last_compaction = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run(self, *, parent: int | None = None) -> None:
        """Work until stopped (or, given ``parent``, until that process is gone)."""
        processor = processor_for(self.ws)
        while not self._stop.is_set():
            if parent is not None and os.getppid() != parent:
                return  # the server died without stopping us: nobody else will
            try:
                processor.run_until_idle()
                self._maybe_compact()
            except StoreBusy as exc:  # another writer (a large resolve) holds the store: the next round
                log.warning("background worker: %s", exc)
            except Exception:  # the worker must outlive a bad moment of the store; it logs and tries again
                log.exception("background worker step failed")
            self._stop.wait(self.interval)

    def _maybe_compact(self) -> None:
        pending = self.ws.log.max_seq() - self.ws.lake.watermark()
        due = time.monotonic() - self._last_compaction >= self.compact_every
        if pending >= self.ws.settings.compaction_batch_events or (pending and due):
            try:
                maintain(self.ws)
            except LakeBusy:
                return  # `c360 compact` is at it; try again next round
            self._last_compaction = time.monotonic()


class WorkerProcess:
    """``BackgroundWorker`` in a child process of the server, started and stopped with it, and started again
    (after ``restart_delay`` seconds) if it ends on its own: killed for memory, or by an operator."""

    def __init__(self, settings: Settings, *, restart_delay: float = 1.0) -> None:
        self.settings = settings
        self.restart_delay = restart_delay
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or connections
        self._stop = self._context.Event()  # tells the process to finish its step and close the workspace
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: Any = None
        self._watcher = threading.Thread(target=self._watch, name="c360-worker-watch", daemon=True)

    def start(self) -> None:
        self._launch()
        self._watcher.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the worker to finish its step and close the workspace; kill it if it has not within ``timeout``."""
        with self._lock:
            self._stopping.set()
        self._stop.set()
        # The watcher is the one thread that waits on the process: it returns once the process has ended.
        self._watcher.join(timeout)
        if self._watcher.is_alive():
            log.warning("the background worker did not stop within %.0f s: terminating it", timeout)
            self._process.terminate()
            self._watcher.join()

    def _launch(self) -> bool:
        with self._lock:
            if self._stopping.is_set():
                return False
            self._process = self._context.Process(
                target=_work, args=(self.settings, self._stop, os.getpid()), name="c360-worker", daemon=True
            )
            self._process.start()
            return True

    def _watch(self) -> None:
        while True:
            process = self._process
            process.join()
            if self._stopping.is_set():
                return
            log.warning("the background worker process ended (exit code %s): starting another", process.exitcode)
            if self._stopping.wait(self.restart_delay) or not self._launch():
                return


def _work(settings: Settings, stop: Any, parent: int) -> None:
    # Ctrl-C reaches the whole process group; the server stops this process itself, after its requests.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A SIGTERM of its own (systemd stops every process of the service) ends it at once: the transaction under
    # way rolls back and the workspace closes as the stack unwinds. (Setting ``stop`` from the handler could
    # deadlock on the lock the interrupted ``stop.wait`` holds.)
    signal.signal(signal.SIGTERM, _exit)
    logging.basicConfig(level=logging.WARNING)
    with Workspace.open(settings) as ws:
        BackgroundWorker(ws, stop=stop).run(parent=parent)


def _exit(_signal: int, _frame: Any) -> None:
    raise SystemExit(0)
