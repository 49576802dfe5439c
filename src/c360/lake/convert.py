"""Log rows and Segment messages to Arrow tables of the lake's schema (EVENT_SCHEMA)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa

from c360.domain.money import to_minor
from c360.domain.timestamps import parse_timestamp, to_micros
from c360.eventlog.log import LoggedEvent
from c360.lake.schema import EVENT_SCHEMA

# Events whose `total` is an order's amount (Segment E-commerce v2).
ORDER_EVENTS = frozenset({"Order Completed", "Order Refunded", "Order Cancelled", "Order Updated"})


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value).decode()


def order_fields(message: Mapping[str, Any], default_currency: str) -> tuple[str | None, int | None, str | None]:
    if message.get("type") != "track" or message.get("event") not in ORDER_EVENTS:
        return None, None, None
    props = message.get("properties") or {}
    if not isinstance(props, dict):
        return None, None, None
    currency = str(props.get("currency") or default_currency).upper()
    amount = None
    for key in ("total", "revenue", "value"):
        if props.get(key) is not None:
            try:
                amount = to_minor(props[key], currency)
            except ValueError:
                amount = None  # kept in `properties`; the typed column stays empty rather than wrong
            break
    return _text(props.get("order_id")), amount, currency


def _traits(message: Mapping[str, Any]) -> Any:
    traits = message.get("traits")
    if traits is None:
        context = message.get("context")
        if isinstance(context, dict):
            traits = context.get("traits")  # where the RudderStack SDK puts identify traits
    return traits


def rows_to_table(
    rows: Iterable[tuple[int, str, int, int, Mapping[str, Any]]], *, default_currency: str = "VND"
) -> pa.Table:
    """(seq, source, timestamp_us, received_us, message) tuples as a table of EVENT_SCHEMA."""
    cols: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA.names}
    for seq, source, timestamp_us, received_us, message in rows:
        order_id, amount, currency = order_fields(message, default_currency)
        cols["seq"].append(seq)
        cols["message_id"].append(str(message.get("messageId")))
        cols["source"].append(source)
        cols["type"].append(message.get("type"))
        cols["event"].append(_text(message.get("event")))
        cols["name"].append(_text(message.get("name")))
        cols["user_id"].append(_text(message.get("userId")))
        cols["anonymous_id"].append(_text(message.get("anonymousId")))
        cols["group_id"].append(_text(message.get("groupId")))
        cols["previous_id"].append(_text(message.get("previousId")))
        cols["timestamp"].append(timestamp_us)
        cols["received_at"].append(received_us)
        cols["order_id"].append(order_id)
        cols["amount_minor"].append(amount)
        cols["currency"].append(currency)
        cols["properties"].append(_json(message.get("properties")))
        cols["traits"].append(_json(_traits(message)))
        cols["context"].append(_json(message.get("context")))
    return pa.table(cols, schema=EVENT_SCHEMA)


def logged_to_table(events: Sequence[LoggedEvent], *, default_currency: str = "VND") -> pa.Table:
    return rows_to_table(
        ((e.seq, e.source, e.timestamp_us, e.received_us, orjson.loads(e.body)) for e in events),
        default_currency=default_currency,
    )


def messages_to_table(
    messages: Sequence[Mapping[str, Any]],
    *,
    first_seq: int,
    source: str,
    received_at: dt.datetime,
    default_currency: str = "VND",
) -> pa.Table:
    """Messages that carry a ``timestamp`` (as the log stores them) as lake rows with consecutive seqs."""
    received_us = to_micros(received_at)
    return rows_to_table(
        (
            (first_seq + i, source, to_micros(parse_timestamp(m["timestamp"])), received_us, m)
            for i, m in enumerate(messages)
        ),
        default_currency=default_currency,
    )
