"""Segment-shaped messages: the checks and server-side fields every accepted message gets before the log.

The Collection layer adds the full validation and enrichment; this is the part every path (tracking API,
importer, demo loader) shares, so that the log only ever holds messages that the processor and the lake can read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from c360.domain.timestamps import format_utc, parse_timestamp

MESSAGE_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})


class MessageError(ValueError):
    """A message that cannot be accepted; ``field`` names the part that is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _optional_id(message: dict[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageError(key, f"must be a string, got {type(value).__name__}")
    return str(value)


def accept_message(message: dict[str, Any], *, received_at: dt.datetime, new_id: Callable[[], str]) -> dict[str, Any]:
    """The message as the log stores it, or MessageError (see ``accept``)."""
    return accept(message, received_at=received_at, new_id=new_id)[0]


def accept(
    message: dict[str, Any],
    *,
    received_at: dt.datetime,
    new_id: Callable[[], str],
    received_text: str | None = None,
) -> tuple[dict[str, Any], dt.datetime]:
    """The message as the log stores it and its event time (as stored: millisecond precision), or MessageError.

    Sets ``receivedAt``, fills a missing ``messageId`` and corrects the client's clock skew:
    ``timestamp = receivedAt - (sentAt - timestamp)``; the client's own value is kept as ``originalTimestamp``.
    ``received_text`` is ``received_at`` already formatted, for callers that accept many messages at once.
    """
    if not isinstance(message, dict):
        raise MessageError("message", "must be a JSON object")
    kind = message.get("type")
    if kind not in MESSAGE_TYPES:
        raise MessageError("type", f"must be one of {', '.join(sorted(MESSAGE_TYPES))}, got {kind!r}")
    user_id = _optional_id(message, "userId")
    anonymous_id = _optional_id(message, "anonymousId")
    if user_id is None and anonymous_id is None:
        raise MessageError("userId", "a message needs a userId or an anonymousId")
    if kind == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            raise MessageError("event", "a track message needs an event name")
    if kind == "alias" and _optional_id(message, "previousId") is None:
        raise MessageError("previousId", "an alias message needs a previousId")
    if kind == "group" and _optional_id(message, "groupId") is None:
        raise MessageError("groupId", "a group message needs a groupId")

    out = dict(message)
    out["userId"] = user_id
    out["anonymousId"] = anonymous_id
    message_id = _optional_id(message, "messageId")
    out["messageId"] = message_id if message_id is not None else new_id()
    out["receivedAt"] = received_text or format_utc(received_at)
    timestamp = received_at
    if message.get("timestamp") is not None:
        try:
            client_time = parse_timestamp(message["timestamp"])
        except ValueError as exc:
            raise MessageError("timestamp", str(exc)) from None
        out["originalTimestamp"] = message["timestamp"]
        timestamp = client_time
        if message.get("sentAt") is not None:
            try:
                sent_at = parse_timestamp(message["sentAt"])
            except ValueError as exc:
                raise MessageError("sentAt", str(exc)) from None
            timestamp = received_at - (sent_at - client_time)
    # Stored at millisecond precision, as Segment writes it: the log's and the lake's time must be that one.
    timestamp = timestamp.replace(microsecond=timestamp.microsecond // 1000 * 1000)
    out["timestamp"] = format_utc(timestamp)
    return out, timestamp
