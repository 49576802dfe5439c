"""Crash tests of the tracking API's request path: a real `c360 serve` child is killed with SIGKILL while client
threads send it batches with unique messageIds — at every named crash point of the request path (``api.*``) and of
the log's durable write (``log.*``, also at their N-th hit), and at seeded-random moments under load (the parent
kills it after a seeded-random number of 200 answers).

Each client records the batches answered 200. After every kill the parent reopens the workspace's log and checks:
every acknowledged messageId is stored exactly once, no messageId is stored twice, each request is all or nothing,
and seqs have no holes. Then the server is started again on the same workspace and the clients resend every batch
that was not acknowledged (as an SDK would) plus some that were (retries): every messageId is then stored exactly
once, and each answer's ``duplicates`` says which batches were already in.

No sleeps: the parent blocks on a condition that the clients signal with each 200, or on the dying process.
"""

from __future__ import annotations

import gzip
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from c360.workspace import Workspace
from tests.crashkit.run import crash_point_specs, seeded
from tests.tracking.server_proc import ServeProcess, basic, logged_events, new_source

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

SOURCE = "load"
THREADS = 4
SIZE = 20  # events per batch
BATCHES_PER_THREAD = 8  # of a crash-point run
ROUND_BATCHES = 24  # new batches of each round of the random kills
RANDOM_KILLS = 20
RETRIES = 4  # acknowledged batches resent after a restart, as an SDK whose answer was lost would
CRASH_POINTS = crash_point_specs(
    {
        "api.after_read": (1, 6),
        "api.before_append": (1, 6),
        "api.before_answer": (1, 6),
        "log.before_write": (1, 3),
        "log.before_commit": (1, 3),
        "log.after_commit": (1, 3),
    }
)


@dataclass(frozen=True)
class Batch:
    id: str
    message_ids: tuple[str, ...]
    body: bytes
    headers: dict[str, str]


def make_batches(prefix: str, count: int, rng: random.Random) -> list[Batch]:
    """``count`` batches of SIZE valid events with unique messageIds; about half of them gzip."""
    batches = []
    for b in range(count):
        ids = tuple(f"{prefix}-{b}-{i}" for i in range(SIZE))
        messages = [
            {
                "type": "track",
                "event": rng.choice(("Product Viewed", "Product Added", "Order Completed")),
                "userId": f"user-{rng.randrange(50)}",
                "messageId": mid,
                "timestamp": "2026-03-01T08:00:00.000Z",
                "properties": {"sku": f"sku-{rng.randrange(1000)}", "price": rng.randrange(10_000, 2_000_000)},
            }
            for mid in ids
        ]
        body = orjson.dumps({"batch": messages, "sentAt": "2026-03-01T08:00:01.000Z"})
        headers = {"Content-Type": "application/json"}
        if rng.random() < 0.5:
            body, headers["Content-Encoding"] = gzip.compress(body, compresslevel=1), "gzip"
        batches.append(Batch(f"{prefix}-{b}", ids, body, headers))
    return batches


@dataclass
class Load:
    """THREADS clients, each sending its share of ``batches`` in order over one keep-alive connection, until all
    are sent or the server is gone. ``answers`` holds the 200 answers by batch id."""

    base: str
    key: str
    batches: list[Batch]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    done: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        shares = [self.batches[t::THREADS] for t in range(THREADS)]
        self.threads = [threading.Thread(target=self._client, args=(share,)) for share in shares]
        for thread in self.threads:
            thread.start()

    def _client(self, share: list[Batch]) -> None:
        try:
            with httpx.Client(
                base_url=self.base, headers=basic(self.key), timeout=httpx.Timeout(60, connect=5)
            ) as http:
                for batch in share:
                    try:
                        response = http.post("/v1/batch", content=batch.body, headers=batch.headers)
                    except httpx.TransportError:
                        return  # the server is gone: what was not answered stays unacknowledged
                    with self.cond:
                        if response.status_code == 200:
                            self.answers[batch.id] = response.json()
                            self.cond.notify_all()
                        else:
                            self.unexpected.append(f"{batch.id}: {response.status_code} {response.text[:200]}")
        finally:
            with self.cond:
                self.done += 1
                self.cond.notify_all()

    def wait_for_acks(self, count: int) -> None:
        """Until ``count`` batches were answered 200 (or every client has stopped)."""
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.answers) >= count or self.done == THREADS, timeout=120)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a client hung"


@dataclass
class Ledger:
    """Everything the clients sent to one workspace, what was acknowledged, and what the log held last time."""

    workspace: Path
    sent: dict[str, Batch] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)  # batch ids in the log at the last check

    def record(self, load: Load) -> None:
        """Take a finished load's answers; each must count the batch whole, as new or as duplicates."""
        assert load.unexpected == []
        for batch_id, answer in load.answers.items():
            assert (answer["accepted"], answer["rejected"]) == (SIZE, 0), answer
            # All or nothing: a batch that was in the log is a duplicate as a whole, one that was not is new.
            expected = SIZE if batch_id in self.stored else 0
            assert answer["duplicates"] == expected, (batch_id, answer)
            self.acked.add(batch_id)

    def check_log(self) -> None:
        events = logged_events(self.workspace)
        counts = Counter(e.message_id for e in events)
        twice = [mid for mid, n in counts.items() if n > 1]
        assert twice == [], f"messageIds stored twice: {twice[:5]}"
        assert [e.seq for e in events] == list(range(1, len(events) + 1)), "the log's seqs have holes"
        sent_ids = {mid for batch in self.sent.values() for mid in batch.message_ids}
        assert set(counts) <= sent_ids, "the log holds messageIds nobody sent"
        stored = set()
        for batch in self.sent.values():
            found = [mid in counts for mid in batch.message_ids]
            assert all(found) or not any(found), f"request {batch.id} is half in the log: {found}"
            if all(found):
                stored.add(batch.id)
        lost = sorted(self.acked - stored)
        assert lost == [], f"acknowledged but not in the log: {lost[:5]}"
        self.stored = stored

    def resend_work(self, rng: random.Random) -> list[Batch]:
        """Every batch not acknowledged, and a few acknowledged ones again."""
        pending = [batch for batch_id, batch in self.sent.items() if batch_id not in self.acked]
        retried = rng.sample(sorted(self.acked), min(RETRIES, len(self.acked)))
        return pending + [self.sent[batch_id] for batch_id in retried]

    def finish(self, key: str, tmp_path: Path, rng: random.Random) -> None:
        """Restart the server, resend, and check that every messageId sent is now stored exactly once."""
        work = self.resend_work(rng)
        with ServeProcess(self.workspace, tmp_path, label="final").wait_ready() as server:
            load = Load(server.base, key, work)
            load.join()
            assert server.process.poll() is None, server.logs()
            assert sorted(load.answers) == sorted(batch.id for batch in work), load.unexpected
            self.record(load)
            assert server.stop() in (0, -15), server.logs()
        self.check_log()
        assert self.stored == set(self.sent)
        assert self.acked == set(self.sent)
        events = logged_events(self.workspace)
        assert len(events) == SIZE * len(self.sent)


def new_workspace(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "ws"
    Workspace.init(path).close()
    return path, new_source(path, SOURCE)


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_at_a_crash_point_of_the_request_path(tmp_path: Path, crash_at: str) -> None:
    path, key = new_workspace(tmp_path)
    rng = seeded("serve-crash-point", 0)
    ledger = Ledger(path)
    batches = make_batches("a", THREADS * BATCHES_PER_THREAD, rng)
    ledger.sent.update((b.id, b) for b in batches)
    with ServeProcess(path, tmp_path, crash_at=crash_at, label="crashing").wait_ready() as server:
        load = Load(server.base, key, batches)
        load.join()
        if len(load.answers) < len(batches):  # the clients stopped because the server went away: reap it
            server.process.wait(timeout=60)
        assert server.killed, f"the server did not reach {crash_at}:\n{server.logs()}"
    ledger.record(load)
    ledger.check_log()

    point, nth = crash_at.split(":")
    if nth == "1":  # every answer passes every point of the path: killed at the first hit, nothing was answered
        assert ledger.acked == set()
    if point in ("api.after_read", "api.before_append", "log.before_write", "log.before_commit"):
        # Killed before its N-th durable commit (or before appending at all): nothing unacknowledged is in
        # the log but what earlier commits hold, and at the first hit nothing at all.
        if nth == "1":
            assert ledger.stored == set()
    else:
        # api.before_answer and log.after_commit: killed after the commit, before the answer.
        assert ledger.stored - ledger.acked, "the crash left no durable but unanswered request"
    ledger.finish(key, tmp_path, rng)


def test_killed_at_random_moments_under_load(tmp_path: Path) -> None:
    """RANDOM_KILLS rounds on one workspace: each round starts the server, resends what the last rounds left
    unacknowledged (and a few acknowledged batches), sends new batches, and is killed after a seeded-random number
    of 200 answers. The log is checked after every kill; a last clean round resends the rest."""
    path, key = new_workspace(tmp_path)
    rng = seeded("serve-random-kill", 0)
    ledger = Ledger(path)
    kills = 0
    for round_ in range(RANDOM_KILLS):
        work = ledger.resend_work(rng)
        new = make_batches(f"r{round_}", ROUND_BATCHES, rng)
        ledger.sent.update((b.id, b) for b in new)
        work += new
        rng.shuffle(work)
        kill_after = rng.randrange(1, len(work) - THREADS)
        with ServeProcess(path, tmp_path, label=f"round-{round_}").wait_ready() as server:
            load = Load(server.base, key, work)
            load.wait_for_acks(kill_after)
            assert len(load.answers) >= kill_after, (load.unexpected, server.logs())
            server.kill()
            load.join()
            kills += server.killed
        ledger.record(load)
        ledger.check_log()
    assert kills == RANDOM_KILLS
    ledger.finish(key, tmp_path, rng)
