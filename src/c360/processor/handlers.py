"""The handler interface and the built-in handlers of the foundation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection

from c360.store.schema import known_users, source_stats
from c360.store.upsert import excluded, greatest, least, upsert

if TYPE_CHECKING:
    from c360.processor.processor import ProcessedEvent


class Handler(Protocol):
    """Applies one event to the operational store, inside the processor's transaction (never commits)."""

    name: str

    def handle(self, conn: Connection, event: ProcessedEvent) -> None: ...


class SourceStatsHandler:
    """Counts events per source and type, with the first and last event time (shown by `c360 status`)."""

    name = "source_stats"

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        at = event.timestamp
        upsert(
            conn,
            source_stats,
            {"source": event.source, "type": event.type, "event_count": 1, "first_event_at": at, "last_event_at": at},
            key=("source", "type"),
            on_conflict={
                "event_count": source_stats.c.event_count + 1,
                "first_event_at": least(conn, source_stats.c.first_event_at, excluded(source_stats, "first_event_at")),
                "last_event_at": greatest(conn, source_stats.c.last_event_at, excluded(source_stats, "last_event_at")),
            },
        )


class KnownUsersHandler:
    """Remembers every userId with its first and last event time (the seed of Identity's profiles)."""

    name = "known_users"

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        user_id = event.message.get("userId")
        if not user_id:
            return
        at = event.timestamp
        upsert(
            conn,
            known_users,
            {"user_id": str(user_id), "event_count": 1, "first_seen_at": at, "last_seen_at": at},
            key=("user_id",),
            on_conflict={
                "event_count": known_users.c.event_count + 1,
                "first_seen_at": least(conn, known_users.c.first_seen_at, excluded(known_users, "first_seen_at")),
                "last_seen_at": greatest(conn, known_users.c.last_seen_at, excluded(known_users, "last_seen_at")),
            },
        )
