"""The tracking API in-process: auth, whole-request errors, per-event rejects, dedupe, durability before 200."""

from __future__ import annotations

import base64
import gzip
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from c360.eventlog import LogRecord
from c360.services.keys import add_source, revoke_write_key
from c360.services.rejects import iter_rejects
from c360.workspace import Workspace
from tests.api.conftest import TestClient, client_for


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    return workspace


@pytest.fixture
def key(ws: Workspace) -> str:
    return add_source(ws.store, "web")


@pytest.fixture
def client(ws: Workspace, key: str) -> Iterator[TestClient]:
    with client_for(ws.path, max_event_bytes=2_000, max_request_bytes=50_000, max_batch_events=20) as c:
        yield c


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def stored(ws: Workspace) -> list[dict[str, Any]]:
    return [orjson.loads(e.body) for e in ws.log.read(0, 10_000)]


def track(i: int, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Product Viewed", "userId": f"u{i}", "messageId": f"m{i}", **extra}


# --- auth ------------------------------------------------------------------------------------------------------
def test_basic_auth_and_write_key_in_body_both_work(client: TestClient, key: str, ws: Workspace) -> None:
    assert client.post("/v1/track", json=track(1), headers=basic(key)).json()["accepted"] == 1
    assert client.post("/v1/track", json={**track(2), "writeKey": key}).json()["accepted"] == 1
    assert [m["messageId"] for m in stored(ws)] == ["m1", "m2"]
    assert all("writeKey" not in m for m in stored(ws))


@pytest.mark.parametrize(
    "headers",
    [{}, basic("wk_unknown"), {"Authorization": "Bearer x"}, {"Authorization": "Basic !!!notbase64"}],
)
def test_missing_or_unknown_key_is_401(client: TestClient, ws: Workspace, headers: dict[str, str]) -> None:
    response = client.post("/v1/batch", json={"batch": [track(1)]}, headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert stored(ws) == []


def test_revoked_key_stops_working_after_the_cache(ws: Workspace, key: str) -> None:
    with client_for(ws.path, write_key_cache_seconds=0) as client:
        assert client.post("/v1/track", json=track(1), headers=basic(key)).status_code == 200
        revoke_write_key(ws.store, "web", key[:10])
        assert client.post("/v1/track", json=track(2), headers=basic(key)).status_code == 401


# --- whole requests that cannot be read: 400 {code, message} ----------------------------------------------------
@pytest.mark.parametrize(
    ("content", "headers", "code"),
    [
        (b"{bad json", {}, "invalid_json"),
        (b"[1, 2]", {}, "invalid_json"),
        (b"not gzip", {"Content-Encoding": "gzip"}, "bad_gzip"),
        (gzip.compress(b"\0" * 10_000_000), {"Content-Encoding": "gzip"}, "request_too_large"),
        (b'{"batch": "nope"}', {}, "not_a_batch"),
        (orjson.dumps({"batch": [track(i) for i in range(21)]}), {}, "batch_too_large"),
        (b'{"batch": []' + b" " * 60_000 + b"}", {}, "request_too_large"),
    ],
)
def test_unreadable_requests(
    client: TestClient, key: str, ws: Workspace, content: bytes, headers: dict[str, str], code: str
) -> None:
    response = client.post("/v1/batch", content=content, headers={**basic(key), **headers})
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert stored(ws) == []


# --- inside a readable batch each event stands alone -----------------------------------------------------------
def test_bad_events_are_rejected_with_reasons_and_the_others_kept(client: TestClient, key: str, ws: Workspace) -> None:
    batch = [
        track(1),
        {"type": "track", "event": "x"},  # no id
        track(3, event=None),  # track without event
        "not an object",
        track(5, properties={"blob": "x" * 3_000}),  # over max_event_bytes=2000
        {"type": "identify", "anonymousId": "a6", "messageId": "m6", "traits": {"name": "Lê Thị Hồng"}},
        track(7, timestamp="tomorrow-ish"),
    ]
    answer = client.post("/v1/batch", json={"batch": batch}, headers=basic(key)).json()
    assert (answer["success"], answer["accepted"], answer["rejected"]) == (True, 2, 5)
    assert answer["errors"][0] == "batch[1].userId: a message needs a userId or an anonymousId"
    assert [m["messageId"] for m in stored(ws)] == ["m1", "m6"]
    rejects = list(iter_rejects(ws.store, source="web"))
    assert [(r["origin"], r["field"]) for r in rejects] == [
        ("api", "userId"),
        ("api", "event"),
        ("api", "message"),
        ("api", "event"),
        ("api", "timestamp"),
    ]
    assert "over the limit of 2000 bytes" in rejects[3]["reason"]
    assert orjson.loads(rejects[1]["payload"])["messageId"] == "m3"


def test_single_endpoints_take_their_type(client: TestClient, key: str, ws: Workspace) -> None:
    sent = {
        "identify": {"userId": "u", "traits": {"email": "a@b.vn"}},
        "page": {"anonymousId": "a", "name": "Trang chủ"},
        "screen": {"anonymousId": "a", "name": "Home"},
        "group": {"userId": "u", "groupId": "g1"},
        "alias": {"userId": "u", "previousId": "a"},
        "track": {"userId": "u", "event": "Signed Up"},
    }
    for endpoint, body in sent.items():
        response = client.post(f"/v1/{endpoint}", json={**body, "type": "bogus"}, headers=basic(key))
        assert response.json()["accepted"] == 1, (endpoint, response.json())
    assert [m["type"] for m in stored(ws)] == list(sent)


def test_import_endpoint_is_a_batch(client: TestClient, key: str, ws: Workspace) -> None:
    body = {"batch": [track(1), track(2)], "context": {"library": {"name": "importer"}}}
    assert client.post("/v1/import", json=body, headers=basic(key)).json()["accepted"] == 2
    assert all(m["context"]["library"] == {"name": "importer"} for m in stored(ws))


def test_retries_are_acknowledged_and_stored_once(client: TestClient, key: str, ws: Workspace) -> None:
    body = gzip.compress(orjson.dumps({"batch": [track(i) for i in range(10)]}))
    headers = {**basic(key), "Content-Encoding": "gzip", "Content-Type": "application/json"}
    first = client.post("/v1/batch", content=body, headers=headers).json()
    again = client.post("/v1/batch", content=body, headers=headers).json()
    assert (first["accepted"], first["duplicates"]) == (10, 0)
    assert (again["accepted"], again["duplicates"]) == (10, 10)
    assert len(stored(ws)) == 10


def test_server_fields_and_enrichment(client: TestClient, key: str, ws: Workspace) -> None:
    message = track(
        1,
        timestamp="2026-03-01T10:00:00Z",
        sentAt="2026-03-01T10:00:00Z",
        context={"direct": True, "page": {"url": "https://shop.vn/?utm_source=fb&utm_campaign=sale"}},
    )
    client.post("/v1/track", json=message, headers=basic(key))
    [saved] = stored(ws)
    assert saved["receivedAt"] == saved["timestamp"]  # sent the moment it happened: server time
    assert saved["originalTimestamp"] == "2026-03-01T10:00:00Z"
    assert saved["context"]["ip"] == "testclient"
    assert saved["context"]["campaign"] == {"source": "fb", "name": "sale"}


# --- durable before acknowledged -------------------------------------------------------------------------------
def test_no_answer_before_the_durable_write_returns(ws: Workspace, key: str) -> None:
    with client_for(ws.path) as client:
        log = client.app.state.collector.ws.log  # type: ignore[attr-defined]
        real_write = log._write
        entered, release = threading.Event(), threading.Event()

        def held(records: list[LogRecord]) -> tuple[int, list[bool]]:
            entered.set()
            assert release.wait(30)
            return real_write(records)

        log._write = held
        answers: list[int] = []
        sender = threading.Thread(
            target=lambda: answers.append(client.post("/v1/track", json=track(1), headers=basic(key)).status_code)
        )
        sender.start()
        assert entered.wait(30)
        sender.join(0.2)  # the request is inside the durable write: it must not have been answered
        assert answers == []
        assert sender.is_alive()
        release.set()
        sender.join(30)
        assert answers == [200]
        assert log.count() == 1
