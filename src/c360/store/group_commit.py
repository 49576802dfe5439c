"""Group commit for write operations of many threads: one transaction and one durable commit per batch.

Each operation runs in its own SAVEPOINT inside the batch's transaction, in the order the operations arrived, so
one that fails (a refusal, a broken invariant) is undone alone and its caller gets the exception, while the others
commit together. A caller is answered only after the commit: what it was told is durable. One writer thread per
store runs the batches, which also ends the busy-polling of many threads for SQLite's write lock.

This is what lets a store that fsyncs every commit (SQLite WAL with synchronous=FULL, PostgreSQL) serve many
small operations a second: the cost of a commit is shared by every operation in it.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection

from c360.store.db import Database, Writer

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Operations per transaction at most: bounds the work lost to (and redone after) a failed commit.
MAX_BATCH = 256
#: Seconds a batch may wait for the callers of the previous batch to come back (see ``GroupCommitter._take``).
LINGER = 0.001


@dataclass(slots=True)
class _Pending:
    work: Callable[[Connection], Any]
    future: Future[Any]


class GroupCommitter:
    """Runs ``work(conn)`` callables from any thread in shared write transactions of ``store``."""

    def __init__(self, store: Database, *, max_batch: int = MAX_BATCH, linger: float = LINGER) -> None:
        self.store = store
        self.max_batch = max_batch
        self.linger = linger
        # Callers waiting when the last batch committed: its own plus those queued behind it.
        self._in_flight = 0
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self.batches = 0
        self.operations = 0

    def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in the next batch and return its result once the batch is committed (or raise what it
        raised, with nothing of it kept; or what the commit raised)."""
        return self.submit(work).result()

    def submit(self, work: Callable[[Connection], T]) -> Future[T]:
        """``run`` without waiting: the future is resolved once the batch is committed (an event loop awaits it
        with ``asyncio.wrap_future`` and holds no thread meanwhile)."""
        if threading.current_thread() is self._writer:
            # Called from inside a batch (an operation that runs another): it would wait for itself.
            raise RuntimeError("GroupCommitter.run called from its own writer thread")
        future: Future[T] = Future()
        with self._cond:
            self._queue.append(_Pending(work, future))
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._loop, name="c360-group-commit", daemon=True)
                self._writer.start()
            if len(self._queue) == 1 or len(self._queue) >= self._in_flight:
                self._cond.notify()
        return future

    def _take(self) -> list[_Pending]:
        with self._cond:
            while not self._queue:
                # An idle writer ends; the next operation starts another. No thread outlives its work for long.
                if not self._cond.wait(timeout=5.0) and not self._queue:
                    self._writer = None
                    return []
            # Closed-loop callers answered by the last commit send their next operation at once; without a
            # moment's wait for them, batches settle into halves of the callers that take turns, and every
            # commit (an fsync) is shared by half as many operations. Like PostgreSQL's commit_delay, the wait
            # is short and happens only while more callers were in flight than are queued.
            if len(self._queue) < self._in_flight:
                deadline = time.monotonic() + self.linger
                while len(self._queue) < self._in_flight and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(timeout=left)
            batch: list[_Pending] = []
            while self._queue and len(batch) < self.max_batch:
                batch.append(self._queue.popleft())
            return batch

    def _loop(self) -> None:
        batch = self._take()
        while batch:
            # One connection for the writer's life (it ends after a few idle seconds); after a batch that failed
            # to commit, the next one takes a fresh connection.
            try:
                with self.store.writer(savepoints=True) as writer:
                    while batch and self._commit(writer, batch):
                        batch = self._take()
            except BaseException as exc:  # no connection to be had (the batch hears why), or none to give back
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
            if batch:  # answered already: the next one starts afresh
                batch = self._take()

    def _commit(self, writer: Writer, batch: list[_Pending]) -> bool:
        """Run and commit ``batch``, answering its callers; False when the commit failed (each caller was given the
        error)."""
        outcomes: list[tuple[bool, Any]] = []
        try:
            with writer.transaction() as conn:
                # Savepoints straight on the DBAPI connection: SQLAlchemy's cost ~100 µs a pair, more than a
                # small ledger operation's own statements; the operations' statements still run through ``conn``.
                driver = conn.connection.driver_connection
                assert driver is not None
                for pending in batch:
                    driver.execute("SAVEPOINT c360_operation")
                    try:
                        result = pending.work(conn)
                    except BaseException as exc:  # the caller hears of it, whatever it is
                        driver.execute("ROLLBACK TO SAVEPOINT c360_operation")
                        driver.execute("RELEASE SAVEPOINT c360_operation")
                        outcomes.append((False, exc))
                    else:
                        driver.execute("RELEASE SAVEPOINT c360_operation")
                        outcomes.append((True, result))
        except BaseException as exc:  # the commit failed: nothing of the batch is kept
            for pending in batch:
                pending.future.set_exception(exc)
            return False
        self.batches += 1
        self.operations += len(batch)
        with self._cond:
            self._in_flight = len(batch) + len(self._queue)
        for pending, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                pending.future.set_result(value)
            else:
                pending.future.set_exception(value)
        return True


_COMMITTERS: weakref.WeakKeyDictionary[Database, GroupCommitter] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def committer_for(store: Database) -> GroupCommitter:
    """The store's committer: one per store, so that every caller in the process shares its batches."""
    with _LOCK:
        found = _COMMITTERS.get(store)
        if found is None:
            found = _COMMITTERS[store] = GroupCommitter(store)
        return found
