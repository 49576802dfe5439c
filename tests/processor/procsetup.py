"""A log and a store prepared for processor tests, and the exactly-once checks; shared by the unit and crash tests."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from c360.eventlog import EventLog
from c360.processor import EventProcessor
from c360.store import Store
from c360.store.schema import known_users, processor_checkpoints, processor_dead_letters, source_stats
from tests.crashkit.child import BASE_US, crash_handlers, effects, effects_metadata, make_record

USERS = 9


def prepare(log_url: str, store_url: str, *, events: int) -> None:
    """``events`` events in the log (three appends); a migrated store with the effects table."""
    log = EventLog.open(log_url)
    try:
        third = -(-events // 3)
        for start in range(0, events, third):
            log.append(
                [
                    make_record(f"m{i:05d}", BASE_US + i * 1_000, user=f"u{i % USERS}")
                    for i in range(start, min(start + third, events))
                ]
            )
    finally:
        log.close()
    store = Store.open(store_url)
    try:
        effects_metadata.create_all(store.engine)
    finally:
        store.close()


def log_max_seq(log_url: str) -> int:
    log = EventLog.open(log_url)
    try:
        return log.max_seq()
    finally:
        log.close()


def catch_up(log_url: str, store_url: str, *, batch: int, fail_seqs: Iterable[int] = ()) -> int:
    """Run the processor in this process until it is idle; returns how many events it applied."""
    log, store = EventLog.open(log_url), Store.open(store_url, migrate=False)
    try:
        return EventProcessor(log, store, crash_handlers(list(fail_seqs)), batch_size=batch).run_until_idle()
    finally:
        log.close()
        store.close()


def state(store_url: str) -> tuple[int, dict[int, int], int, int, list[tuple[int, str, str]]]:
    """(checkpoint, {seq: n} of the effects table, sum of source_stats counts, sum of known_users counts,
    dead letters as (seq, handler, error))."""
    store = Store.open(store_url, migrate=False)
    try:
        with store.read() as conn:
            checkpoint = conn.execute(
                select(processor_checkpoints.c.seq).where(processor_checkpoints.c.name == "main")
            ).scalar_one_or_none()
            applied = {int(seq): int(n) for seq, n in conn.execute(select(effects.c.seq, effects.c.n))}
            stats = conn.execute(select(func.coalesce(func.sum(source_stats.c.event_count), 0))).scalar_one()
            users = conn.execute(select(func.coalesce(func.sum(known_users.c.event_count), 0))).scalar_one()
            dead = [
                (int(row.seq), row.handler, row.error)
                for row in conn.execute(select(processor_dead_letters).order_by(processor_dead_letters.c.id))
            ]
        return int(checkpoint or 0), applied, int(stats), int(users), dead
    finally:
        store.close()


def check_exactly_once(store_url: str, *, upto: int, failed: Iterable[int] = ()) -> int:
    """Every event up to the checkpoint applied exactly once, none after it; ``failed`` seqs (that the processor
    reached) dead-lettered exactly once with none of their effects. Returns the checkpoint, which must be
    ``upto`` unless ``upto`` is negative (then any checkpoint is accepted)."""
    checkpoint, applied, stats, users, dead = state(store_url)
    if upto >= 0:
        assert checkpoint == upto, f"checkpoint {checkpoint}, expected {upto}"
    reached_failures = sorted(seq for seq in failed if seq <= checkpoint)
    expected = {seq: 1 for seq in range(1, checkpoint + 1) if seq not in reached_failures}
    twice = {seq: n for seq, n in applied.items() if n != 1}
    assert twice == {}, f"effects applied more than once: {twice}"
    assert applied == expected, (
        f"missing {sorted(set(expected) - set(applied))[:10]}, unexpected {sorted(set(applied) - set(expected))[:10]}"
    )
    # The built-in handlers' effects commit with the same transactions: their counts agree.
    assert stats == len(expected)
    assert users == len(expected)
    assert [seq for seq, _handler, _error in dead] == reached_failures
    for seq, handler, error in dead:
        assert handler == "fail_on"
        assert error == f"ValueError: boom at seq {seq}"
    return checkpoint
