"""Core statements compiled once per dialect and run on the connection's own DBAPI connection.

The loyalty ledger runs ~15 small statements per operation. Through ``Connection.execute`` each costs ~40 µs of
SQLAlchemy (the execution context, parameter processing, result metadata) against ~5 µs for SQLite itself, which
capped the ledger below a thousand operations a second. A ``Prepared`` statement keeps SQLAlchemy for what it is
good at — the statement is still Core, rendered by the dialect (``FOR UPDATE`` on PostgreSQL, nothing on SQLite) —
and does the rest itself, inside the caller's transaction: values go in and come back as the SQLAlchemy path
stores and returns them (SQLite's DATETIME text for zone-aware UTC times; PostgreSQL's timestamptz), so both
paths read and write the same rows.
"""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.sqltypes import NullType

from c360.store.types import UTCDateTime, sqlite_text

_UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # bind names in order for a positional paramstyle (SQLite's qmark)
    fixed: Mapping[str, Any]  # values the statement itself carries (``state = 'active'``)
    times: tuple[str, ...]  # the binds that take a timestamp (checked for a zone; SQLite's stored as text)
    converters: Mapping[str, Callable[[Any], Any]]  # other binds whose type converts values (Boolean, JSON)
    make_row: Callable[[Sequence[Any]], Any] | None
    sqlite: bool
    bind: Callable[[Mapping[str, Any]], Any]  # the caller's values -> the driver's parameters (see ``_binder``)


class Prepared:
    """A Core statement (select, insert, update, delete) run with bound values on the DBAPI connection."""

    __slots__ = ("_by_shape", "row_type", "statement")

    def __init__(self, statement: ClauseElement, *, row_type: Any = None) -> None:
        """``row_type``: a named tuple whose fields are the selected columns, in order, to give the rows as (the
        caller's own record type, built once per row instead of twice); by default a named tuple of the columns."""
        self.statement = statement
        self.row_type = row_type
        self._by_shape: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    # --- running ------------------------------------------------------------------------------------------------
    def execute(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """Run the statement once; returns the DBAPI cursor."""
        params = params or {}
        compiled = self._compiled(conn, params)
        return _driver(conn).execute(compiled.sql, compiled.bind(params))

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per row of ``rows`` (all with the same keys)."""
        if not rows:
            return
        compiled = self._compiled(conn, rows[0])
        bind = compiled.bind
        values = [bind(row) for row in rows]
        driver = _driver(conn)
        if compiled.sqlite:
            driver.executemany(compiled.sql, values)
        else:
            with driver.cursor() as cursor:
                cursor.executemany(compiled.sql, values)

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row, as named tuples (``row.member_id``; ``row._mapping`` as SQLAlchemy's rows have)."""
        params = params or {}
        compiled = self._compiled(conn, params)
        cursor = _driver(conn).execute(compiled.sql, compiled.bind(params))
        make_row = compiled.make_row
        assert make_row is not None, "rows() of a statement that returns none"
        return [make_row(r) for r in cursor.fetchall()]

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any | None:
        """The first row, or None. (Meant for lookups by a unique key.)"""
        params = params or {}
        compiled = self._compiled(conn, params)
        cursor = _driver(conn).execute(compiled.sql, compiled.bind(params))
        row = cursor.fetchone()
        assert compiled.make_row is not None, "first() of a statement that returns none"
        return None if row is None else compiled.make_row(row)

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any | None:
        """The first column of the first row, or None."""
        params = params or {}
        compiled = self._compiled(conn, params)
        row = _driver(conn).execute(compiled.sql, compiled.bind(params)).fetchone()
        if row is None:
            return None
        return compiled.make_row(row)[0] if compiled.make_row is not None else row[0]

    # --- compiling ----------------------------------------------------------------------------------------------
    def _compiled(self, conn: Connection, params: Mapping[str, Any]) -> _Compiled:
        # An INSERT's columns are the keys it is given, so the shape is the dialect and those keys.
        shape = (conn.dialect.name, tuple(params))
        found = self._by_shape.get(shape)
        if found is None:
            found = self._by_shape[shape] = _compile(self.statement, conn, tuple(params), self.row_type)
        return found


class PreparedInsert:
    """An INSERT of one row into a table whose primary key is an integer ``id``, giving back the new row's id.
    SQLite's id comes from the cursor: its RETURNING goes through a temporary table, ~4 µs more a row (a ledger
    operation inserts two such rows). Other databases return it."""

    __slots__ = ("_plain", "_returning")

    def __init__(self, table: Table) -> None:
        self._plain = Prepared(insert(table))
        self._returning = Prepared(insert(table).returning(table.c.id))

    def new_id(self, conn: Connection, params: Mapping[str, Any]) -> int:
        if conn.dialect.name == "sqlite":
            row_id = self._plain.execute(conn, params).lastrowid
        else:
            row_id = self._returning.scalar(conn, params)
        assert row_id is not None
        return int(row_id)


def _compile(statement: ClauseElement, conn: Connection, keys: tuple[str, ...], row_type: Any = None) -> _Compiled:
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    sqlite = conn.dialect.name == "sqlite"
    # The statement's own values, converted once as the given ones are at each run.
    fixed = {
        name: _fixed(bind.effective_value, bind.type, conn.dialect, sqlite)
        for name, bind in compiled.binds.items()
        if not bind.required
    }
    # Binds of a type SQLAlchemy could not tell (NullType) are checked too: a timestamp may be among them.
    times = tuple(
        name for name, bind in compiled.binds.items() if isinstance(bind.type, UTCDateTime | NullType) and bind.required
    )
    converters = {
        name: convert
        for name, bind in compiled.binds.items()
        if bind.required and name not in times and (convert := _processor(bind.type, conn.dialect, bind=True))
    }
    positions = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
    columns = list(getattr(statement, "selected_columns", None) or getattr(statement, "_returning", ()) or ())
    readers = [
        (_sqlite_time if sqlite else _utc) if isinstance(c.type, UTCDateTime) else _processor(c.type, conn.dialect)
        for c in columns
    ]
    if row_type is not None and tuple(row_type._fields) != tuple(c.key for c in columns):
        raise TypeError(f"{row_type.__name__}'s fields {row_type._fields} are not the statement's columns")
    make_row = _row_maker([c.key for c in columns], readers, row_type)
    bind = _binder(positions, fixed, times, converters, sqlite)
    return _Compiled(compiled.string, positions, fixed, times, converters, make_row if columns else None, sqlite, bind)


def _fixed(value: Any, column_type: Any, dialect: Any, sqlite: bool) -> Any:
    if value is None:
        return None
    if type(value) is dt.datetime:
        return _instant(value, sqlite)
    convert = _processor(column_type, dialect, bind=True)
    return convert(value) if convert is not None else value


def _processor(column_type: Any, dialect: Any, *, bind: bool = False) -> Callable[[Any], Any] | None:
    """SQLAlchemy's own conversion of values of ``column_type`` to (``bind``) or from the database, if any."""
    impl = column_type.dialect_impl(dialect)
    try:
        found = impl.bind_processor(dialect) if bind else impl.result_processor(dialect, None)
    except TypeError:  # a processor that needs the result's column type (PostgreSQL's numerics): the driver's own
        return None
    return found  # type: ignore[no-any-return]


def _row_maker(
    names: list[str], readers: list[Callable[[Any], Any] | None], row_type: Any = None
) -> Callable[[Sequence[Any]], Any]:
    row_type = row_type or _row_type(tuple(names))
    converted = [(i, read) for i, read in enumerate(readers) if read is not None]
    if not converted:
        return row_type._make  # type: ignore[no-any-return]

    def make(values: Sequence[Any]) -> Any:
        out = list(values)
        for i, read in converted:
            if out[i] is not None:
                out[i] = read(out[i])
        return row_type._make(out)

    return make


_ROW_TYPES: dict[tuple[str, ...], Any] = {}


def _row_type(names: tuple[str, ...]) -> Any:
    found = _ROW_TYPES.get(names)
    if found is None:
        base = namedtuple("Record", names, rename=True)  # type: ignore[misc]

        class Record(base):
            __slots__ = ()

            @property
            def _mapping(self) -> dict[str, Any]:
                return dict(zip(names, self, strict=True))

        found = _ROW_TYPES[names] = Record
    return found


def _binder(
    positions: tuple[str, ...] | None,
    fixed: Mapping[str, Any],
    times: tuple[str, ...],
    converters: Mapping[str, Callable[[Any], Any]],
    sqlite: bool,
) -> Callable[[Mapping[str, Any]], Any]:
    """The function, written once per statement, that turns the caller's values into the driver's parameters:
    the statement's own values added, timestamps as they are stored, typed values converted, in the driver's order
    (a tuple for SQLite's qmark style, a dict for PostgreSQL's). Generated because it runs for every statement of
    every ledger operation: a loop over the bind names cost several µs a statement, more than SQLite's own work."""
    instant = _instant_sqlite if sqlite else _instant_server
    names = {"_fixed": dict(fixed), "_conv": dict(converters), "_instant": instant}

    def value(name: str) -> str:
        if name in times:
            return f"_instant(p[{name!r}])"
        if name in converters:
            return f"_conv[{name!r}](p[{name!r}])"
        if name in fixed:  # the caller may still give its own, as SQLAlchemy lets it
            return f"p.get({name!r}, _fixed[{name!r}])"
        return f"p[{name!r}]"

    if sqlite:
        assert positions is not None
        body = "(" + "".join(f"{value(name)}, " for name in positions) + ")"
    else:
        changed = [name for name in (*times, *converters) if name not in fixed]
        body = "{**_fixed, **p" + "".join(f", {name!r}: {value(name)}" for name in changed) + "}"
    code = f"def bind(p):\n    return {body}\n"
    exec(code, names)
    bind: Callable[[Mapping[str, Any]], Any] = names["bind"]  # type: ignore[assignment]
    return bind


def _instant(value: Any, sqlite: bool) -> Any:
    return _instant_sqlite(value) if sqlite else _instant_server(value)


def _instant_server(value: Any) -> Any:
    if type(value) is dt.datetime and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given where a zone-aware UTC time is needed")
    return value


def _instant_sqlite(value: Any) -> Any:
    if type(value) is not dt.datetime:
        return value
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given where a zone-aware UTC time is needed")
    # The same few instants are bound again and again (a transaction's "now" in every row it writes): their
    # text, made once, is kept. Equal instants in other zones are equal keys, and have the same UTC text.
    found = _FORMATTED.get(value)
    if found is None:
        if len(_FORMATTED) >= _PARSED_MAX:
            _FORMATTED.clear()
        found = _FORMATTED[value] = sqlite_text(value)
    return found


# A member's lots and spend rows are read again by each of its operations: their times, parsed once, are kept.
_PARSED: dict[str, dt.datetime] = {}
_FORMATTED: dict[dt.datetime, str] = {}
_PARSED_MAX = 100_000


def _sqlite_time(text: str) -> dt.datetime:
    found = _PARSED.get(text)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[text] = dt.datetime.fromisoformat(text).replace(tzinfo=_UTC)
    return found


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(_UTC)


def _driver(conn: Connection) -> Any:
    # The connection's own DBAPI connection: the same transaction as every statement run through ``conn``.
    return conn.connection.driver_connection
