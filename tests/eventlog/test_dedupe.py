"""The log takes each (source, messageId) once within the dedupe window: SDK retries never double-count."""

from __future__ import annotations

import threading

import pytest

from c360.eventlog import EventLog, LogRecord


def rec(message_id: str, source: str = "web", received_us: int = 1_000) -> LogRecord:
    return LogRecord(source, message_id, "track", 1, received_us, f'{{"id":"{message_id}"}}'.encode())


@pytest.fixture
def log(store_url: str) -> EventLog:
    log = EventLog.open(store_url)
    yield log  # type: ignore[misc]
    log.close()


def test_a_retried_batch_is_taken_once(log: EventLog) -> None:
    first = log.append([rec("a"), rec("b"), rec("c")])
    again = log.append([rec("a"), rec("b"), rec("c")])
    assert (first.count, first.duplicates) == (3, 0)
    assert (again.count, again.duplicates) == (0, 3)
    assert [e.message_id for e in log.read(0, 10)] == ["a", "b", "c"]
    assert log.max_seq() == 3


def test_duplicates_inside_one_append_and_mixed_batches(log: EventLog) -> None:
    result = log.append([rec("a"), rec("a"), rec("b")])
    assert (result.first_seq, result.last_seq, result.count, result.duplicates) == (1, 2, 2, 1)
    result = log.append([rec("b"), rec("c"), rec("a"), rec("d")])
    assert (result.first_seq, result.last_seq, result.count, result.duplicates) == (3, 4, 2, 2)
    assert [e.message_id for e in log.read(0, 10)] == ["a", "b", "c", "d"]


def test_the_same_message_id_from_two_sources_is_two_events(log: EventLog) -> None:
    assert log.append([rec("m1", "web"), rec("m1", "app")]).count == 2


def test_concurrent_retries_of_the_same_messages_store_each_once(log: EventLog) -> None:
    batches = [[rec(f"m{i}") for i in range(start, start + 50)] for start in range(0, 500, 50)]
    results = []
    gate = threading.Barrier(6)

    def client() -> None:
        gate.wait()
        results.extend(log.append(batch) for batch in batches)

    workers = [threading.Thread(target=client) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(r.count for r in results) == 500
    assert sum(r.duplicates for r in results) == 500 * 5
    ids = [e.message_id for e in log.read(0, 10_000)]
    assert sorted(ids) == sorted(f"m{i}" for i in range(500))


def test_group_commit_ranges_stay_right_when_waiters_share_a_batch(log: EventLog) -> None:
    # Hold the writer so that several appends land in one durable write, with duplicates spread among them.
    log.append([rec("x1")])
    release = threading.Event()
    real_write = log._write

    def held(records: list[LogRecord]) -> tuple[int, list[bool]]:
        release.wait()
        return real_write(records)

    log._write = held  # type: ignore[method-assign]
    futures = [log.submit([rec("x1"), rec("y1")]), log.submit([rec("y1"), rec("y2")]), log.submit([rec("z")])]
    release.set()
    results = [f.result() for f in futures]
    assert [(r.count, r.duplicates) for r in results] == [(1, 1), (1, 1), (1, 0)]
    stored = {e.message_id: e.seq for e in log.read(0, 10)}
    for future_records, result in zip([["y1"], ["y2"], ["z"]], results, strict=True):
        assert [stored[m] for m in future_records] == list(range(result.first_seq, result.last_seq + 1))


DAY_US = 86_400_000_000


def test_the_window_ends(log: EventLog) -> None:
    log.append([rec("old", received_us=1_000), rec("new", received_us=3 * DAY_US)])
    assert log.prune(2) == 2  # compacted: the ids move to the archive and stay known
    assert log.append([rec("old", received_us=4 * DAY_US)]).duplicates == 1
    assert log.forget_message_ids(received_before_us=2 * DAY_US) == 1
    again = log.append([rec("old", received_us=4 * DAY_US), rec("new", received_us=4 * DAY_US)])
    assert (again.count, again.duplicates) == (1, 1)


def test_a_restarted_log_remembers_from_its_rows_and_its_archive(store_url: str) -> None:
    first = EventLog.open(store_url)
    first.append([rec("a"), rec("b"), rec("c")])
    first.prune(2)  # a and b only in the archive now, c still a row
    first.close()
    second = EventLog.open(store_url)
    try:
        result = second.append([rec("a"), rec("b"), rec("c"), rec("d")])
        assert (result.count, result.duplicates) == (1, 3)
    finally:
        second.close()


def test_two_writers_on_one_log_see_each_others_ids(store_url: str) -> None:
    # Two processes appending to one log (server and `c360 import`, or two server workers): each catches up
    # on the other's rows under the append lock before it decides what is new.
    one, two = EventLog.open(store_url), EventLog.open(store_url)
    try:
        assert one.append([rec("x")]).count == 1
        assert two.append([rec("y")]).count == 1
        assert two.append([rec("x")]).duplicates == 1
        assert one.append([rec("y"), rec("z")]).duplicates == 1
        assert two.append([rec("z")]).duplicates == 1
        assert sorted(e.message_id for e in one.read(0, 10)) == ["x", "y", "z"]
    finally:
        one.close()
        two.close()


def test_ids_another_process_appended_and_pruned_meanwhile_are_still_known(store_url: str) -> None:
    server, importer = EventLog.open(store_url), EventLog.open(store_url)
    try:
        assert server.append([rec("a")]).count == 1
        assert importer.append([rec("b"), rec("c")]).count == 2
        importer.prune(3)  # compaction removed b and c from the log before the server wrote again
        result = server.append([rec("b"), rec("c"), rec("d")])
        assert (result.count, result.duplicates) == (1, 2)
    finally:
        server.close()
        importer.close()
