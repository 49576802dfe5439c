"""Migrations bring a fresh store to head, and the migrated schema is exactly ``c360.store.schema.metadata``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, inspect, select

from c360.store import Store
from c360.store.db import MIGRATIONS
from c360.store.schema import meta, metadata


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _current(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_reach_head(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        assert _current(store) == _head()
        tables = set(inspect(store.engine).get_table_names())
        assert set(metadata.tables) <= tables
    finally:
        store.close()


def test_migrated_schema_equals_metadata(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            differences = compare_metadata(context, metadata)
        assert differences == []
    finally:
        store.close()


def test_migrations_are_idempotent(store_url: str) -> None:
    first = Store.open(store_url)
    try:
        with first.write() as conn:
            conn.execute(meta.insert().values(key="kept", value="across migrations"))
        first.migrate()  # again, on the same engine
    finally:
        first.close()
    second = Store.open(store_url)  # and again, as a new process would
    try:
        assert _current(second) == _head()
        with second.read() as conn:
            assert conn.execute(select(meta.c.value).where(meta.c.key == "kept")).scalar_one() == "across migrations"
        with second.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        second.close()


def test_open_without_migrate_leaves_the_database_empty(store_url: str) -> None:
    store = Store.open(store_url, migrate=False)
    try:
        assert _current(store) is None
        assert not set(metadata.tables) & set(inspect(store.engine).get_table_names())
    finally:
        store.close()


def test_the_schema_comparison_sees_a_difference(store_url: str) -> None:
    """Guards the test above against passing vacuously: a changed definition must show up as a difference."""
    changed = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["sources"].append_column(Column("extra", Integer))
    changed.tables["audit_log"].c.actor.type = String(50)
    store = Store.open(store_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, changed)
        kinds = sorted(str(diff[0][0] if isinstance(diff, list) else diff[0]) for diff in differences)
        assert kinds == ["add_column", "modify_type"]
    finally:
        store.close()
