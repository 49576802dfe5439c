"""Opening a database and c360's transaction discipline: write() commits or rolls back as a whole; concurrent
SQLite writers queue on the write lock instead of failing; unreachable or malformed URLs give clear errors."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from c360.errors import ConfigError, StoreBusy, StoreUnavailable
from c360.store import Store, open_database
from c360.store.schema import meta, sources
from c360.store.types import utcnow


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


def _meta(store: Store) -> dict[str, str]:
    with store.read() as conn:
        return {row.key: row.value for row in conn.execute(select(meta.c.key, meta.c.value))}


def test_write_commits_when_the_block_ends(store: Store) -> None:
    with store.write() as conn:
        conn.execute(meta.insert().values(key="a", value="1"))
        conn.execute(meta.insert().values(key="b", value="2"))
    assert _meta(store) == {"a": "1", "b": "2"}


def test_write_rolls_back_everything_on_an_exception(store: Store) -> None:
    with store.write() as conn:
        conn.execute(meta.insert().values(key="before", value="kept"))

    class Boom(Exception):
        pass

    def write_then_fail() -> None:
        with store.write() as conn:
            conn.execute(meta.insert().values(key="a", value="1"))
            conn.execute(meta.update().where(meta.c.key == "before").values(value="changed"))
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert _meta(store) == {"before": "kept"}
    # The connection went back to the pool clean: the next transaction works and sees no leftovers.
    with store.write() as conn:
        conn.execute(meta.insert().values(key="a", value="after"))
    assert _meta(store) == {"before": "kept", "a": "after"}


def test_a_failing_statement_rolls_back_the_whole_write(store: Store) -> None:
    def insert_twice() -> None:
        with store.write() as conn:
            conn.execute(meta.insert().values(key="x", value="1"))
            conn.execute(meta.insert().values(key="x", value="duplicate key"))

    with pytest.raises(IntegrityError):
        insert_twice()
    assert _meta(store) == {}


def test_sqlite_is_opened_durable(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()) >= 5_000
    finally:
        store.close()


def test_a_write_of_many_savepoints_journals_them_in_memory_then_gives_the_connection_back_as_it_was(
    sqlite_url: str,
) -> None:
    """``writer(savepoints=True)`` keeps the savepoints' undo journals in memory (SQLite spills them to a temporary
    file past 64 KiB); a savepoint larger than that still rolls back exactly; the pooled connection is back to the
    default temporary storage for whoever takes it next."""
    store = Store.open(sqlite_url)
    try:
        with store.writer(savepoints=True) as writer, writer.transaction() as conn:
            driver = conn.connection.driver_connection
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2  # MEMORY
            conn.execute(meta.insert().values(key="kept", value="x" * 50_000))
            driver.execute("SAVEPOINT big")
            conn.execute(meta.update().where(meta.c.key == "kept").values(value="y" * 50_000))
            for i in range(40):  # ~200 KiB changed inside the savepoint
                conn.execute(meta.insert().values(key=f"undone:{i}", value="z" * 5_000))
            driver.execute("ROLLBACK TO SAVEPOINT big")
            driver.execute("RELEASE SAVEPOINT big")
        assert _meta(store) == {"kept": "x" * 50_000}
        with store.write() as conn:
            assert conn.connection.driver_connection is driver  # the same pooled connection: the check means something
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 0  # DEFAULT
    finally:
        store.close()


@pytest.mark.timeout(120)
def test_concurrent_sqlite_writers_queue_instead_of_failing(sqlite_url: str) -> None:
    """Read-then-write transactions from many threads and two engines (as two processes would have): with
    BEGIN IMMEDIATE and a busy timeout none gets "database is locked" and no increment is lost."""
    stores = [Store.open(sqlite_url), Store.open(sqlite_url, migrate=False)]
    threads_per_store, rounds = 4, 25
    with stores[0].write() as conn:
        conn.execute(meta.insert().values(key="counter", value="0"))
    start = threading.Barrier(threads_per_store * len(stores))
    errors: list[BaseException] = []

    def worker(store: Store, worker_id: int) -> None:
        try:
            start.wait()
            for round_ in range(rounds):
                with store.write() as conn:
                    current = int(conn.execute(select(meta.c.value).where(meta.c.key == "counter")).scalar_one())
                    conn.execute(meta.update().where(meta.c.key == "counter").values(value=str(current + 1)))
                    conn.execute(sources.insert().values(name=f"w{worker_id}-{round_}", created_at=utcnow()))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(store, s * threads_per_store + t))
        for s, store in enumerate(stores)
        for t in range(threads_per_store)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        total = threads_per_store * len(stores) * rounds
        assert _meta(stores[0])["counter"] == str(total)
        with stores[1].read() as conn:
            assert conn.execute(select(func.count()).select_from(sources)).scalar_one() == total
    finally:
        for store in stores:
            store.close()


def test_unreachable_postgresql_names_the_url_without_its_password() -> None:
    url = "postgresql+psycopg://c360user:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(StoreUnavailable) as caught:
        Store.open(url)
    message = str(caught.value)
    assert "postgresql+psycopg://c360user:***@127.0.0.1:1/nowhere" in message
    assert "s3cret-pw" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_sqlite_in_a_missing_folder_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'store.db'}"
    with pytest.raises(StoreUnavailable, match="does not exist"):
        Store.open(url)
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    "url",
    ["not a database url", "", "nosuchdialect://host/db", "postgresql+nosuchdriver://u:secret@localhost/db"],
)
def test_a_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_database(url)
    assert "secret" not in str(caught.value)


def test_sqlite_read_sees_committed_writes_of_another_engine(sqlite_url: str) -> None:
    writer, reader = Store.open(sqlite_url), Store.open(sqlite_url, migrate=False)
    try:
        with writer.write() as conn:
            conn.execute(meta.insert().values(key="k", value="v"))
        assert _meta(reader) == {"k": "v"}
        with reader.read() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        writer.close()
        reader.close()


@pytest.fixture
def held_store(tmp_path: Path) -> Iterator[tuple[Store, sqlite3.Connection]]:
    """A store whose transactions wait 0.1 s for the write lock, and another connection holding that lock."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    store = Store.open(url, busy_timeout=0.1)
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield store, other
    other.close()
    store.close()


def test_a_write_lock_held_past_the_wait_is_store_busy_and_changes_nothing(
    held_store: tuple[Store, sqlite3.Connection],
) -> None:
    store, other = held_store
    with pytest.raises(StoreBusy, match="busy") as caught, store.write() as conn:
        conn.execute(text("INSERT INTO processor_checkpoints (name, seq, updated_at) VALUES ('x', 1, '2026-01-01')"))
    assert caught.value.http_status == 503
    assert caught.value.retry_after_seconds > 0
    # WAL readers do not wait for writers.
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM processor_checkpoints")).scalar_one() == 0
    other.execute("COMMIT")
    with store.write() as conn:
        conn.execute(text("INSERT INTO processor_checkpoints (name, seq, updated_at) VALUES ('x', 1, '2026-01-01')"))
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM processor_checkpoints")).scalar_one() == 1
