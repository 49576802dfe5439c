"""Bulk inserts store exactly what SQLAlchemy's INSERT stores: the same instants, booleans, NULLs and text, on
SQLite and PostgreSQL, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import delete, insert, select, text

from c360.store import Store
from c360.store.bulk import insert_arrow
from c360.store.schema import identity_edges

T0 = dt.datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
HANOI = dt.timezone(dt.timedelta(hours=7))

ROWS: list[dict[str, Any]] = [
    {
        "a_type": "email", "a_value": "an@example.com", "b_type": "phone", "b_value": "+84912345678",
        "profile_id": "p1", "kind": "deterministic", "live": True, "source": "crm", "message_id": "m1",
        "seen_at": T0, "match_probability": None, "evidence": None,
    },
    {
        "a_type": "record", "a_value": "crm:1", "b_type": "record", "b_value": "pos:9", "profile_id": None,
        "kind": "probabilistic", "live": False, "source": None, "message_id": None,
        # the same instant written in Hanoi's offset: stored as UTC
        "seen_at": dt.datetime(2025, 3, 2, 7, 30, tzinfo=HANOI), "match_probability": 0.987,
        "evidence": '{"name": "exact"}',
    },
]  # fmt: skip


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


def _stored(store: Store) -> list[tuple[Any, ...]]:
    with store.read() as conn:
        return [tuple(row) for row in conn.execute(select(identity_edges).order_by(identity_edges.c.a_type))]


def _raw_seen_at(store: Store) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(text("SELECT seen_at FROM identity_edges ORDER BY a_type")).scalars())


def _reference(store: Store) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """What SQLAlchemy's own INSERT stores for ROWS (then the table is emptied again)."""
    with store.write() as conn:
        conn.execute(insert(identity_edges), ROWS)
    expected = _stored(store), _raw_seen_at(store)
    with store.write() as conn:
        conn.execute(delete(identity_edges))
    return expected


def _arrow() -> pa.Table:
    """ROWS as an engine gives them: Arrow columns."""
    columns = {name: [row[name] for row in ROWS] for name in ROWS[0]}
    return pa.table(
        {
            **{name: pa.array(values, pa.string()) for name, values in columns.items() if isinstance(values[0], str)},
            "profile_id": pa.array(columns["profile_id"], pa.string()),
            "live": pa.array([1, 0], pa.int32()),  # an engine's 0/1 reads as false/true
            "seen_at": pa.array(columns["seen_at"], pa.timestamp("us", "UTC")),
            "match_probability": pa.array(columns["match_probability"], pa.float64()),
            "evidence": pa.array(columns["evidence"], pa.string()),
            "source": pa.array(columns["source"], pa.string()),
            "message_id": pa.array(columns["message_id"], pa.string()),
        }
    )


def test_arrow_columns_are_stored_as_sqlalchemy_stores_them(store: Store) -> None:
    expected_rows, expected_raw = _reference(store)
    with store.write() as conn:
        assert insert_arrow(conn, identity_edges, _arrow()) == 2
    assert _stored(store) == expected_rows
    assert _raw_seen_at(store) == expected_raw
    assert expected_rows[1][9] == dt.datetime(2025, 3, 2, 0, 30, tzinfo=dt.UTC)


def test_a_rolled_back_transaction_keeps_nothing(store: Store) -> None:
    def failing_resolve() -> None:
        with store.write() as conn:
            insert_arrow(conn, identity_edges, _arrow())
            raise RuntimeError("the resolve failed after writing")

    with pytest.raises(RuntimeError):
        failing_resolve()
    assert _stored(store) == []


def test_naive_instants_are_refused(store: Store) -> None:
    data = pa.table({"a_type": ["x"], "seen_at": pa.array([dt.datetime(2025, 3, 1)], pa.timestamp("us"))})
    with pytest.raises(ValueError, match=r"identity_edges\.seen_at"), store.write() as conn:
        insert_arrow(conn, identity_edges, data)
    assert _stored(store) == []


def test_nothing_to_insert_is_zero_rows(store: Store) -> None:
    with store.write() as conn:
        assert insert_arrow(conn, identity_edges, pa.table({"a_type": pa.array([], pa.string())})) == 0
    assert _stored(store) == []
