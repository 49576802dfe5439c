"""Segment messages to lake rows: typed order columns, JSON columns, RudderStack's context.traits."""

import datetime as dt

import orjson
import pyarrow as pa

from c360.lake.convert import messages_to_table
from c360.lake.schema import EVENT_SCHEMA

RECEIVED = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def convert(*messages: dict) -> list[dict]:  # type: ignore[type-arg]
    table = messages_to_table(list(messages), first_seq=10, source="web", received_at=RECEIVED)
    assert table.schema.equals(EVENT_SCHEMA)
    return table.to_pylist()


def order(**properties: object) -> dict:  # type: ignore[type-arg]
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "messageId": "m1",
        "timestamp": "2026-02-17T03:04:05.123Z",
        "properties": properties,
    }


def test_order_amount_in_minor_units_with_currency() -> None:
    [row] = convert(order(order_id="o-1", total=1_250_000, currency="VND"))
    assert (row["order_id"], row["amount_minor"], row["currency"]) == ("o-1", 1_250_000, "VND")
    [row] = convert(order(order_id=77, total="19.99", currency="usd"))
    assert (row["order_id"], row["amount_minor"], row["currency"]) == ("77", 1999, "USD")


def test_order_without_currency_takes_the_default_and_revenue_when_no_total() -> None:
    [row] = convert(order(order_id="o-2", revenue=500_000))
    assert (row["amount_minor"], row["currency"]) == (500_000, "VND")


def test_unreadable_amount_leaves_the_typed_column_empty_but_keeps_properties() -> None:
    [row] = convert(order(order_id="o-3", total="lots"))
    assert row["amount_minor"] is None
    assert orjson.loads(row["properties"])["total"] == "lots"


def test_non_order_events_have_no_order_columns() -> None:
    [row] = convert(
        {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": "a",
            "messageId": "m",
            "timestamp": "2026-02-17T00:00:00Z",
            "properties": {"total": 5, "order_id": "x"},
        }
    )
    assert (row["order_id"], row["amount_minor"], row["currency"]) == (None, None, None)


def test_seq_source_times_and_ids() -> None:
    rows = convert(
        order(total=1),
        {
            "type": "page",
            "anonymousId": "a9",
            "messageId": "m2",
            "name": "Trang chủ",
            "timestamp": "2026-02-17T00:00:00+07:00",
        },
    )
    assert [r["seq"] for r in rows] == [10, 11]
    assert rows[1]["name"] == "Trang chủ"
    assert rows[1]["timestamp"] == dt.datetime(2026, 2, 16, 17, tzinfo=dt.UTC)
    assert rows[0]["timestamp"] == dt.datetime(2026, 2, 17, 3, 4, 5, 123000, tzinfo=dt.UTC)
    assert all(r["received_at"] == RECEIVED and r["source"] == "web" for r in rows)
    assert (rows[1]["user_id"], rows[1]["anonymous_id"]) == (None, "a9")


def test_traits_from_context_when_absent_at_top_level() -> None:
    rudder = {
        "type": "identify",
        "userId": "u",
        "messageId": "m",
        "timestamp": "2026-01-01T00:00:00Z",
        "context": {"traits": {"email": "an@vi.vn", "name": "Nguyễn Văn An"}},
    }
    [row] = convert(rudder)
    assert orjson.loads(row["traits"]) == {"email": "an@vi.vn", "name": "Nguyễn Văn An"}


def test_empty_input_gives_an_empty_table_of_the_schema() -> None:
    table = messages_to_table([], first_seq=1, source="web", received_at=RECEIVED)
    assert table.num_rows == 0
    assert table.schema.equals(EVENT_SCHEMA)
    assert isinstance(table, pa.Table)
