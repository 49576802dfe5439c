"""One processor reads the log in seq order and applies each event through registered handlers.

Exactly once: a batch's handler effects and the processor's checkpoint commit in one transaction of the
operational store, so after a crash the batch is either wholly applied (and the checkpoint says so) or not at
all. A handler that fails on one event does not stop the stream: that event is retried alone and, if it still
fails, recorded in ``processor_dead_letters`` with the error, and the checkpoint moves past it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, text, update

from c360._crashpoints import crashpoint
from c360.domain.timestamps import from_micros
from c360.errors import StoreBusy
from c360.eventlog import EventLog, LoggedEvent
from c360.store import Store
from c360.store.schema import processor_checkpoints, processor_dead_letters
from c360.store.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessedEvent:
    """An event as handlers see it: the log row with its message decoded once."""

    raw: LoggedEvent

    @property
    def seq(self) -> int:
        return self.raw.seq

    @property
    def source(self) -> str:
        return self.raw.source

    @property
    def type(self) -> str:
        return self.raw.type

    @property
    def timestamp(self) -> dt.datetime:
        return from_micros(self.raw.timestamp_us)

    @cached_property
    def message(self) -> dict[str, Any]:
        decoded: dict[str, Any] = orjson.loads(self.raw.body)
        return decoded


class EventProcessor:
    def __init__(
        self,
        log: EventLog,
        store: Store,
        handlers: Sequence[Any],
        *,
        name: str = "main",
        batch_size: int = 1_000,
    ) -> None:
        self.log = log
        self.store = store
        self.handlers = list(handlers)
        self._per_event = [h for h in self.handlers if not hasattr(h, "handle_batch")]
        self.name = name
        self.batch_size = batch_size

    def checkpoint(self) -> int:
        with self.store.read() as conn:
            return self.checkpoint_in(conn)

    def checkpoint_in(self, conn: Connection) -> int:
        """The checkpoint as ``conn``'s transaction sees it (so it agrees with what the handlers wrote there)."""
        query = select(processor_checkpoints.c.seq).where(processor_checkpoints.c.name == self.name)
        value = conn.execute(query).scalar_one_or_none()
        return int(value or 0)

    def lag(self) -> int:
        """Events in the log that the processor has not applied yet."""
        return max(self.log.max_seq() - self.checkpoint(), 0)

    def run_once(self) -> int:
        """Apply the next batch; returns how many events it applied (0 when caught up)."""
        batch = self.log.read(self.checkpoint(), self.batch_size)
        if not batch:
            return 0
        events = [ProcessedEvent(raw) for raw in batch]
        try:
            with self.store.write() as conn:
                self._guard_checkpoint(conn, batch[0].seq)
                for handler in self.handlers:
                    handle_batch = getattr(handler, "handle_batch", None)
                    if handle_batch is not None:
                        handle_batch(conn, events)
                        crashpoint("processor.after_handler")
                for event in events:
                    for handler in self._per_event:
                        handler.handle(conn, event)
                        crashpoint("processor.after_handler")
                crashpoint("processor.before_checkpoint")
                self._save_checkpoint(conn, batch[-1].seq)
                crashpoint("processor.before_commit")
        except _StaleBatch:
            return 0
        except StoreBusy:
            raise  # nothing wrong with the events: the whole batch again, later
        except Exception:
            log.exception("batch %s..%s failed; applying its events one by one", batch[0].seq, batch[-1].seq)
            for event in events:
                self._apply_alone(event)
        crashpoint("processor.after_commit")
        return len(batch)

    def run_until_idle(self, progress: Callable[[int], None] | None = None) -> int:
        total = 0
        while applied := self.run_once():
            total += applied
            if progress:
                progress(applied)
        return total

    def _apply_alone(self, event: ProcessedEvent) -> None:
        current = "?"
        try:
            with self.store.write() as conn:
                self._guard_checkpoint(conn, event.seq)
                for handler in self.handlers:
                    current = handler.name
                    handler.handle(conn, event)
                self._save_checkpoint(conn, event.seq)
            return
        except _StaleBatch:
            return
        except StoreBusy:
            raise  # not the event's fault: no dead letter for it
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        try:
            with self.store.write() as conn:
                self._guard_checkpoint(conn, event.seq)
                conn.execute(
                    insert(processor_dead_letters).values(
                        processor=self.name,
                        seq=event.seq,
                        message_id=event.raw.message_id,
                        handler=current,
                        error=error,
                        at=utcnow(),
                    )
                )
                self._save_checkpoint(conn, event.seq)
        except _StaleBatch:
            return  # another instance dead-lettered or applied it meanwhile

    def _guard_checkpoint(self, conn: Connection, first_seq: int) -> None:
        # Another processor instance may have applied this batch since we read the checkpoint: never twice.
        if conn.dialect.name == "postgresql":
            # Instances of one processor take turns, as SQLite's write lock makes them do: without it a plain read
            # of the checkpoint lets another instance commit the same batch while this transaction runs.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"c360.processor:{self.name}"})
        if self.checkpoint_in(conn) >= first_seq:
            raise _StaleBatch

    def _save_checkpoint(self, conn: Connection, seq: int) -> None:
        now = utcnow()
        updated = conn.execute(
            update(processor_checkpoints)
            .where(processor_checkpoints.c.name == self.name)
            .values(seq=seq, updated_at=now)
        ).rowcount
        if not updated:
            conn.execute(insert(processor_checkpoints).values(name=self.name, seq=seq, updated_at=now))


class _StaleBatch(Exception):
    pass
