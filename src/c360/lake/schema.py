"""The columns of the event lake, shared by the compactor, the engines and the batch jobs.

Every event in the lake is one row. Columns that batch jobs read often are typed (the order amount in minor
units, the currency); everything else of the Segment message stays as JSON text so nothing is lost.
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

EVENT_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),  # position in the event log: unique, gap-free per log
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # the source's name
        pa.field("type", pa.string(), nullable=False),  # identify, track, page, screen, group, alias
        pa.field("event", pa.string()),  # track: the event name
        pa.field("name", pa.string()),  # page / screen: the name
        pa.field("user_id", pa.string()),
        pa.field("anonymous_id", pa.string()),
        pa.field("group_id", pa.string()),
        pa.field("previous_id", pa.string()),
        pa.field("timestamp", UTC_TS, nullable=False),  # skew-corrected event time
        pa.field("received_at", UTC_TS, nullable=False),
        pa.field("order_id", pa.string()),  # Order Completed / Order Refunded
        pa.field("amount_minor", pa.int64()),  # order total in the currency's minor units (VND: none)
        pa.field("currency", pa.string()),  # ISO 4217
        pa.field("properties", pa.string()),  # JSON text
        pa.field("traits", pa.string()),  # JSON text
        pa.field("context", pa.string()),  # JSON text
    ]
)

EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)
