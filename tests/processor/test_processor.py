"""The event processor in one process: order, checkpoint, lag, dead letters, and the guard against applying a
batch twice when two processor instances race."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from c360.errors import StoreBusy
from c360.eventlog import EventLog
from c360.processor import EventProcessor, ProcessedEvent
from c360.store import Store
from tests.crashkit.child import EffectsHandler, FailOn, crash_handlers, make_record
from tests.processor.procsetup import check_exactly_once, prepare, state

SAFETY = 60


@pytest.fixture
def urls(tmp_path: Path, store_url: str) -> tuple[str, str]:
    log_url = f"sqlite:///{tmp_path / 'log.db'}"
    prepare(log_url, store_url, events=12)
    return log_url, store_url


class Opened:
    def __init__(self, log_url: str, store_url: str) -> None:
        self.log = EventLog.open(log_url)
        self.store = Store.open(store_url, migrate=False)

    def processor(self, handlers: list[Any], **options: Any) -> EventProcessor:
        return EventProcessor(self.log, self.store, handlers, **options)

    def close(self) -> None:
        self.log.close()
        self.store.close()


@pytest.fixture
def opened(urls: tuple[str, str]) -> Iterator[Opened]:
    both = Opened(*urls)
    yield both
    both.close()


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        self.seen.append(event.seq)
        assert event.message["messageId"] == event.raw.message_id
        assert event.timestamp.utcoffset() is not None


def test_applies_every_event_once_in_seq_order(opened: Opened, urls: tuple[str, str]) -> None:
    recorder = Recorder()
    processor = opened.processor([*crash_handlers(), recorder], batch_size=5)
    assert processor.lag() == 12
    assert processor.checkpoint() == 0
    assert processor.run_once() == 5
    assert processor.checkpoint() == 5
    assert processor.lag() == 7
    assert processor.run_until_idle() == 7
    assert recorder.seen == list(range(1, 13))
    assert processor.lag() == 0
    assert processor.checkpoint() == 12
    assert processor.run_until_idle() == 0
    check_exactly_once(urls[1], upto=12)

    opened.log.append([make_record("late", 0)])
    assert processor.lag() == 1
    assert processor.run_until_idle() == 1
    assert recorder.seen[-1] == 13


def test_a_failing_handler_dead_letters_exactly_that_event(opened: Opened, urls: tuple[str, str]) -> None:
    # The effects handler runs before the failing one: its effect on the failing event must be rolled back.
    processor = opened.processor([*crash_handlers(), FailOn([5])], batch_size=4)
    assert processor.run_until_idle() == 12
    check_exactly_once(urls[1], upto=12, failed=[5])
    _checkpoint, applied, _stats, _users, dead = state(urls[1])
    assert 5 not in applied
    assert len(dead) == 1
    assert processor.run_until_idle() == 0
    assert len(state(urls[1])[4]) == 1  # not dead-lettered again


def test_several_failing_events_in_one_batch(opened: Opened, urls: tuple[str, str]) -> None:
    processor = opened.processor([EffectsHandler(), FailOn([1, 3, 12])], batch_size=100)
    assert processor.run_until_idle() == 12
    checkpoint, applied, _stats, _users, dead = state(urls[1])
    assert checkpoint == 12
    assert sorted(applied) == [2, 4, 5, 6, 7, 8, 9, 10, 11]
    assert set(applied.values()) == {1}
    assert [(seq, handler) for seq, handler, _ in dead] == [(1, "fail_on"), (3, "fail_on"), (12, "fail_on")]


def test_a_batch_read_with_a_stale_checkpoint_is_not_applied_twice(
    opened: Opened, urls: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    processor = opened.processor(crash_handlers(), batch_size=5)
    processor.run_once()
    # As if another instance had read the checkpoint before this one committed: the guard must refuse.
    monkeypatch.setattr(processor, "checkpoint", lambda: 0)
    assert processor.run_once() == 0
    monkeypatch.undo()
    assert processor.run_until_idle() == 7
    check_exactly_once(urls[1], upto=12)


@pytest.mark.pg
@pytest.mark.timeout(120)
def test_two_instances_racing_on_postgresql_never_apply_a_batch_twice(tmp_path: Path, pg_url: str) -> None:
    """Instance B runs a whole batch while instance A is inside its transaction for the same batch (between its
    guard and its checkpoint). Whichever wins, each event's effect must be committed once."""
    log_url = f"sqlite:///{tmp_path / 'log.db'}"
    prepare(log_url, pg_url, events=12)
    a, b = Opened(log_url, pg_url), Opened(log_url, pg_url)
    watcher = Store.open(pg_url, migrate=False)
    proc_b = b.processor(crash_handlers(), batch_size=5)
    outcome: list[BaseException | int] = []

    def run_b() -> None:
        try:
            outcome.append(proc_b.run_once())
        except BaseException as exc:
            outcome.append(exc)

    def b_is_waiting_on_a_lock() -> bool:
        with watcher.read() as conn:
            query = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(conn.execute(query).scalar_one())

    class RunBInTheMiddle:
        name = "run_b_in_the_middle"
        done = False

        def handle(self, conn: Connection, event: ProcessedEvent) -> None:
            if self.done:
                return
            self.done = True
            other = threading.Thread(target=run_b)
            other.start()
            # Until B has finished, or is blocked by this transaction (then it must not apply anything).
            while other.is_alive() and not b_is_waiting_on_a_lock():
                other.join(0.005)
            self.other = other

    middle = RunBInTheMiddle()
    proc_a = a.processor([middle, *crash_handlers()], batch_size=5)
    try:
        proc_a.run_once()
        middle.other.join(SAFETY)
        assert not middle.other.is_alive()
        assert not [o for o in outcome if isinstance(o, BaseException)], outcome
        proc_a.run_until_idle()
        check_exactly_once(pg_url, upto=12)
    finally:
        a.close()
        b.close()
        watcher.close()


def test_a_store_held_by_another_writer_is_retried_later_never_dead_lettered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large resolve keeps SQLite's write lock for a minute: the processor's wait runs out, and the batch must
    wait for the next round rather than be applied event by event into dead letters."""
    log_url, store_url = f"sqlite:///{tmp_path / 'log.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    prepare(log_url, store_url, events=12)
    log, store = EventLog.open(log_url), Store.open(store_url, migrate=False, busy_timeout=0.1)
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    transactions = 0
    real_write = store.write

    @contextlib.contextmanager
    def write() -> Iterator[Connection]:
        # The other writer commits just before the third transaction: had the processor taken the busy store for
        # a bad batch, that would be the dead letter of the batch's first event.
        nonlocal transactions
        transactions += 1
        if transactions == 3:
            other.execute("COMMIT")
        with real_write() as conn:
            yield conn

    monkeypatch.setattr(store, "write", write)
    try:
        processor = EventProcessor(log, store, crash_handlers(), batch_size=5)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusy):
            processor.run_once()
        assert transactions == 1
        other.execute("COMMIT")
        assert processor.checkpoint() == 0
        assert processor.run_until_idle() == 12
    finally:
        other.close()
        log.close()
        store.close()
    check_exactly_once(store_url, upto=12)
    assert state(store_url)[4] == []
