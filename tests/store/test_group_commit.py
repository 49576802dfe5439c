"""Group commit: operations of many threads share transactions; one that fails is undone alone and its caller
gets the exception; every caller is answered after the commit, with what it wrote kept. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from c360.store import Store
from c360.store.group_commit import GroupCommitter, committer_for
from c360.store.schema import meta


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


def _keys(store: Store) -> set[str]:
    with store.read() as conn:
        return {k for k in conn.execute(select(meta.c.key)).scalars() if k.startswith("gc:")}


def test_a_failing_operation_is_undone_alone_and_its_caller_hears_why(store: Store) -> None:
    committer = GroupCommitter(store)

    def write(key: str, fail: bool = False) -> str:
        def work(conn: Connection) -> str:
            conn.execute(insert(meta).values(key=key, value="x"))
            if fail:
                raise ValueError(f"{key} refused")
            return key

        return committer.run(work)

    results: dict[str, object] = {}
    barrier = threading.Barrier(16)

    def client(i: int) -> None:
        barrier.wait()
        try:
            results[f"gc:{i}"] = write(f"gc:{i}", fail=i % 4 == 0)
        except ValueError as exc:
            results[f"gc:{i}"] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = {k for k, v in results.items() if isinstance(v, ValueError)}
    assert failed == {f"gc:{i}" for i in range(0, 16, 4)}
    assert all(results[k] == k for k in results if k not in failed)
    # What the failed ones wrote before failing is gone; everything else is committed.
    assert _keys(store) == {f"gc:{i}" for i in range(16) if i % 4}
    assert committer.operations == 16
    assert committer.batches <= 16


def test_operations_waiting_together_share_a_commit(store: Store) -> None:
    committer = GroupCommitter(store)
    release = threading.Event()
    started = threading.Event()

    def slow(conn: Connection) -> None:
        started.set()
        release.wait(timeout=60)  # holds the first batch open while the others queue behind it
        conn.execute(insert(meta).values(key="gc:first", value="x"))

    first = threading.Thread(target=committer.run, args=(slow,))
    first.start()
    assert started.wait(timeout=60)
    others = [
        threading.Thread(
            target=committer.run, args=(lambda conn, i=i: conn.execute(insert(meta).values(key=f"gc:{i}", value="x")),)
        )
        for i in range(10)
    ]
    for t in others:
        t.start()
    # Every one of them is queued before the first batch ends: wait until the queue holds all ten.
    while True:
        with committer._cond:
            if len(committer._queue) == 10:
                break
    release.set()
    first.join()
    for t in others:
        t.join()
    assert committer.batches == 2  # the slow one, then the ten in one transaction
    assert len(_keys(store)) == 11


def test_a_batch_waits_for_the_callers_of_the_last_one_to_come_back(store: Store) -> None:
    """Callers answered by a commit send their next operation at once: the next batch waits (up to ``linger``)
    until as many are queued as were in flight at the last commit, instead of committing the first one alone."""
    committer = GroupCommitter(store, linger=60.0)
    committer._in_flight = 3  # as if three callers were waiting when the last batch committed

    def insert_key(i: int) -> None:
        committer.run(lambda conn: conn.execute(insert(meta).values(key=f"gc:{i}", value="x")))

    threads = [threading.Thread(target=insert_key, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert committer.batches == 1
    assert len(_keys(store)) == 3
    assert committer._in_flight == 3
    # When fewer come back, the batch that waited in vain sets the count to what it found (here, one).
    committer.linger = 0.0
    insert_key(3)
    assert (committer.batches, committer._in_flight) == (2, 1)


def test_one_committer_per_store() -> None:
    a = Store.open("sqlite://")
    b = Store.open("sqlite://")
    try:
        assert committer_for(a) is committer_for(a)
        assert committer_for(a) is not committer_for(b)
    finally:
        a.close()
        b.close()


def test_an_operation_that_breaks_a_constraint_is_undone_alone(store: Store) -> None:
    """On PostgreSQL a failed statement aborts the transaction until its savepoint is rolled back: the operations
    after it in the same batch must still commit."""
    committer = GroupCommitter(store)
    committer.run(lambda conn: conn.execute(insert(meta).values(key="gc:taken", value="x")))
    outcomes: dict[str, object] = {}
    barrier = threading.Barrier(6)

    def client(key: str) -> None:
        def work(conn: Connection) -> str:
            conn.execute(insert(meta).values(key=key, value="y"))
            return key

        barrier.wait()
        try:
            outcomes[key] = committer.run(work)
        except IntegrityError as exc:
            outcomes[key] = exc

    keys = ["gc:taken", "gc:a", "gc:b", "gc:taken", "gc:c", "gc:d"]
    threads = [threading.Thread(target=client, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(outcomes["gc:taken"], IntegrityError)
    others = ("gc:a", "gc:b", "gc:c", "gc:d")
    assert {k: outcomes[k] for k in others} == {k: k for k in others}
    assert _keys(store) == {"gc:taken", "gc:a", "gc:b", "gc:c", "gc:d"}
