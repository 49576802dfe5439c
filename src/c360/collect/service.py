"""The tracking API's use case: authenticate a write key, turn a request's messages into log records and
rejects, append the records durably, and answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from c360._crashpoints import crashpoint
from c360.collect.enrich import enrich
from c360.domain.messages import MessageError
from c360.domain.timestamps import format_utc
from c360.eventlog import LogRecord
from c360.services.ingest import to_record
from c360.services.keys import source_for_write_key
from c360.services.rejects import Reject, record_rejects
from c360.workspace import Workspace

MAX_ERRORS_IN_ANSWER = 5


@dataclass
class TrackingAnswer:
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "success": True,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "errors": self.errors,
        }


class Collector:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.max_event_bytes = ws.settings.max_event_bytes
        self._keys: dict[str, tuple[str, float]] = {}
        self._key_ttl = ws.settings.write_key_cache_seconds

    def source_for(self, write_key: str | None) -> str:
        """The source of an active write key (AuthError otherwise), cached for ``write_key_cache_seconds``."""
        now = time.monotonic()
        if write_key and (hit := self._keys.get(write_key)) and now - hit[1] < self._key_ttl:
            return hit[0]
        source = source_for_write_key(self.ws.store, write_key)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[write_key or ""] = (source, now)
        return source

    def prepare(
        self, messages: list[Any], *, source: str, received_at: dt.datetime, client_ip: str | None
    ) -> tuple[list[LogRecord], list[Reject]]:
        """Each message becomes a record or a reject; one bad message never stops the others."""
        records: list[LogRecord] = []
        rejects: list[Reject] = []

        def add_context(message: dict[str, Any]) -> None:
            enrich(message, client_ip=client_ip)

        received_text = format_utc(received_at)
        for index, message in enumerate(messages):
            try:
                record = to_record(
                    message, source=source, received_at=received_at, enrich=add_context, received_text=received_text
                )
                if len(record.body) > self.max_event_bytes and self._size(message) > self.max_event_bytes:
                    raise MessageError("event", f"is over the limit of {self.max_event_bytes} bytes")
            except MessageError as exc:
                rejects.append(
                    Reject(
                        source=source,
                        origin="api",
                        reason=f"batch[{index}].{exc}" if len(messages) > 1 else str(exc),
                        field=exc.field,
                        payload=self._payload(message),
                    )
                )
                continue
            records.append(record)
        return records, rejects

    @staticmethod
    def _size(message: Any) -> int:
        # The limit is on what the client sent; our own additions (receivedAt, parsed user agent) don't count.
        return len(orjson.dumps(message))

    @staticmethod
    def _payload(message: Any) -> str | None:
        try:
            return orjson.dumps(message).decode()
        except TypeError:
            return repr(message)

    async def ingest(self, messages: list[Any], *, source: str, client_ip: str | None) -> TrackingAnswer:
        """Append the request's good messages durably (the answer waits for the fsync) and store its rejects."""
        # Refuse before the work when the queue is already full: under overload the CPU is better spent on
        # the requests that will be taken.
        self.ws.log.check_room(len(messages))
        received_at = dt.datetime.now(dt.UTC)
        records, rejects = self.prepare(messages, source=source, received_at=received_at, client_ip=client_ip)
        answer = TrackingAnswer(rejected=len(rejects), errors=[r.reason for r in rejects[:MAX_ERRORS_IN_ANSWER]])
        pending = None
        if records:
            crashpoint("api.before_append")
            # Queued first: a request refused with 429 (the SDK resends all of it) must leave no rejects behind.
            pending = asyncio.wrap_future(self.ws.log.submit(records))
        if rejects:
            await asyncio.to_thread(record_rejects, self.ws.store, rejects, received_at=received_at)
        if pending is not None:
            result = await pending
            answer.accepted = result.count + result.duplicates
            answer.duplicates = result.duplicates
        return answer
