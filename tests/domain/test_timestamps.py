import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from c360.domain.timestamps import format_utc, from_micros, parse_timestamp, to_micros

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_zoned_text_becomes_utc() -> None:
    assert parse_timestamp("2026-02-17T08:00:00+07:00") == dt.datetime(2026, 2, 17, 1, 0, tzinfo=dt.UTC)
    assert parse_timestamp("2026-02-17T01:00:00Z") == dt.datetime(2026, 2, 17, 1, 0, tzinfo=dt.UTC)


def test_naive_text_is_read_in_the_given_zone() -> None:
    assert parse_timestamp("2026-02-17 08:00:00", naive_zone=HCM) == dt.datetime(2026, 2, 17, 1, tzinfo=dt.UTC)
    assert parse_timestamp("2026-02-17 08:00:00") == dt.datetime(2026, 2, 17, 8, tzinfo=dt.UTC)


@pytest.mark.parametrize("bad", ["yesterday", "", "2026-13-01", 12345, None])
def test_rejects_non_timestamps(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(bad)


def test_format_utc_is_segment_style() -> None:
    assert format_utc(dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=HCM)) == "2026-01-01T20:04:05.678Z"


@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)))
def test_micros_round_trip(value: dt.datetime) -> None:
    assert from_micros(to_micros(value)) == value
