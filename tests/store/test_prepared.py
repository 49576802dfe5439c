"""Prepared statements read and write exactly what SQLAlchemy's own execution does, on SQLite and PostgreSQL,
inside the caller's transaction: the same stored text for instants, the same values read back, ids from RETURNING,
the statement's own literals bound, and naive times refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from sqlalchemy import bindparam, delete, func, insert, or_, select, text, update

from c360.store import Store
from c360.store.prepared import Prepared, PreparedInsert
from c360.store.schema import identity_edges, loyalty_lots

HANOI = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)

LOT: dict[str, Any] = {
    "member_id": "m1",
    "origin_member_id": "m1",
    "entry_id": 7,
    "state": "pending",
    # the same instant written in Hanoi's offset: stored as UTC
    "earned_at": dt.datetime(2025, 3, 1, 19, 0, 0, 123456, tzinfo=HANOI),
    "activates_at": T0 + dt.timedelta(days=14),
    "expires_at": None,
    "original": 120,
    "remaining": 120,
}

NEW_LOT = Prepared(insert(loyalty_lots).returning(loyalty_lots.c.id))
LOTS_OF = Prepared(
    select(loyalty_lots)
    .where(
        loyalty_lots.c.member_id == bindparam("b_member_id"),
        or_(loyalty_lots.c.state == "pending", loyalty_lots.c.state == "active"),
    )
    .order_by(loyalty_lots.c.id)
    .with_for_update()
)
DUE = Prepared(
    select(func.count()).where(loyalty_lots.c.state == "pending", loyalty_lots.c.activates_at <= bindparam("b_now"))
)
ACTIVATE = Prepared(update(loyalty_lots).where(loyalty_lots.c.id == bindparam("b_id")).values(state="active"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


def _raw(store: Store) -> list[Any]:
    with store.read() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT earned_at, activates_at FROM loyalty_lots ORDER BY id"))]


def test_a_row_is_stored_and_read_as_sqlalchemy_does(store: Store) -> None:
    with store.write() as conn:
        conn.execute(insert(loyalty_lots), LOT)
        new_id = NEW_LOT.scalar(conn, LOT)
    with store.read() as conn:
        by_sqlalchemy = [tuple(r) for r in conn.execute(select(loyalty_lots).order_by(loyalty_lots.c.id))]
    raw = _raw(store)
    assert raw[0] == raw[1]  # the same stored text (SQLite) or timestamptz (PostgreSQL)
    assert isinstance(new_id, int)
    assert by_sqlalchemy[1][0] == new_id
    with store.read() as conn:
        prepared = LOTS_OF.rows(conn, {"b_member_id": "m1"})
    assert [tuple(r) for r in prepared] == by_sqlalchemy
    assert prepared[0].earned_at == dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    assert prepared[0].earned_at.tzinfo == dt.UTC
    assert prepared[0].expires_at is None
    assert prepared[0]._mapping["remaining"] == 120


def test_a_prepared_insert_gives_each_new_row_its_own_id(store: Store) -> None:
    """SQLite's from the cursor, PostgreSQL's from RETURNING: either way the id of the row just written, also after
    other statements (an UPDATE, a DELETE) ran in between."""
    new_lot = PreparedInsert(loyalty_lots)
    with store.write() as conn:
        ids = [new_lot.new_id(conn, {**LOT, "entry_id": i}) for i in range(3)]
        ACTIVATE.execute(conn, {"b_id": ids[0]})
        conn.execute(delete(loyalty_lots).where(loyalty_lots.c.id == ids[1]))
        ids.append(new_lot.new_id(conn, {**LOT, "entry_id": 3}))
    assert len(set(ids)) == 4
    assert all(isinstance(i, int) for i in ids)
    with store.read() as conn:
        by_id = {r.id: r.entry_id for r in conn.execute(select(loyalty_lots.c.id, loyalty_lots.c.entry_id))}
    assert by_id == {ids[0]: 0, ids[2]: 2, ids[3]: 3}


class LotDates(NamedTuple):
    earned_at: dt.datetime
    activates_at: dt.datetime | None


def test_rows_come_back_as_the_callers_own_type_with_values_converted(store: Store) -> None:
    dates = Prepared(
        select(loyalty_lots.c.earned_at, loyalty_lots.c.activates_at).where(
            loyalty_lots.c.member_id == bindparam("b_member_id")
        ),
        row_type=LotDates,
    )
    with store.write() as conn:
        NEW_LOT.scalar(conn, LOT)
        rows = dates.rows(conn, {"b_member_id": "m1"})
    assert rows == [LotDates(dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC), T0 + dt.timedelta(days=14))]
    assert type(rows[0]) is LotDates
    assert rows[0].earned_at.tzinfo == dt.UTC
    misnamed = Prepared(select(loyalty_lots.c.expires_at, loyalty_lots.c.earned_at), row_type=LotDates)
    with pytest.raises(TypeError, match="not the statement's columns"), store.read() as conn:
        misnamed.rows(conn)


def test_literals_of_the_statement_and_compared_instants(store: Store) -> None:
    with store.write() as conn:
        first = NEW_LOT.scalar(conn, LOT)
        NEW_LOT.scalar(conn, {**LOT, "activates_at": T0 + dt.timedelta(days=30)})
    with store.write() as conn:
        assert DUE.scalar(conn, {"b_now": T0 + dt.timedelta(days=20)}) == 1
        # an instant in another offset compares as the same instant
        assert DUE.scalar(conn, {"b_now": (T0 + dt.timedelta(days=40)).astimezone(HANOI)}) == 2
        ACTIVATE.execute(conn, {"b_id": first})
        assert DUE.scalar(conn, {"b_now": T0 + dt.timedelta(days=40)}) == 1
        states = [r.state for r in LOTS_OF.rows(conn, {"b_member_id": "m1"})]
    assert states == ["active", "pending"]
    with store.read() as conn:
        assert LOTS_OF.first(conn, {"b_member_id": "nobody"}) is None
        assert LOTS_OF.rows(conn, {"b_member_id": "nobody"}) == []


def test_many_rows_at_once_and_rollback_keeps_nothing(store: Store) -> None:
    new_lot = Prepared(insert(loyalty_lots))

    def failing_operation() -> None:
        with store.write() as conn:
            new_lot.many(conn, [{**LOT, "entry_id": i} for i in range(5)])
            raise RuntimeError("the operation failed after writing")

    with pytest.raises(RuntimeError):
        failing_operation()
    assert _raw(store) == []
    with store.write() as conn:
        new_lot.many(conn, [{**LOT, "entry_id": i} for i in range(5)])
        new_lot.many(conn, [])
    with store.read() as conn:
        assert [r.entry_id for r in LOTS_OF.rows(conn, {"b_member_id": "m1"})] == [0, 1, 2, 3, 4]


def test_naive_instants_are_refused(store: Store) -> None:
    naive = {**LOT, "earned_at": dt.datetime(2025, 3, 1, 12, 0)}
    with pytest.raises(ValueError, match="naive"), store.write() as conn:
        NEW_LOT.scalar(conn, naive)
    with pytest.raises(ValueError, match="naive"), store.read() as conn:
        DUE.scalar(conn, {"b_now": dt.datetime(2025, 3, 1)})
    assert _raw(store) == []


def test_values_sqlalchemy_converts_are_converted_both_ways(store: Store) -> None:
    """Booleans (SQLite keeps 0/1) and floats go in and come back as SQLAlchemy's own path has them."""
    edge = {
        "a_type": "email", "a_value": "an@example.com", "b_type": "phone", "b_value": "+84912345678",
        "profile_id": "p1", "kind": "probabilistic", "live": False, "source": None, "message_id": None,
        "seen_at": T0, "match_probability": 0.987, "evidence": '{"name": "exact"}',
    }  # fmt: skip
    new_edge = Prepared(insert(identity_edges))
    live_edges = Prepared(select(identity_edges).where(identity_edges.c.live == bindparam("b_live")))
    with store.write() as conn:
        new_edge.execute(conn, edge)
        conn.execute(insert(identity_edges), {**edge, "b_value": "+84912000000", "live": True})
    with store.read() as conn:
        by_sqlalchemy = {r.b_value: tuple(r) for r in conn.execute(select(identity_edges))}
        held = live_edges.rows(conn, {"b_live": False})
        live = live_edges.rows(conn, {"b_live": True})
    assert [r.b_value for r in held] == ["+84912345678"]
    assert [r.b_value for r in live] == ["+84912000000"]
    assert held[0].live is False
    assert live[0].live is True
    assert tuple(held[0]) == by_sqlalchemy["+84912345678"]
    assert tuple(live[0]) == by_sqlalchemy["+84912000000"]
