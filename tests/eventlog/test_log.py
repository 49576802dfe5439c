"""The event log: contiguous seqs per append, group commit, the durability gate, failure, overload, close, read,
prune. The writer's durable write is held back or failed by wrapping ``EventLog._write`` — no sleeps anywhere."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future

import pytest
from sqlalchemy.exc import IntegrityError

from c360.errors import Overloaded
from c360.eventlog import AppendResult, EventLog, LogRecord
from tests.crashkit.child import BASE_US, make_record

SAFETY = 60  # seconds: only a safety net against a hung writer; nothing waits for time to pass


def records(prefix: str, n: int) -> list[LogRecord]:
    return [make_record(f"{prefix}-{i}", BASE_US + i, user=f"user-{i % 3}") for i in range(n)]


def ids_in_log(log: EventLog) -> list[str]:
    return [event.message_id for event in log.read(0, 1_000_000)]


@pytest.fixture
def open_log(store_url: str) -> Iterator[Callable[..., EventLog]]:
    """Opens logs on the test's database; closes them all afterwards (after every gate has been released)."""
    opened: list[EventLog] = []

    def factory(**options: int) -> EventLog:
        opened.append(EventLog.open(store_url, **options))
        return opened[-1]

    yield factory
    for log in opened:
        log.close()


@pytest.fixture
def log(open_log: Callable[..., EventLog]) -> EventLog:
    return open_log()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., WriteGate]]:
    """Puts a WriteGate on a log; at teardown every gate is released, so a failed test cannot hang its writer."""
    gates: list[WriteGate] = []

    def factory(log: EventLog, hold: str = "before") -> WriteGate:
        gates.append(WriteGate(log, monkeypatch, hold=hold))
        return gates[-1]

    yield factory
    for made in gates:
        made.release.set()


class WriteGate:
    """Wraps the log's durable write: calls wait for ``release`` (before or after the real write), and the calls
    whose index is in ``fail`` raise instead of writing. ``entered`` is set when a call has reached its hold."""

    def __init__(self, log: EventLog, monkeypatch: pytest.MonkeyPatch, *, hold: str = "before") -> None:
        self.calls: list[int] = []  # records per call
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail: set[int] = set()
        original = log._write

        def gated(batch: list[LogRecord]) -> int:
            index = len(self.calls)
            self.calls.append(len(batch))
            if hold == "before":
                self.entered.set()
                assert self.release.wait(SAFETY), "the test never released the write"
            if index in self.fail:
                raise OSError(f"disk full (injected into write {index})")
            last = original(batch)
            if hold == "after":  # committed, but the writer has not returned yet
                self.entered.set()
                assert self.release.wait(SAFETY), "the test never released the write"
            return last

        monkeypatch.setattr(log, "_write", gated)

    def wait_entered(self) -> None:
        assert self.entered.wait(SAFETY), "the writer never started a write"


class SubmitCounter:
    """Counts submit() calls that have queued their records (append() goes through submit())."""

    def __init__(self, log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
        self._done = threading.Semaphore(0)
        original = log.submit

        def counted(batch: list[LogRecord]) -> Future[AppendResult]:
            future = original(batch)
            self._done.release()
            return future

        monkeypatch.setattr(log, "submit", counted)

    def wait_for(self, n: int) -> None:
        for _ in range(n):
            assert self._done.acquire(timeout=SAFETY), "an appender never submitted"


# --- seqs ------------------------------------------------------------------------------------------------------
def test_appends_get_increasing_contiguous_seqs(log: EventLog) -> None:
    first = log.append(records("a", 3))
    second = log.append(records("b", 1))
    third = log.append(records("c", 5))
    assert first == AppendResult(1, 3, 3)
    assert second == AppendResult(4, 4, 1)
    assert third == AppendResult(5, 9, 5)
    events = log.read(0, 100)
    assert [e.seq for e in events] == list(range(1, 10))
    assert [e.message_id for e in events] == ["a-0", "a-1", "a-2", "b-0", "c-0", "c-1", "c-2", "c-3", "c-4"]
    written = records("a", 3)[1]
    stored = events[1]
    assert (stored.source, stored.message_id, stored.type, stored.timestamp_us, stored.received_us, stored.body) == (
        written.source,
        written.message_id,
        written.type,
        written.timestamp_us,
        written.received_us,
        written.body,
    )
    assert log.max_seq() == 9
    assert log.count() == 9


def test_an_empty_append_writes_nothing(log: EventLog) -> None:
    assert log.append([]) == AppendResult(0, -1, 0)
    assert log.count() == 0
    assert log.max_seq() == 0


@pytest.mark.timeout(120)
def test_concurrent_appenders_get_disjoint_ranges_holding_their_own_records(log: EventLog) -> None:
    threads, appends = 8, 20
    rng = random.Random(1)
    sizes = [[rng.randint(1, 6) for _ in range(appends)] for _ in range(threads)]
    results: list[tuple[list[str], AppendResult]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            start.wait()
            for a, size in enumerate(sizes[t]):
                batch = records(f"t{t}-a{a}", size)
                result = log.append(batch)
                with lock:
                    results.append(([r.message_id for r in batch], result))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    total = sum(map(sum, sizes))
    assert len(results) == threads * appends
    covered = sorted(seq for _ids, r in results for seq in range(r.first_seq, r.last_seq + 1))
    assert covered == list(range(1, total + 1))  # disjoint, and together every seq exactly once
    by_seq = {event.seq: event.message_id for event in log.read(0, total + 10)}
    assert len(by_seq) == total == log.count()
    for ids, r in results:
        assert r.count == len(ids) == r.last_seq - r.first_seq + 1
        assert [by_seq[seq] for seq in range(r.first_seq, r.last_seq + 1)] == ids


# --- group commit and the durability gate ----------------------------------------------------------------------
@pytest.mark.timeout(120)
@pytest.mark.parametrize("hold", ["before", "after"], ids=["write-held-before-commit", "write-held-after-commit"])
def test_nobody_is_told_accepted_before_the_durable_write_returns(
    log: EventLog, gate: Callable[..., WriteGate], monkeypatch: pytest.MonkeyPatch, hold: str
) -> None:
    held = gate(log, hold)
    submitted = SubmitCounter(log, monkeypatch)
    futures = [log.submit(records(f"f{i}", 2)) for i in range(3)]
    returned: list[AppendResult] = []
    errors: list[BaseException] = []

    def appender(i: int) -> None:
        try:
            returned.append(log.append(records(f"t{i}", 3)))
        except BaseException as exc:
            errors.append(exc)

    appenders = [threading.Thread(target=appender, args=(i,)) for i in range(5)]
    for thread in appenders:
        thread.start()
    held.wait_entered()
    submitted.wait_for(3 + 5)

    # Held: every record is submitted, none is acknowledged.
    assert not any(future.done() for future in futures)
    assert returned == []
    assert errors == []
    assert all(thread.is_alive() for thread in appenders)
    if hold == "before":
        assert log.count() == 0
    else:
        assert log.count() == held.calls[0]  # on disk already, and still nobody has been told

    held.release.set()
    for thread in appenders:
        thread.join(SAFETY)
    results = [future.result(SAFETY) for future in futures] + returned
    assert errors == []
    assert len(results) == 8
    assert sorted(seq for r in results for seq in range(r.first_seq, r.last_seq + 1)) == list(range(1, 22))
    assert log.count() == 21


def test_queued_appends_share_one_write_bounded_by_max_batch(
    open_log: Callable[..., EventLog], gate: Callable[..., WriteGate]
) -> None:
    log = open_log(max_batch=5)
    held = gate(log)
    first = log.submit(records("first", 1))
    held.wait_entered()
    queued = [log.submit(records(f"q{i}", 2)) for i in range(5)]  # 10 records behind the held write
    held.release.set()
    results = [future.result(SAFETY) for future in [first, *queued]]
    # 1 (held), then 2+2 (a third 2 would pass max_batch), 2+2, 2: four writes for six appends.
    assert held.calls == [1, 4, 4, 2]
    assert [r.first_seq for r in results] == [1, 2, 4, 6, 8, 10]
    assert log.count() == 11


def test_one_append_larger_than_max_batch_is_written_whole(
    open_log: Callable[..., EventLog], gate: Callable[..., WriteGate]
) -> None:
    log = open_log(max_batch=3)
    counted = gate(log)
    counted.release.set()
    assert log.append(records("big", 7)) == AppendResult(1, 7, 7)
    assert counted.calls == [7]


# --- failure ---------------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_failing_write_fails_every_waiter_of_its_batch_and_the_log_stays_usable(
    log: EventLog, gate: Callable[..., WriteGate]
) -> None:
    writes = gate(log)
    writes.fail = {1}
    held = log.submit(records("held", 2))
    writes.wait_entered()
    doomed = [log.submit(records(f"doomed{i}", 3)) for i in range(3)]  # queued together behind the held write
    writes.release.set()
    assert held.result(SAFETY) == AppendResult(1, 2, 2)
    for future in doomed:
        with pytest.raises(OSError, match="disk full"):
            future.result(SAFETY)
    assert writes.calls == [2, 9]
    after = log.append(records("after", 2))
    assert after.count == 2
    assert after.first_seq > 2
    assert ids_in_log(log) == ["held-0", "held-1", "after-0", "after-1"]
    assert log.queued_events == 0


@pytest.mark.timeout(120)
def test_a_database_error_fails_the_whole_batch_atomically(log: EventLog, gate: Callable[..., WriteGate]) -> None:
    writes = gate(log)
    held = log.submit(records("held", 1))
    writes.wait_entered()
    good = log.submit(records("good", 2))
    bad_record = LogRecord(None, "bad-0", "track", BASE_US, BASE_US, b"{}")  # type: ignore[arg-type]
    bad = log.submit([bad_record])  # NOT NULL source: the database refuses the insert
    writes.release.set()
    held.result(SAFETY)
    for future in (good, bad):
        with pytest.raises(IntegrityError):
            future.result(SAFETY)
    assert ids_in_log(log) == ["held-0"]  # the good records of the failed batch were not half-written
    retried = log.append(records("good", 2))
    assert retried.count == 2
    assert ids_in_log(log) == ["held-0", "good-0", "good-1"]


# --- overload --------------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_overloaded_when_the_queue_is_over_its_depth_and_nothing_is_queued(
    open_log: Callable[..., EventLog], gate: Callable[..., WriteGate]
) -> None:
    log = open_log(queue_depth=10)
    writes = gate(log)
    accepted = [log.submit(records("a", 4))]
    writes.wait_entered()
    accepted.append(log.submit(records("b", 4)))
    assert log.queued_events == 8
    with pytest.raises(Overloaded) as caught:
        log.submit(records("refused1", 3))  # 8 + 3 > 10
    assert caught.value.retry_after_seconds >= 1
    assert caught.value.http_status == 429
    assert log.queued_events == 8
    accepted.append(log.submit(records("c", 2)))  # 10: at the depth, not over it
    with pytest.raises(Overloaded):
        log.submit(records("refused2", 1))
    writes.release.set()
    assert [f.result(SAFETY).count for f in accepted] == [4, 4, 2]
    in_log = ids_in_log(log)
    assert len(in_log) == 10
    assert not [mid for mid in in_log if mid.startswith("refused")]


def test_one_append_over_the_depth_is_accepted_when_the_queue_is_empty(open_log: Callable[..., EventLog]) -> None:
    # Otherwise an append bigger than the depth could never be accepted at all.
    assert open_log(queue_depth=3).append(records("big", 5)).count == 5


@pytest.mark.timeout(120)
def test_an_acknowledged_append_no_longer_counts_against_the_depth(sqlite_url: str) -> None:
    """A caller told "accepted" may append again at once. The writer runs a future's callbacks after it resolves
    it; a callback that waits holds the writer exactly where it would be descheduled in a real race."""
    log = EventLog.open(sqlite_url, queue_depth=4)
    proceed = threading.Event()
    try:
        first = log.submit(records("first", 4))
        first.add_done_callback(lambda _f: proceed.wait(SAFETY))
        assert first.result(SAFETY).count == 4  # durable and acknowledged
        try:
            again = log.submit(records("again", 4))
        finally:
            proceed.set()
        assert again.result(SAFETY).count == 4
    finally:
        log.close()


# --- close -----------------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_close_drains_the_queue_and_refuses_new_appends(
    store_url: str, open_log: Callable[..., EventLog], gate: Callable[..., WriteGate]
) -> None:
    log = open_log()
    writes = gate(log)
    futures = [log.submit(records("held", 2))]
    writes.wait_entered()
    futures += [log.submit(records(f"queued{i}", 3)) for i in range(3)]
    closer = threading.Thread(target=log.close)
    closer.start()
    with log._cond:  # close() announces itself on the writer's condition
        assert log._cond.wait_for(lambda: log._closing, SAFETY)
    with pytest.raises(RuntimeError, match="closed"):
        log.submit(records("late", 1))
    assert not any(f.done() for f in futures)
    writes.release.set()
    closer.join(SAFETY)
    assert not closer.is_alive()
    assert [f.result(0).count for f in futures] == [2, 3, 3, 3]
    reopened = EventLog.open(store_url)
    try:
        assert reopened.count() == 11
        assert "late-0" not in ids_in_log(reopened)
    finally:
        reopened.close()


def test_close_without_any_append_and_twice(store_url: str) -> None:
    log = EventLog.open(store_url)
    log.close()
    log.close()


# --- read and prune --------------------------------------------------------------------------------------------
def test_read_returns_seq_order_after_a_seq_up_to_a_limit(log: EventLog) -> None:
    for i in range(4):
        log.append(records(f"r{i}", 3))
    assert [e.seq for e in log.read(3, 4)] == [4, 5, 6, 7]
    assert [e.seq for e in log.read(10, 100)] == [11, 12]
    assert log.read(12, 100) == []
    assert log.read(0, 0) == []
    assert [e.message_id for e in log.read(0, 4)] == ["r0-0", "r0-1", "r0-2", "r1-0"]
    everything = log.read(0, 100)
    assert [e.seq for e in everything] == sorted(e.seq for e in everything) == list(range(1, 13))


def test_prune_deletes_up_to_a_seq_and_seqs_are_never_reused(store_url: str) -> None:
    log = EventLog.open(store_url)
    try:
        log.append(records("a", 10))
        assert log.prune(4) == 4
        assert [e.seq for e in log.read(0, 100)] == list(range(5, 11))
        assert log.prune(4) == 0
        assert log.prune(10) == 6
        assert log.count() == 0
        assert log.max_seq() == 10  # the highest seq ever committed: pruning does not lower it
        assert log.append(records("b", 1)) == AppendResult(11, 11, 1)  # not 1: the lake already has seq 1
    finally:
        log.close()
    reopened = EventLog.open(store_url)
    try:
        assert reopened.prune(11) == 1
        assert reopened.count() == 0
        assert reopened.max_seq() == 11
        assert reopened.read(0, 100) == []
        assert reopened.append(records("c", 2)) == AppendResult(12, 13, 2)
    finally:
        reopened.close()
