import datetime as dt
import itertools

import pytest

from c360.domain.messages import MessageError, accept_message

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def accept(message: dict) -> dict:  # type: ignore[type-arg]
    counter = itertools.count(1)
    return accept_message(message, received_at=NOW, new_id=lambda: f"generated-{next(counter)}")


def test_fills_message_id_and_received_at() -> None:
    out = accept({"type": "track", "event": "Product Viewed", "anonymousId": "a1"})
    assert out["messageId"] == "generated-1"
    assert out["receivedAt"] == "2026-03-01T12:00:00.000Z"
    assert out["timestamp"] == "2026-03-01T12:00:00.000Z"  # no client time: the server's


def test_keeps_client_message_id() -> None:
    assert accept({"type": "page", "userId": "u1", "messageId": "m-1"})["messageId"] == "m-1"


def test_corrects_clock_skew() -> None:
    # The client's clock is 1 hour fast: it says it sent at 13:00:05 an event that happened 5 s earlier.
    out = accept(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "timestamp": "2026-03-01T13:00:00Z",
            "sentAt": "2026-03-01T13:00:05Z",
        }
    )
    assert out["timestamp"] == "2026-03-01T11:59:55.000Z"
    assert out["originalTimestamp"] == "2026-03-01T13:00:00Z"


def test_numeric_user_id_becomes_text() -> None:
    assert accept({"type": "identify", "userId": 42})["userId"] == "42"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "track", "event": "x"}, "userId"),
        ({"type": "track", "event": "x", "userId": None, "anonymousId": None}, "userId"),
        ({"type": "track", "userId": "u"}, "event"),
        ({"type": "track", "userId": "u", "event": "  "}, "event"),
        ({"type": "shout", "userId": "u"}, "type"),
        ({"userId": "u"}, "type"),
        ({"type": "alias", "userId": "u"}, "previousId"),
        ({"type": "group", "userId": "u"}, "groupId"),
        ({"type": "page", "userId": {"a": 1}}, "userId"),
        ({"type": "page", "userId": True}, "userId"),
        ({"type": "page", "userId": "u", "timestamp": "not a time"}, "timestamp"),
        ({"type": "page", "userId": "u", "timestamp": "2026-01-01T00:00:00Z", "sentAt": "soon"}, "sentAt"),
    ],
)
def test_rejections_name_the_field(message: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(MessageError) as caught:
        accept(message)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_not_an_object() -> None:
    with pytest.raises(MessageError, match="JSON object"):
        accept_message(["x"], received_at=NOW, new_id=str)  # type: ignore[arg-type]
