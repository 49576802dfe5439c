"""Column types shared by the store and the event log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database.

    SQLite has no zone-aware type, so values go in as UTC and come back aware; a naive value is refused rather
    than guessed, because a wrong guess would shift every calendar rule by the workspace's offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where a zone-aware UTC time is needed")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def sqlite_text(value: dt.datetime) -> str:
    """What SQLAlchemy's SQLite DATETIME stores for the zone-aware ``value``: its UTC time as
    ``2026-01-01 00:00:00.000000``, text that sorts and compares as the instants do."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
