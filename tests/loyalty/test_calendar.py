"""Calendar arithmetic in the workspace's time zone (Asia/Ho_Chi_Minh, UTC+7, no daylight saving)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from c360.loyalty.calendar import (
    Period,
    add_months,
    add_months_at,
    expiry_after,
    local_date,
    period_end,
    period_start,
    start_of_day,
)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def test_points_earned_mid_march_expire_at_the_first_instant_of_april_a_year_later() -> None:
    earned = dt.datetime(2026, 3, 15, 10, 30, tzinfo=ZONE)
    expires = expiry_after(earned, 12, ZONE)
    assert expires == utc(2027, 3, 31, 17)
    assert expires.astimezone(ZONE) == dt.datetime(2027, 4, 1, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("earned", "months", "expires"),
    [
        # 1 March 00:30 local is still 28 February in UTC: the local month counts.
        (utc(2026, 2, 28, 17, 30), 12, utc(2027, 3, 31, 17)),
        # 31 March 23:59 local and 1 April 00:00 local fall in different months.
        (utc(2026, 3, 31, 16, 59), 12, utc(2027, 3, 31, 17)),
        (utc(2026, 3, 31, 17, 0), 12, utc(2027, 4, 30, 17)),
        # December rolls the year; one month means the end of the next month.
        (utc(2025, 12, 10), 1, utc(2026, 1, 31, 17)),
        (utc(2025, 12, 10), 12, utc(2026, 12, 31, 17)),
    ],
)
def test_expiry_follows_the_local_month_of_the_award(earned: dt.datetime, months: int, expires: dt.datetime) -> None:
    assert expiry_after(earned, months, ZONE) == expires


@pytest.mark.parametrize(
    ("day", "months", "moved"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), 1, dt.date(2028, 2, 29)),  # leap year
        (dt.date(2026, 3, 31), 1, dt.date(2026, 4, 30)),
        (dt.date(2026, 3, 31), -1, dt.date(2026, 2, 28)),
        (dt.date(2026, 5, 31), 3, dt.date(2026, 8, 31)),
        (dt.date(2026, 11, 30), 3, dt.date(2027, 2, 28)),
        (dt.date(2026, 12, 15), 1, dt.date(2027, 1, 15)),
        (dt.date(2026, 1, 15), -1, dt.date(2025, 12, 15)),
        (dt.date(2024, 2, 29), 12, dt.date(2025, 2, 28)),
        (dt.date(2026, 6, 10), 0, dt.date(2026, 6, 10)),
        (dt.date(2026, 6, 10), 24, dt.date(2028, 6, 10)),
    ],
)
def test_add_months_clamps_to_the_end_of_shorter_months(day: dt.date, months: int, moved: dt.date) -> None:
    assert add_months(day, months) == moved


def test_add_months_at_keeps_the_local_wall_clock_time() -> None:
    # 31 January 2026 03:00 local (30 January 20:00 UTC) + 1 month = 28 February 03:00 local.
    assert add_months_at(utc(2026, 1, 30, 20), 1, ZONE) == utc(2026, 2, 27, 20)
    assert add_months_at(utc(2025, 1, 10, 5), 12, ZONE) == utc(2026, 1, 10, 5)


def test_local_date_and_start_of_day_use_the_zone() -> None:
    assert local_date(utc(2026, 3, 31, 18), ZONE) == dt.date(2026, 4, 1)
    assert local_date(utc(2026, 3, 31, 16, 59, 59), ZONE) == dt.date(2026, 3, 31)
    assert start_of_day(dt.date(2026, 4, 1), ZONE) == utc(2026, 3, 31, 17)


# 2026-03-01 is a Sunday; 2026-03-02 a Monday. 16:59 UTC is 23:59 local; 17:00 UTC is 00:00 local the next day.
@pytest.mark.parametrize(
    ("at", "period", "start", "end"),
    [
        (utc(2026, 3, 10, 16, 59), "day", utc(2026, 3, 9, 17), utc(2026, 3, 10, 17)),
        (utc(2026, 3, 10, 17, 0), "day", utc(2026, 3, 10, 17), utc(2026, 3, 11, 17)),
        (utc(2026, 3, 10, 0, 0), "day", utc(2026, 3, 9, 17), utc(2026, 3, 10, 17)),
        # Sunday 1 March 23:59 local: the week that began Monday 23 February.
        (utc(2026, 3, 1, 16, 59), "week", utc(2026, 2, 22, 17), utc(2026, 3, 1, 17)),
        # Monday 2 March 00:00 local starts a new week (still Sunday in UTC).
        (utc(2026, 3, 1, 17, 0), "week", utc(2026, 3, 1, 17), utc(2026, 3, 8, 17)),
        (utc(2026, 3, 4, 12), "week", utc(2026, 3, 1, 17), utc(2026, 3, 8, 17)),
        # 31 March 18:00 UTC is 1 April local.
        (utc(2026, 3, 31, 18), "month", utc(2026, 3, 31, 17), utc(2026, 4, 30, 17)),
        (utc(2026, 3, 31, 16, 59), "month", utc(2026, 2, 28, 17), utc(2026, 3, 31, 17)),
        (utc(2026, 2, 10), "month", utc(2026, 1, 31, 17), utc(2026, 2, 28, 17)),
        (utc(2025, 12, 31, 17), "year", utc(2025, 12, 31, 17), utc(2026, 12, 31, 17)),
        (utc(2025, 12, 31, 16, 59), "year", utc(2024, 12, 31, 17), utc(2025, 12, 31, 17)),
    ],
)
def test_periods_start_and_end_at_local_midnight(
    at: dt.datetime, period: Period, start: dt.datetime, end: dt.datetime
) -> None:
    assert period_start(at, period, ZONE) == start
    assert period_end(at, period, ZONE) == end
    assert start <= at < end


def test_a_lifetime_has_no_bounds() -> None:
    assert period_start(utc(2026, 3, 10), "lifetime", ZONE) is None
    assert period_end(utc(2026, 3, 10), "lifetime", ZONE) is None
