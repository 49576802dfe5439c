"""The server's background worker: keeps the processor caught up and compacts the log into the lake."""

from __future__ import annotations

import logging
import threading
import time

from c360.lake.lake import LakeBusy
from c360.services.compaction import maintain
from c360.services.processing import processor_for
from c360.workspace import Workspace

log = logging.getLogger(__name__)


class BackgroundWorker:
    """A thread that applies new events every ``interval`` seconds and compacts when enough have piled up."""

    def __init__(self, ws: Workspace, *, interval: float = 0.5, compact_every: float = 60.0) -> None:
        self.ws = ws
        self.interval = interval
        self.compact_every = compact_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="c360-worker", daemon=True)
        self._last_compaction = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        processor = processor_for(self.ws)
        while not self._stop.is_set():
            try:
                processor.run_until_idle()
                self._maybe_compact()
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
