"""upsert: one INSERT ... ON CONFLICT DO UPDATE on both databases; excluded / least / greatest mean the same."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from c360.store import Store
from c360.store.schema import known_users, source_stats
from c360.store.upsert import excluded, greatest, least, upsert

T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


def _count_event(store: Store, source: str, kind: str, at: dt.datetime) -> None:
    with store.write() as conn:
        upsert(
            conn,
            source_stats,
            {"source": source, "type": kind, "event_count": 1, "first_event_at": at, "last_event_at": at},
            key=("source", "type"),
            on_conflict={
                "event_count": source_stats.c.event_count + 1,
                "first_event_at": least(conn, source_stats.c.first_event_at, excluded(source_stats, "first_event_at")),
                "last_event_at": greatest(conn, source_stats.c.last_event_at, excluded(source_stats, "last_event_at")),
            },
        )


def _stats(store: Store) -> list[tuple[str, str, int, dt.datetime, dt.datetime]]:
    with store.read() as conn:
        rows = conn.execute(select(source_stats).order_by(source_stats.c.source, source_stats.c.type))
        return [tuple(row) for row in rows]


def test_insert_then_conflict_update(store: Store) -> None:
    _count_event(store, "web", "track", T0)
    assert _stats(store) == [("web", "track", 1, T0, T0)]

    later, earlier = T0 + dt.timedelta(hours=5), T0 - dt.timedelta(days=2)
    _count_event(store, "web", "track", later)
    _count_event(store, "web", "track", earlier)
    _count_event(store, "web", "identify", T0)  # another key: a new row, the first one untouched
    assert _stats(store) == [
        ("web", "identify", 1, T0, T0),
        ("web", "track", 3, earlier, later),
    ]


def test_excluded_is_the_proposed_row(store: Store) -> None:
    values = {"user_id": "u1", "event_count": 7, "first_seen_at": T0, "last_seen_at": T0}
    with store.write() as conn:
        upsert(conn, known_users, values, key=("user_id",), on_conflict={"event_count": 0})
        later = T0 + dt.timedelta(minutes=1)
        upsert(
            conn,
            known_users,
            {**values, "event_count": 40, "last_seen_at": later},
            key=("user_id",),
            on_conflict={
                "event_count": known_users.c.event_count + excluded(known_users, "event_count"),
                "last_seen_at": excluded(known_users, "last_seen_at"),
            },
        )
    with store.read() as conn:
        row = conn.execute(select(known_users)).one()
    assert tuple(row) == ("u1", 47, T0, later)


def test_prepared_upsert_writes_what_upsert_writes(store: Store) -> None:
    """PreparedUpsert: new rows inserted, existing ones given the proposed values of the columns it updates (and
    only those), rows whose keys come in another order in the same call, times read back as they were written."""
    from c360.store.upsert import PreparedUpsert

    write = PreparedUpsert(known_users, key=("user_id",), update=("event_count", "last_seen_at"))
    with store.write() as conn:
        write.many(
            conn,
            [
                {"user_id": "u1", "event_count": 1, "first_seen_at": T0, "last_seen_at": T0},
                {"user_id": "u2", "event_count": 2, "first_seen_at": T0, "last_seen_at": T0},
            ],
        )
    later = T0 + dt.timedelta(days=1)
    with store.write() as conn:
        write.many(
            conn,
            [
                # first_seen_at is proposed but not among the updated columns: the stored one stays
                {"user_id": "u1", "event_count": 5, "first_seen_at": later, "last_seen_at": later},
                {"user_id": "u3", "event_count": 1, "first_seen_at": later, "last_seen_at": later},
                {"event_count": 7, "user_id": "u2", "last_seen_at": later, "first_seen_at": later},  # another order
            ],
        )
    with store.read() as conn:
        rows = [tuple(r) for r in conn.execute(select(known_users).order_by(known_users.c.user_id))]
    assert rows == [("u1", 5, T0, later), ("u2", 7, T0, later), ("u3", 1, later, later)]
