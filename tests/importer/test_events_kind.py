"""Kind ``events``: rows that already are Segment messages, from JSON Lines or a table with Segment's names."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.importer.conftest import Importer

MAPPING = {"source": "legacy", "kind": "events"}


def _jsonl(importer: Importer, name: str, messages: list[object]) -> Path:
    path = importer.folder / name
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages))
    return path


def test_json_lines_of_messages(importer: Importer) -> None:
    messages = [
        {"type": "track", "event": "Product Viewed", "userId": "u1", "messageId": "m1",
         "timestamp": "2026-03-01T08:30:00Z", "sentAt": "2026-03-01T08:30:05Z", "properties": {"sku": "A"}},
        {"type": "identify", "anonymousId": "a1", "timestamp": "2026-03-01 08:30:00", "traits": {"email": "x@y.vn"}},
        {"type": "track", "userId": "u2", "timestamp": "2026-03-01T08:30:00Z"},  # no event name
        {"type": "page", "timestamp": "2026-03-01T08:30:00Z"},  # no id
        {"type": "page", "userId": "u3", "name": "Home"},  # no timestamp: the export time
    ]  # fmt: skip
    path = _jsonl(importer, "history.jsonl", messages)
    result = importer.run(path, MAPPING)
    assert (result.rows, result.accepted, result.rejected) == (5, 3, 2)
    viewed, identified, page = importer.events("legacy")
    assert viewed["messageId"] == "m1"
    assert viewed["timestamp"] == "2026-03-01T08:30:00.000Z"  # sentAt dropped: no skew correction of history
    assert "sentAt" not in viewed
    assert viewed["context"]["import"] == {"file": "history.jsonl", "line": 1}
    assert identified["timestamp"] == "2026-03-01T01:30:00.000Z"  # no zone: the workspace's
    assert identified["messageId"].startswith("imp-")
    assert page["timestamp"] == "2026-11-01T08:00:00.000Z"
    rejects = {r["line"]: r for r in importer.rejects()}
    assert (rejects[3]["field"], rejects[4]["field"]) == ("event", "userId")
    assert orjson.loads(rejects[3]["payload"])["userId"] == "u2"

    again = importer.run(path, MAPPING)
    assert (again.accepted, again.duplicates) == (0, 3)


def test_a_table_of_messages(importer: Importer) -> None:
    path = importer.write(
        "events.csv",
        "type,event,userId,anonymousId,timestamp,properties.total,properties,context.ip\n"
        'track,Order Completed,u1,,2026-03-01 10:00,"125000","{""currency"": ""VND"", ""order_id"": ""A1""}",1.2.3.4\n'
        "identify,,,a9,2026-03-01 11:00,,,\n"
        'track,Oops,u2,,2026-03-01 12:00,,"{not json",\n',
    )
    result = importer.run(path, MAPPING)
    assert (result.accepted, result.rejected) == (2, 1)
    order, identify = importer.events("legacy")
    assert order["properties"] == {"total": "125000", "currency": "VND", "order_id": "A1"}
    assert order["context"]["ip"] == "1.2.3.4"
    assert order["timestamp"] == "2026-03-01T03:00:00.000Z"
    assert identify["anonymousId"] == "a9"
    assert identify["userId"] is None
    (reject,) = importer.rejects()
    assert (reject["line"], reject["field"]) == (4, "properties")


def test_a_parquet_file_of_messages_keeps_its_types(importer: Importer) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "type": ["track"],
            "event": ["Order Completed"],
            "userId": ["u1"],
            "timestamp": pa.array([dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)], pa.timestamp("ms", "UTC")),
            "properties.total": pa.array([125000], pa.int64()),
        }
    )
    path = importer.folder / "events.parquet"
    pq.write_table(table, path)
    assert importer.run(path, MAPPING).accepted == 1
    (event,) = importer.events()
    assert event["properties"] == {"total": 125000}
    assert event["timestamp"] == "2026-03-01T03:00:00.000Z"


def test_json_lines_in_utf16(importer: Importer) -> None:
    path = importer.folder / "events.jsonl"
    text = '{"type": "identify", "userId": "u1", "traits": {"name": "Nguyễn Thị Ánh"}, "timestamp": "2026-03-01"}\n'
    path.write_bytes(text.encode("utf-16"))
    assert importer.run(path, MAPPING).accepted == 1
    assert importer.events()[0]["traits"]["name"] == "Nguyễn Thị Ánh"
