"""The event log with group commit.

Appenders hand their records to one writer thread and wait on a future. The writer takes everything queued (up
to ``max_batch`` events), writes it in one transaction and commits it durably — one fsync for all of them — and
only then resolves the futures. So no caller is ever told "accepted" before its events are on disk, and many
concurrent callers share one fsync.

Ordering: appends are serialised (SQLite's write lock; a transaction-scoped advisory lock on PostgreSQL), so rows
commit in ``seq`` order and a reader that asks for ``seq > n`` never skips a row that commits later.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from c360._crashpoints import crashpoint
from c360.errors import Overloaded
from c360.eventlog.schema import events, log_metadata, log_state, message_ids
from c360.eventlog.seen import SeenIndex, digest
from c360.store.db import Database, open_database
from c360.store.prepared import Prepared

# The statements of every append, built once (c360.store.prepared): building and compiling them took a quarter of
# the log writer's time, as much as inserting the events.
_OLDEST_SEQ = Prepared(select(func.min(events.c.seq)))
_NEWEST_SEQ = Prepared(select(func.max(events.c.seq)))
_HIGH_WATER = Prepared(select(log_state.c.high_water).where(log_state.c.id == 1))
_SET_HIGH_WATER = Prepared(update(log_state).where(log_state.c.id == 1).values(high_water=bindparam("b_high")))
_APPENDED_SINCE = Prepared(
    select(events.c.seq, events.c.source, events.c.message_id, events.c.received_us)
    .where(events.c.seq > bindparam("b_after"))
    .order_by(events.c.seq)
)

# Any fixed key: it only has to be the same for every appender of this database.
_PG_APPEND_LOCK = 0x0C360


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One accepted message, ready for the log: ``body`` is its JSON as stored."""

    source: str
    message_id: str
    type: str
    timestamp_us: int
    received_us: int
    body: bytes


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    seq: int
    source: str
    message_id: str
    type: str
    timestamp_us: int
    received_us: int
    body: bytes


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The seqs given to one append's new records: ``first_seq`` to ``last_seq`` inclusive (none when count is
    0); ``duplicates`` counts the records dropped because their (source, messageId) was already in the log."""

    first_seq: int
    last_seq: int
    count: int
    duplicates: int = 0


@dataclass(slots=True)
class _Pending:
    records: Sequence[LogRecord]
    future: Future[AppendResult]


class EventLog:
    def __init__(self, db: Database, *, max_batch: int = 20_000, queue_depth: int = 100_000) -> None:
        self.db = db
        self.max_batch = max_batch
        self.queue_depth = queue_depth
        self._queue: deque[_Pending] = deque()
        self._queued_events = 0
        self._cond = threading.Condition()
        self._closing = False
        self._writer: threading.Thread | None = None
        self._compiled_inserts: dict[str, tuple[str, bool]] = {}
        self._seen = SeenIndex()
        self._seen_through: int | None = None  # the highest seq whose messageId is in _seen; None: not loaded
        log_metadata.create_all(db.engine)
        with db.write() as conn:
            if conn.execute(select(log_state.c.id)).first() is None:
                conn.execute(insert(log_state).values(id=1, high_water=0))

    @classmethod
    def open(cls, url: str, *, max_batch: int = 20_000, queue_depth: int = 100_000) -> EventLog:
        return cls(Database(open_database(url, what="event log")), max_batch=max_batch, queue_depth=queue_depth)

    # --- appending -------------------------------------------------------------------------------------------
    def submit(self, records: Sequence[LogRecord]) -> Future[AppendResult]:
        """Queue ``records`` for the next durable write; the future resolves once they are committed.

        Raises Overloaded, without queueing anything, when the queue is over its depth.
        """
        future: Future[AppendResult] = Future()
        if not records:
            future.set_result(AppendResult(0, -1, 0))
            return future
        with self._cond:
            if self._closing:
                raise RuntimeError("the event log is closed")
            self._refuse_if_full(len(records))
            self._queue.append(_Pending(records, future))
            self._queued_events += len(records)
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="c360-log-writer", daemon=True)
                self._writer.start()
            self._cond.notify()
        return future

    def check_room(self, count: int) -> None:
        """Overloaded now if ``count`` more events would not be taken (an early, advisory check)."""
        with self._cond:
            self._refuse_if_full(count)

    def _refuse_if_full(self, count: int) -> None:
        # An empty queue takes any append, however large: a batch bigger than the depth must not wait forever.
        if self._queued_events and self._queued_events + count > self.queue_depth:
            raise Overloaded(
                f"the event log's queue holds {self._queued_events} events (depth {self.queue_depth})",
                retry_after_seconds=1,
            )

    def append(self, records: Sequence[LogRecord]) -> AppendResult:
        """Append and wait until the records are durable."""
        return self.submit(records).result()

    @property
    def queued_events(self) -> int:
        return self._queued_events

    def _take_batch(self) -> list[_Pending] | None:
        with self._cond:
            while not self._queue and not self._closing:
                self._cond.wait()
            if not self._queue:
                return None
            batch = [self._queue.popleft()]
            size = len(batch[0].records)
            while self._queue and size + len(self._queue[0].records) <= self.max_batch:
                pending = self._queue.popleft()
                batch.append(pending)
                size += len(pending.records)
            return batch

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            records = [record for pending in batch for record in pending.records]
            try:
                last_seq, fresh = self._write(records)
            except BaseException as exc:  # every waiter must hear of the failure, whatever it is
                self._dequeued(len(records))
                for pending in batch:
                    pending.future.set_exception(exc)
            else:
                crashpoint("log.after_commit")
                # Off the queue's count before anyone is told: a caller that appends again at once must not be
                # refused as overload because of its own events, which are already durable.
                self._dequeued(len(records))
                # The fresh records of the whole batch got consecutive seqs in order, so each caller's fresh
                # records hold a consecutive range of them.
                first = last_seq - sum(fresh) + 1
                position = 0
                for pending in batch:
                    size = len(pending.records)
                    count = sum(fresh[position : position + size])
                    position += size
                    pending.future.set_result(AppendResult(first, first + count - 1, count, size - count))
                    first += count

    def _dequeued(self, count: int) -> None:
        with self._cond:
            self._queued_events -= count

    def _write(self, records: list[LogRecord]) -> tuple[int, list[bool]]:
        """One transaction, one durable commit. Returns the last seq and, per record, whether it was new."""
        crashpoint("log.before_write")
        with self.db.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_APPEND_LOCK})
            last = self._catch_up(conn)
            keys = [digest(r.source, r.message_id) for r in records]
            fresh = self._fresh(keys)
            new = [r for r, is_new in zip(records, fresh, strict=True) if is_new]
            if new:
                # Straight to the driver's executemany: this is the hot path of every accepted event, and
                # SQLAlchemy's per-row parameter processing would cost as much as the insert itself.
                self._insert_rows(
                    conn, events, [(r.source, r.message_id, r.type, r.timestamp_us, r.received_us, r.body) for r in new]
                )
                last = int(_NEWEST_SEQ.scalar(conn) or 0)
                _SET_HIGH_WATER.execute(conn, {"b_high": last})
            crashpoint("log.before_commit")
        # Committed: only now may these ids count as taken.
        with self._seen.lock:
            for record, key, is_new in zip(records, keys, fresh, strict=True):
                if is_new:
                    self._seen.add(key, record.received_us)
        self._seen_through = last
        return last, fresh

    def _catch_up(self, conn: Connection) -> int:
        """Bring the in-memory index up to the log, under the append lock; returns the log's high-water seq.

        The first time, from the archive of pruned ids and every row still in the log; after that, from the rows
        other processes appended since this one's last write (none when it is the only writer).
        """
        oldest = _OLDEST_SEQ.scalar(conn)
        stored = _HIGH_WATER.scalar(conn)
        if stored is None:
            raise RuntimeError("the event log's state row is missing: was the log created by `c360 init`?")
        high_water = int(stored)
        # Rows we have not seen may have been appended and pruned by other processes meanwhile: then their ids
        # are only in the archive (a gap in seqs on PostgreSQL looks the same and costs only a reload).
        unseen_pruned = self._seen_through is not None and (
            (oldest is None and high_water > self._seen_through)
            or (oldest is not None and oldest > self._seen_through + 1)
        )
        if self._seen_through is None or unseen_pruned:
            archive = select(message_ids.c.source, message_ids.c.message_id, message_ids.c.received_us)
            with self._seen.lock:
                for source, message_id, received_us in conn.execute(archive):
                    self._seen.add(digest(source, message_id), received_us)
            self._seen_through = self._seen_through or 0
        rows = _APPENDED_SINCE.rows(conn, {"b_after": self._seen_through})
        with self._seen.lock:
            for seq, source, message_id, received_us in rows:
                self._seen.add(digest(source, message_id), received_us)
                self._seen_through = seq
        return high_water

    def _fresh(self, keys: list[bytes]) -> list[bool]:
        """Per record: not taken before (within the dedupe window) and not earlier in this batch."""
        fresh = []
        in_batch: set[bytes] = set()
        with self._seen.lock:
            for key in keys:
                is_new = key not in in_batch and key not in self._seen
                fresh.append(is_new)
                in_batch.add(key)
        return fresh

    def _insert_rows(self, conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
        sql, positional = self._insert_sql(conn, table)
        names = [column.name for column in table.columns if column.name != "seq"]
        conn.exec_driver_sql(sql, rows if positional else [dict(zip(names, row, strict=True)) for row in rows])

    def _insert_sql(self, conn: Connection, table: Table) -> tuple[str, bool]:
        """The driver-level INSERT of ``table``'s columns (all but ``seq``) in this database's parameter style."""
        if table.name not in self._compiled_inserts:
            names = [column.name for column in table.columns if column.name != "seq"]
            compiled = insert(table).values({name: bindparam(name) for name in names}).compile(dialect=conn.dialect)
            if compiled.positional and list(compiled.positiontup or ()) != names:
                raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
            self._compiled_inserts[table.name] = (str(compiled), bool(compiled.positional))
        return self._compiled_inserts[table.name]

    def forget_message_ids(self, received_before_us: int) -> int:
        """End the dedupe window: forget the archived messageIds received before ``received_before_us``.

        Ids of events still in the log stay known until they are pruned and then forgotten: the window is a
        lower bound.
        """
        with self._seen.lock:
            self._seen.forget_before(received_before_us)
        with self.db.write() as conn:
            return conn.execute(delete(message_ids).where(message_ids.c.received_us < received_before_us)).rowcount

    def close(self) -> None:
        """Finish every queued write, then stop the writer and release the database."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join()
        self.db.close()

    # --- reading ---------------------------------------------------------------------------------------------
    def read(self, after_seq: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` events with ``seq > after_seq``, in seq order."""
        query = select(events).where(events.c.seq > after_seq).order_by(events.c.seq).limit(limit)
        with self.db.read() as conn:
            return [LoggedEvent(*row) for row in conn.execute(query)]

    def max_seq(self) -> int:
        """The highest seq ever committed (pruning does not lower it)."""
        with self.db.read() as conn:
            return int(conn.execute(select(log_state.c.high_water).where(log_state.c.id == 1)).scalar_one())

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())

    def prune(self, upto_seq: int) -> int:
        """Delete events with ``seq <= upto_seq`` (callers pass what is both in the lake and processed).

        Their messageIds move to the ``message_ids`` archive in the same transaction, so the dedupe window
        outlives the rows: this bulk, off-the-append-path insert is where the index's random writes are paid.
        """
        with self.db.write() as conn:
            dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
            archived = (
                dialect.insert(message_ids)
                .from_select(
                    ["message_id", "source", "received_us"],
                    select(events.c.message_id, events.c.source, events.c.received_us).where(events.c.seq <= upto_seq),
                )
                .on_conflict_do_nothing()
            )
            conn.execute(archived)
            return conn.execute(delete(events).where(events.c.seq <= upto_seq)).rowcount
