"""Back-pressure: the real queue in front of the log, driven past its configured depth.

The app runs in-process behind a real uvicorn server in a thread, with its log's durable write held on an event, so
requests really pile up in the log's queue. Past ``log_queue_depth`` a request gets 429 with ``Retry-After`` and
``{"code", "message"}``; nothing of it is queued or stored; the queue never holds more than the depth (memory is
bounded by the setting, not by the load); once the write is released the queued requests are answered 200 and
the server accepts again. No sleeps: the test waits on events that the held write and the log's ``submit`` set.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.api import create_app
from c360.eventlog import EventLog, LogRecord
from c360.services.keys import add_source
from c360.services.rejects import iter_rejects
from c360.settings import load_settings
from c360.workspace import Workspace
from tests.tracking.server_proc import basic
from tests.tracking.server_thread import ThreadedServer

pytestmark = pytest.mark.timeout(120)

DEPTH = 50
SIZE = 10  # events per request: DEPTH / SIZE requests fit in the queue
WAIT = 30  # seconds: a safety net on every wait, never a synchronisation


def batch(prefix: str, size: int = SIZE, *, bad: int = 0) -> dict[str, Any]:
    """A batch of ``size`` valid track events (messageIds ``prefix-i``) and ``bad`` ones without any id."""
    good = [
        {"type": "track", "event": "Product Viewed", "userId": f"u{i}", "messageId": f"{prefix}-{i}"}
        for i in range(size)
    ]
    return {"batch": good + [{"type": "track", "event": "No One"} for _ in range(bad)]}


@dataclass
class HeldLog:
    """The app's log with its durable write held until ``release``, and every ``submit`` observed."""

    log: EventLog
    entered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    cond: threading.Condition = field(default_factory=threading.Condition)
    submits: int = 0
    refused: int = 0
    most_queued: int = 0

    def __post_init__(self) -> None:
        real_write, real_submit, real_check = self.log._write, self.log.submit, self.log.check_room

        def held_write(records: list[LogRecord]) -> tuple[int, list[bool]]:
            self.entered.set()
            assert self.released.wait(WAIT)
            return real_write(records)

        def observed_submit(records: Sequence[LogRecord]) -> Any:
            try:
                return real_submit(records)
            except Exception:
                with self.cond:
                    self.refused += 1
                raise
            finally:
                with self.cond:
                    self.submits += 1
                    self.most_queued = max(self.most_queued, self.log.queued_events)
                    self.cond.notify_all()

        def observed_check(count: int) -> None:
            # The collector asks for room before it prepares a request: a refusal there is a refused submit.
            try:
                real_check(count)
            except Exception:
                with self.cond:
                    self.refused += 1
                    self.submits += 1
                    self.cond.notify_all()
                raise

        self.log._write = held_write  # type: ignore[method-assign]
        self.log.submit = observed_submit  # type: ignore[method-assign]
        self.log.check_room = observed_check  # type: ignore[method-assign]

    def wait_for_submits(self, count: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.submits >= count, timeout=WAIT), self.submits

    def release(self) -> None:
        self.released.set()


@dataclass
class Served:
    path: Path
    key: str
    held: HeldLog
    base: str

    def stored(self) -> Counter[str]:
        return Counter(e.message_id for e in self.held.log.read(0, 100_000))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    path = tmp_path / "ws"
    with Workspace.init(path, log_queue_depth=DEPTH) as ws:
        key = add_source(ws.store, "web")
    app = create_app(load_settings(workspace=path), background=False)
    held = HeldLog(app.state.collector.ws.log)
    with ThreadedServer(app) as server:
        try:
            yield Served(path, key, held, server.base)
        finally:
            held.release()  # before the server stops: its shutdown waits for the requests in the held write


class Sender:
    """Posts ``body`` from its own thread; ``status``/``answer``/``headers`` once it is answered, and then
    ``answered`` (shared by a group of senders) is notified."""

    def __init__(self, served: Served, body: dict[str, Any], *, answered: threading.Condition | None = None) -> None:
        self.status: int | None = None
        self.answer: dict[str, Any] = {}
        self.headers: httpx.Headers = httpx.Headers()
        self.answered = answered or threading.Condition()

        def send() -> None:
            with httpx.Client(base_url=served.base, headers=basic(served.key), timeout=WAIT * 2) as http:
                response = http.post("/v1/batch", json=body)
            with self.answered:
                self.status, self.answer, self.headers = response.status_code, response.json(), response.headers
                self.answered.notify_all()

        self.thread = threading.Thread(target=send)
        self.thread.start()

    def join(self) -> Sender:
        self.thread.join(WAIT * 2)
        assert not self.thread.is_alive()
        return self


def test_past_the_depth_a_request_gets_429_and_nothing_of_it_is_kept(served: Served) -> None:
    held, log = served.held, served.held.log
    first = Sender(served, batch("q0"))
    assert held.entered.wait(WAIT)  # the writer took the first request and is held inside the durable write
    queued = [first, *(Sender(served, batch(f"q{i}")) for i in range(1, DEPTH // SIZE))]
    held.wait_for_submits(DEPTH // SIZE)
    assert held.refused == 0
    assert log.queued_events == DEPTH  # the held write's events count until they are durable

    with httpx.Client(base_url=served.base, headers=basic(served.key), timeout=WAIT) as http:
        refused = http.post("/v1/batch", json=batch("refused"))
        one = {"userId": "u", "event": "One More", "messageId": "refused-single"}
        single = http.post("/v1/track", json=one)
    for response in (refused, single):
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert response.json()["code"] == "overloaded"
        assert str(DEPTH) in response.json()["message"]
    assert log.queued_events == DEPTH  # nothing of the refused requests was queued ...
    assert held.most_queued <= DEPTH
    assert all(sender.status is None for sender in queued)  # ... and nothing queued was answered: not durable

    held.release()
    for sender in queued:
        assert (sender.join().status, sender.answer["accepted"]) == (200, SIZE)
    stored = served.stored()
    assert stored == Counter(f"q{r}-{i}" for r in range(DEPTH // SIZE) for i in range(SIZE))
    assert not [mid for mid in stored if mid.startswith("refused")]  # ... nor stored
    assert log.queued_events == 0

    # Accepting again: the refused request, resent as an SDK does after Retry-After, is stored once.
    with httpx.Client(base_url=served.base, headers=basic(served.key), timeout=WAIT) as http:
        again = http.post("/v1/batch", json=batch("refused"))
    assert (again.status_code, again.json()["accepted"], again.json()["duplicates"]) == (200, SIZE, 0)
    assert sum(1 for mid in served.stored() if mid.startswith("refused-")) == SIZE


def test_a_flood_is_refused_past_the_depth_and_then_retried_to_exactly_once(served: Served) -> None:
    """Many more concurrent requests than the queue takes: the queue stays within its depth whatever the load;
    everyone refused retries after the release, and every event is stored exactly once."""
    held, log = served.held, served.held.log
    answered = threading.Condition()
    senders = [Sender(served, batch(f"f{r}"), answered=answered) for r in range(40)]
    held.wait_for_submits(len(senders))  # every request has reached the queue: taken or refused
    fits = DEPTH // SIZE
    assert held.refused == len(senders) - fits
    assert log.queued_events == DEPTH
    with answered:  # the refused ones are answered at once; the others wait for the held write
        assert answered.wait_for(lambda: sum(s.status is not None for s in senders) == held.refused, timeout=WAIT)
    refused = [s for s in senders if s.status is not None]
    assert {s.status for s in refused} == {429}
    assert {s.headers["Retry-After"] for s in refused} == {"1"}
    assert held.most_queued <= DEPTH

    held.release()
    waiting = [s for s in senders if s not in refused]
    assert [s.join().status for s in waiting] == [200] * fits
    # Everyone refused retries, as an SDK does after Retry-After: all taken now, each event once.
    with httpx.Client(base_url=served.base, headers=basic(served.key), timeout=WAIT) as http:
        retries = [http.post("/v1/batch", json=batch(f"f{senders.index(s)}")) for s in refused]
    assert [(r.status_code, r.json()["duplicates"]) for r in retries] == [(200, 0)] * len(refused)
    stored = served.stored()
    assert set(stored.values()) == {1}
    assert len(stored) == len(senders) * SIZE
    assert held.most_queued <= DEPTH
    assert log.queued_events == 0


def test_a_refused_request_stores_none_of_its_rejects(served: Served) -> None:
    """A 429 means "send it all again": so its bad events must not be stored as rejects either, or every retry
    of the batch adds them once more."""
    held = served.held
    queued = [Sender(served, batch(f"q{i}")) for i in range(DEPTH // SIZE)]
    held.wait_for_submits(len(queued))
    with httpx.Client(base_url=served.base, headers=basic(served.key), timeout=WAIT) as http:
        refused = http.post("/v1/batch", json=batch("refused", bad=1))
    assert refused.status_code == 429
    held.release()
    for sender in queued:
        sender.join()
    with Workspace.open(load_settings(workspace=served.path)) as ws:
        rejects = list(iter_rejects(ws.store, source="web"))
    assert rejects == [], f"a refused request left {len(rejects)} reject(s): {[r['reason'] for r in rejects]}"
    with httpx.Client(base_url=served.base, headers=basic(served.key), timeout=WAIT) as http:
        answer = http.post("/v1/batch", json=batch("refused", bad=1)).json()
    assert (answer["accepted"], answer["rejected"]) == (SIZE, 1)
    with Workspace.open(load_settings(workspace=served.path)) as ws:
        assert len(list(iter_rejects(ws.store, source="web"))) == 1
