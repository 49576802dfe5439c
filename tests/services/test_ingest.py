"""The shared append path: accepted messages reach the log durably, rejected ones are counted with reasons."""

import datetime as dt
from pathlib import Path

import orjson

from c360.eventlog import EventLog
from c360.services.ingest import append_messages, to_record

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def test_append_messages_keeps_good_and_counts_bad(tmp_path: Path) -> None:
    log = EventLog.open(f"sqlite:///{tmp_path / 'log.db'}")
    messages = [{"type": "track", "event": "Product Viewed", "anonymousId": f"a{i}"} for i in range(12)]
    messages[3] = {"type": "track", "anonymousId": "a3"}  # no event name
    messages[7] = {"type": "page"}  # no id at all
    result = append_messages(log, messages, source="web", received_at=lambda: NOW, chunk_size=5)
    assert (result.accepted, result.rejected) == (10, 2)
    assert result.errors == [
        "event: a track message needs an event name",
        "userId: a message needs a userId or an anonymousId",
    ]
    stored = log.read(0, 100)
    assert [orjson.loads(e.body)["anonymousId"] for e in stored] == [f"a{i}" for i in range(12) if i not in (3, 7)]
    assert all(e.source == "web" and e.received_us == stored[0].received_us for e in stored)
    log.close()


def test_record_carries_corrected_time_and_body() -> None:
    record = to_record(
        {
            "type": "identify",
            "userId": "u1",
            "messageId": "m1",
            "timestamp": "2026-03-01T11:00:00Z",
            "sentAt": "2026-03-01T11:00:00Z",
            "traits": {"name": "Trần Thị Bích"},
        },
        source="crm",
        received_at=NOW,
    )
    assert (record.source, record.message_id, record.type) == ("crm", "m1", "identify")
    body = orjson.loads(record.body)
    assert body["timestamp"] == "2026-03-01T12:00:00.000Z"  # sent the moment it happened: the server's clock wins
    assert body["traits"]["name"] == "Trần Thị Bích"
    assert record.timestamp_us == record.received_us


def test_replay_receives_each_message_when_it_was_sent(tmp_path: Path) -> None:
    """History (the demo's events) keeps its times: receivedAt is the message's sentAt, not now, so the skew
    correction leaves the timestamp where the client put it."""
    log = EventLog.open(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        sent = {
            "type": "track",
            "event": "Order Completed",
            "anonymousId": "a1",
            "timestamp": "2025-01-02T03:04:05.000Z",
            "sentAt": "2025-01-02T03:04:05.250Z",
        }
        unsent = {"type": "track", "event": "x", "anonymousId": "a2", "timestamp": "2024-05-06T07:08:09.000Z"}
        result = append_messages(log, [sent, unsent], source="web", received_at=lambda: NOW, replay=True)
        assert result.accepted == 2
        records = log.read(0, 10)
        first, second = (orjson.loads(r.body) for r in records)
        assert first["timestamp"] == "2025-01-02T03:04:05.000Z"
        assert first["receivedAt"] == "2025-01-02T03:04:05.250Z"
        assert second["receivedAt"] == "2024-05-06T07:08:09.000Z"
    finally:
        log.close()
