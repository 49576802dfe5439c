"""The handler interface and the built-in handlers of the foundation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection

from c360.store.schema import known_users, source_stats
from c360.store.upsert import excluded, greatest, least, upsert

if TYPE_CHECKING:
    from c360.processor.processor import ProcessedEvent


class Handler(Protocol):
    """Applies events to the operational store, inside the processor's transaction (never commits).

    ``handle`` takes one event. A handler may also define ``handle_batch(conn, events)``, which the processor
    then calls with a whole batch instead: set-based writes cost a fraction of per-event ones.
    """

    name: str

    def handle(self, conn: Connection, event: ProcessedEvent) -> None: ...


class _Tally:
    __slots__ = ("count", "first", "last")

    def __init__(self, at: dt.datetime) -> None:
        self.count, self.first, self.last = 0, at, at

    def add(self, at: dt.datetime) -> None:
        self.count += 1
        self.first = min(self.first, at)
        self.last = max(self.last, at)


class SourceStatsHandler:
    """Counts events per source and type, with the first and last event time (shown by `c360 status`)."""

    name = "source_stats"

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        self.handle_batch(conn, [event])

    def handle_batch(self, conn: Connection, events: Sequence[ProcessedEvent]) -> None:
        tallies: dict[tuple[str, str], _Tally] = {}
        for event in events:
            at = event.timestamp
            tallies.setdefault((event.source, event.type), _Tally(at)).add(at)
        rows = [
            {"source": source, "type": kind, "event_count": t.count, "first_event_at": t.first, "last_event_at": t.last}
            for (source, kind), t in tallies.items()
        ]
        upsert(
            conn,
            source_stats,
            rows,
            key=("source", "type"),
            on_conflict={
                "event_count": source_stats.c.event_count + excluded(source_stats, "event_count"),
                "first_event_at": least(conn, source_stats.c.first_event_at, excluded(source_stats, "first_event_at")),
                "last_event_at": greatest(conn, source_stats.c.last_event_at, excluded(source_stats, "last_event_at")),
            },
        )


class KnownUsersHandler:
    """Remembers every userId with its first and last event time (the seed of Identity's profiles)."""

    name = "known_users"

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        self.handle_batch(conn, [event])

    def handle_batch(self, conn: Connection, events: Sequence[ProcessedEvent]) -> None:
        tallies: dict[str, _Tally] = {}
        for event in events:
            user_id = event.message.get("userId")
            if user_id:
                at = event.timestamp
                tallies.setdefault(str(user_id), _Tally(at)).add(at)
        rows = [
            {"user_id": user_id, "event_count": t.count, "first_seen_at": t.first, "last_seen_at": t.last}
            for user_id, t in tallies.items()
        ]
        upsert(
            conn,
            known_users,
            rows,
            key=("user_id",),
            on_conflict={
                "event_count": known_users.c.event_count + excluded(known_users, "event_count"),
                "first_seen_at": least(conn, known_users.c.first_seen_at, excluded(known_users, "first_seen_at")),
                "last_seen_at": greatest(conn, known_users.c.last_seen_at, excluded(known_users, "last_seen_at")),
            },
        )
