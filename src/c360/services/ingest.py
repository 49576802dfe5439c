"""Appending accepted messages to the event log: the one path that the tracking API, the importer and the demo
loader share."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson

from c360.domain.messages import MessageError, accept
from c360.domain.timestamps import format_utc, parse_timestamp, to_micros
from c360.eventlog import EventLog, LogRecord


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


def _new_id() -> str:
    return str(uuid.uuid4())


def to_record(
    message: Mapping[str, Any],
    *,
    source: str,
    received_at: dt.datetime,
    enrich: Callable[[dict[str, Any]], None] | None = None,
    received_text: str | None = None,
) -> LogRecord:
    """An accepted message as a log record; MessageError when it cannot be accepted.

    ``enrich`` may fill the accepted copy (never the caller's message) before it is serialised.
    ``received_text`` is ``format_utc(received_at)``, computed once by callers that convert many messages.
    """
    accepted, timestamp = accept(
        message,  # type: ignore[arg-type]
        received_at=received_at,
        new_id=_new_id,
        received_text=received_text,
    )
    if enrich is not None:
        enrich(accepted)
    return LogRecord(
        source=source,
        message_id=accepted["messageId"],
        type=accepted["type"],
        timestamp_us=to_micros(timestamp),
        received_us=to_micros(received_at),
        body=orjson.dumps(accepted),
    )


def _chunks(items: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _sent_at(message: Mapping[str, Any]) -> dt.datetime | None:
    for key in ("sentAt", "timestamp"):
        value = message.get(key)
        if isinstance(value, str):
            try:
                return parse_timestamp(value)
            except ValueError:
                return None
    return None


def append_messages(
    log: EventLog,
    messages: Iterable[Mapping[str, Any]],
    *,
    source: str,
    received_at: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    chunk_size: int = 5_000,
    progress: Callable[[int], None] | None = None,
    replay: bool = False,
) -> IngestResult:
    """Append ``messages`` durably, in chunks; bad ones are counted with their reason, never appended.

    ``replay``: the messages are history (a demo, a migration from another CDP), each received when it was
    sent — its ``sentAt``, else its ``timestamp`` — instead of now, so their times stay where they were.
    """
    result = IngestResult()
    for chunk in _chunks(messages, chunk_size):
        now = received_at()
        now_text = format_utc(now)
        records = []
        for message in chunk:
            try:
                if replay:
                    sent = _sent_at(message) or now
                    records.append(to_record(message, source=source, received_at=sent))
                    continue
                records.append(to_record(message, source=source, received_at=now, received_text=now_text))
            except MessageError as exc:
                result.rejected += 1
                if len(result.errors) < 10:
                    result.errors.append(str(exc))
        log.append(records)
        result.accepted += len(records)
        if progress:
            progress(len(chunk))
    return result
