"""UTCDateTime: aware values round-trip as UTC on both databases; a naive value is refused, never guessed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select
from sqlalchemy.exc import StatementError

from c360.store import Database, open_database
from c360.store.types import UTCDateTime, sqlite_text, utcnow

test_metadata = MetaData()
times = Table(
    "test_times",
    test_metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
)

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(open_database(store_url))
    test_metadata.create_all(database.engine)
    yield database
    database.close()


def _round_trip(db: Database, value: dt.datetime | None) -> dt.datetime | None:
    with db.write() as conn:
        new_id = conn.execute(insert(times).values(at=value).returning(times.c.id)).scalar_one()
    with db.read() as conn:
        back: dt.datetime | None = conn.execute(select(times.c.at).where(times.c.id == new_id)).scalar_one()
    return back


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2025, 3, 1, 0, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 1, 6, 59, 59, 999_999, tzinfo=SAIGON),  # the previous UTC day
        dt.datetime(2024, 2, 29, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-9, minutes=-30))),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
    ],
    ids=["utc", "saigon-previous-utc-day", "negative-offset", "before-epoch"],
)
def test_aware_values_come_back_as_the_same_instant_in_utc(db: Database, value: dt.datetime) -> None:
    back = _round_trip(db, value)
    assert back == value.astimezone(dt.UTC)  # (equality across zones is False for wall times in a gap or fold)
    assert back is not None
    assert back.utcoffset() == dt.timedelta(0)
    assert back.replace(tzinfo=None) == value.astimezone(dt.UTC).replace(tzinfo=None)


def test_none_round_trips(db: Database) -> None:
    assert _round_trip(db, None) is None


def test_naive_values_are_refused_and_nothing_is_written(db: Database) -> None:
    with pytest.raises(StatementError) as caught, db.write() as conn:
        conn.execute(insert(times).values(at=dt.datetime(2025, 3, 1, 12, 0)))
    assert isinstance(caught.value.orig, ValueError)
    assert "naive datetime" in str(caught.value.orig)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(times)).scalar_one() == 0


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().utcoffset() == dt.timedelta(0)


def test_any_aware_instant_round_trips(db: Database) -> None:
    # Hypothesis inside the test: the database fixture is created once, the examples share it.
    @settings(max_examples=40, deadline=None)
    @given(
        st.datetimes(
            min_value=dt.datetime(1900, 1, 1),
            max_value=dt.datetime(2200, 1, 1),
            timezones=st.sampled_from([dt.UTC, SAIGON, ZoneInfo("America/St_Johns"), ZoneInfo("Pacific/Kiritimati")]),
        )
    )
    def check(value: dt.datetime) -> None:
        back = _round_trip(db, value)
        assert back == value.astimezone(dt.UTC)  # (equality across zones is False for wall times in a gap or fold)
        assert back is not None
        assert back.utcoffset() == dt.timedelta(0)

    check()


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1, 1, 2), timezones=st.sampled_from([dt.UTC, SAIGON])))
def test_sqlite_text_is_what_sqlalchemy_stores(value: dt.datetime) -> None:
    """The bulk and prepared writes store this text; SQLAlchemy's own INSERT must have stored the same."""
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    test_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(times).values(id=1, at=value))
        stored = conn.execute(text("SELECT at FROM test_times")).scalar_one()
    engine.dispose()
    assert sqlite_text(value) == stored
