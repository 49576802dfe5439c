"""Timestamps: parsed to timezone-aware UTC; a value without a zone is read in a given zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_timestamp(value: object, *, naive_zone: dt.tzinfo | ZoneInfo = dt.UTC) -> dt.datetime:
    """``value`` (ISO 8601 text, or a datetime) as an aware UTC datetime. Raises ValueError naming the value."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    else:
        raise ValueError(f"{value!r} is not a timestamp")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_zone)
    return parsed.astimezone(dt.UTC)


def to_micros(value: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact: no float on the way)."""
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


def format_utc(value: dt.datetime) -> str:
    """ISO 8601 with a ``Z``, millisecond precision as the Segment spec writes it."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
