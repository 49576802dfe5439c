"""Kind ``events``: rows that already are Segment messages (JSON Lines of messages, or a table with Segment's
column names), each checked by ``services.ingest.to_record`` on its own.

Historical data keeps its own time: ``sentAt`` is dropped (the clock-skew correction would move every event to
the moment of the import), a ``timestamp`` without a zone is read in the mapping's zone, and a message without
one gets the export time. A message without a ``messageId`` gets one hashed from its content, so importing the
file again adds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa

from c360.domain.messages import MessageError
from c360.eventlog import LogRecord
from c360.importer.identity import message_id
from c360.importer.readers import RawBatch
from c360.services.ingest import to_record

#: Columns of a table that hold JSON objects, written as JSON text in CSV cells.
_OBJECT_COLUMNS = frozenset({"properties", "traits", "context", "integrations"})


@dataclass(frozen=True, slots=True)
class RowError:
    index: int  # the row within its batch
    field: str
    reason: str


def _messages(batch: RawBatch) -> Iterator[dict[str, Any] | RowError]:
    if batch.objects is not None:
        yield from batch.objects
        return
    rows = _json_ready(batch.table).to_pylist()
    for index, row in enumerate(rows):
        message: dict[str, Any] = {}
        try:
            # Whole objects first (a `properties` column), then the dotted columns that add to them.
            for name, value in sorted(row.items(), key=lambda item: "." in item[0]):
                if value is None or value == "":
                    continue
                if name in _OBJECT_COLUMNS and isinstance(value, str):
                    try:
                        value = orjson.loads(value)
                    except orjson.JSONDecodeError:
                        raise MessageError(name, "must hold a JSON object") from None
                _put(message, name.split("."), value)
        except MessageError as exc:
            yield RowError(index, exc.field, exc.reason)
        else:
            yield message


def _json_ready(table: pa.Table) -> pa.Table:
    """Parquet columns whose Python values JSON cannot hold (timestamps, dates, decimals, bytes) as text."""
    from c360.importer.columns import as_text

    for index, column in enumerate(table.schema):
        kind = column.type
        if pa.types.is_temporal(kind) or pa.types.is_decimal(kind) or pa.types.is_binary(kind):
            table = table.set_column(index, column.name, as_text(table.column(index).combine_chunks()))
    return table


def _put(message: dict[str, Any], path: list[str], value: Any) -> None:
    """``message[a][b] = value`` for a column named ``a.b``."""
    target = message
    for part in path[:-1]:
        nested = target.setdefault(part, {})
        if not isinstance(nested, dict):
            raise MessageError(".".join(path), f"{part!r} is both a value and an object")
        target = nested
    target[path[-1]] = value


def _timestamp(value: Any, zone: ZoneInfo) -> Any:
    """An ISO text without a zone made explicit in ``zone``; anything else as it is (to_record judges it)."""
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=zone).isoformat()
    return value


def event_records(
    batch: RawBatch,
    *,
    source: str,
    file_name: str,
    zone: ZoneInfo,
    exported_at: dt.datetime,
    received_at: dt.datetime,
) -> tuple[list[LogRecord], list[RowError]]:
    records: list[LogRecord] = []
    errors: list[RowError] = []
    lines = batch.lines.to_pylist()
    exported = exported_at.isoformat()
    for index, item in enumerate(_messages(batch)):
        if isinstance(item, RowError):
            errors.append(item)
            continue
        message = dict(item)
        message.pop("sentAt", None)
        message["timestamp"] = _timestamp(message["timestamp"], zone) if "timestamp" in message else exported
        if not message.get("messageId"):
            try:
                content = orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
            except TypeError as exc:
                errors.append(RowError(index, "message", f"not JSON: {exc}"))
                continue
            message["messageId"] = message_id(source, "events", "", content)
        context = message.get("context")
        if context is None or isinstance(context, dict):
            message["context"] = {**(context or {}), "import": {"file": file_name, "line": lines[index]}}
        try:
            records.append(to_record(message, source=source, received_at=received_at))
        except MessageError as exc:
            errors.append(RowError(index, exc.field, exc.reason))
    return records, errors
