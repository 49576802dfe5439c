"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL: one statement, no read-then-write race."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite

from c360.store.prepared import Prepared


def upsert(
    conn: Connection,
    table: Table,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    on_conflict: Mapping[str, Any],
) -> None:
    """Insert ``values`` (one row, or many in one executemany); when a row with the same ``key`` exists, apply
    ``on_conflict`` to it instead.

    ``on_conflict`` values may refer to the proposed row as ``excluded(table, "column")``.
    """
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    if isinstance(values, Mapping):
        statement = dialect.insert(table).values(**values)
        conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=dict(on_conflict)))
    elif values:
        statement = dialect.insert(table)
        conn.execute(statement.on_conflict_do_update(index_elements=list(key), set_=dict(on_conflict)), list(values))


class PreparedUpsert:
    """``upsert`` of many rows with the same columns, its statement built once per dialect and run on the driver
    connection (c360.store.prepared): for the rows a hot path writes back again and again."""

    def __init__(self, table: Table, *, key: Sequence[str], update: Sequence[str]) -> None:
        set_ = {column: excluded(table, column) for column in update}
        self._by_dialect = {
            name: Prepared(module.insert(table).on_conflict_do_update(index_elements=list(key), set_=set_))
            for name, module in (("sqlite", sqlite), ("postgresql", postgresql))
        }

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        statement = self._by_dialect[conn.dialect.name]
        by_columns: dict[frozenset[str], list[Mapping[str, Any]]] = {}
        for row in rows:
            by_columns.setdefault(frozenset(row), []).append(row)
        for same in by_columns.values():
            statement.many(conn, same)


def excluded(table: Table, column: str) -> Any:
    """The value the conflicting INSERT proposed for ``column`` (the same SQL on SQLite and PostgreSQL)."""
    return literal_column(f"excluded.{table.c[column].name}")


def least(conn: Connection, a: Any, b: Any) -> Any:
    # SQLite's two-argument min() is its LEAST; PostgreSQL's min() is only an aggregate.
    return func.min(a, b) if conn.dialect.name == "sqlite" else func.least(a, b)


def greatest(conn: Connection, a: Any, b: Any) -> Any:
    return func.max(a, b) if conn.dialect.name == "sqlite" else func.greatest(a, b)
