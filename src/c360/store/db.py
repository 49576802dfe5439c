"""Opening a database (SQLite file or PostgreSQL) with the settings c360 relies on, and running migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from c360.errors import ConfigError, StoreBusy, StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
#: How long a SQLite transaction waits for another's write lock before it gives up with ``StoreBusy``.
BUSY_TIMEOUT_SECONDS = 30.0


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_database(url: str, *, what: str = "store", busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> Engine:
    """An engine for ``url`` that has been shown to connect; errors name the URL (without its password).
    ``busy_timeout``: SQLite only, seconds a transaction waits for another's write lock."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{what} URL {url!r} is not a database URL") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(url, busy_timeout)
        else:
            engine = create_engine(url, pool_pre_ping=True, connect_args=_connect_args(parsed.get_backend_name()))
    except NoSuchModuleError:
        raise ConfigError(f"{what} URL {_redacted(url)}: unsupported database") from None
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"{what} URL {_redacted(url)} needs the {exc.name!r} module: pip install 'c360[postgres]'"
        ) from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailable(f"cannot reach the {what} at {_redacted(url)}: {reason}") from None
    return engine


def _connect_args(backend: str) -> dict[str, Any]:
    return {"connect_timeout": 5} if backend == "postgresql" else {}


def _sqlite_engine(url: str, busy_timeout: float) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not Path(database).parent.exists():
        raise StoreUnavailable(f"cannot open {url}: folder {Path(database).parent} does not exist")
    engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event decide how transactions start (pysqlite's own handling defers BEGIN,
        # which breaks SELECT-then-UPDATE under concurrency).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so a committed transaction survives a power cut.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        # Random-key index inserts (dedupe, identity maps) touch pages all over the tree: with SQLite's 2 MB
        # default cache they are read back from disk on every commit; a 64 MB cache keeps them. A larger WAL
        # between checkpoints turns many small copy-backs into few large ones. Measured: 2-3x faster appends.
        cur.execute("PRAGMA cache_size=-65536")
        cur.execute("PRAGMA wal_autocheckpoint=10000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front: two deferred transactions that both read then write would deadlock.
        # Issued on the DBAPI connection itself: SQLAlchemy's statement path costs several times what SQLite does
        # for a BEGIN, and every request's reads start one.
        driver = conn.connection.driver_connection
        assert driver is not None
        if conn.info.get("c360_memory_journal"):
            # Read when the transaction begins: its savepoints' undo journals then stay in memory (see writer()).
            driver.execute("PRAGMA temp_store=MEMORY")
        driver.execute("BEGIN IMMEDIATE" if conn.info.get("c360_write") else "BEGIN")

    return engine


class Database:
    """A database with c360's transaction discipline: ``write()`` takes the write lock up front."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on an exception. ``StoreBusy`` when
        another transaction held the write lock for longer than the wait (nothing of this one is kept)."""
        with self.writer() as writer, writer.transaction() as conn:
            yield conn

    @contextmanager
    def writer(self, *, savepoints: bool = False) -> Iterator[Writer]:
        """One connection kept for a run of write transactions (``Writer.transaction``, each as ``write()``
        makes it), which spares each the pool's checkout and checkin: ~15 µs a ledger operation when a
        group-commit writer runs a batch of eight every millisecond.

        ``savepoints``: the transactions run many small savepoints (c360.store.group_commit). On SQLite each one
        keeps the pages it changes in an undo journal, which spills to a temporary file past 64 KiB, and a
        savepoint per ledger operation easily passes that; kept in memory instead, an operation costs ~10 % less.
        (Only for such transactions: the same setting would keep the sorts of large queries in memory too.)"""
        with _busy_is_transient(), self.engine.connect() as conn:
            held = Writer(conn, memory_journal=savepoints and self.engine.dialect.name == "sqlite")
            try:
                yield held
            finally:
                held.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction that sees one snapshot throughout (SQLite's WAL reads do; PostgreSQL needs
        REPEATABLE READ, as its default gives each statement its own)."""
        with _busy_is_transient(), self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


class Writer:
    """A connection held for write transactions (``Database.writer``)."""

    def __init__(self, conn: Connection, *, memory_journal: bool) -> None:
        self._conn = conn
        self._memory_journal = memory_journal

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction on the held connection: committed when the block ends, rolled back on an exception;
        ``StoreBusy`` as ``Database.write`` gives it."""
        # Marked afresh each time: a connection that was invalidated and reconnected comes back with empty info.
        info = self._conn.info
        info["c360_write"] = True
        if self._memory_journal:
            info["c360_memory_journal"] = True
        with _busy_is_transient(), self._conn.begin():
            yield self._conn

    def release(self) -> None:
        """The connection as the pool hands it out: a plain one."""
        self._conn.info.pop("c360_write", None)
        if self._memory_journal:
            self._conn.info.pop("c360_memory_journal", None)
            _default_temp_store(self._conn)


def _default_temp_store(conn: Connection) -> None:
    """Put the connection's temporary storage back to the default before the pool hands it to anyone else; a
    connection that cannot be is dropped instead."""
    try:
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA temp_store=DEFAULT")
    except Exception:
        conn.invalidate()
        raise


@contextmanager
def _busy_is_transient() -> Iterator[None]:
    """SQLite's "database is locked" (the wait for another writer ran out) as ``StoreBusy``, which callers such
    as the event processor retry later instead of taking it for a bad event."""
    try:
        yield
    except (OperationalError, sqlite3.OperationalError) as exc:
        cause = exc.orig if isinstance(exc, OperationalError) else exc
        if isinstance(cause, sqlite3.OperationalError) and str(cause).startswith("database is locked"):
            raise StoreBusy(
                "the store is busy: another transaction (a large resolve?) held its write lock for longer than this "
                "one waits; nothing was changed, try again"
            ) from exc
        raise


class Store(Database):
    """The operational store: one database, migrated to the current schema."""

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> Store:
        store = cls(open_database(url, what="operational store", busy_timeout=busy_timeout))
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        run_migrations(self.engine)


def run_migrations(engine: Engine) -> None:
    """Bring the store's schema to the newest version (Alembic)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
