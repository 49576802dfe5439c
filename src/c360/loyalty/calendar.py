"""Calendar arithmetic of the program in the workspace's time zone: months, periods, expiry dates."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["day", "week", "month", "year", "lifetime"]


def local_date(at: dt.datetime, zone: ZoneInfo) -> dt.date:
    return at.astimezone(zone).date()


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole calendar months; the 31st becomes the month's last day when it has fewer."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def add_months_at(at: dt.datetime, months: int, zone: ZoneInfo) -> dt.datetime:
    """An instant moved by calendar months in ``zone`` (the local wall-clock time kept), as UTC."""
    local = at.astimezone(zone)
    moved = add_months(local.date(), months)
    return dt.datetime.combine(moved, local.time(), tzinfo=zone).astimezone(dt.UTC)


def start_of_day(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def expiry_after(earned_at: dt.datetime, months: int, zone: ZoneInfo) -> dt.datetime:
    """The end of the ``months``-th month after the month of ``earned_at``: the first instant of the next month.

    Earned on 15 March 2026 with 12 months: expires at the end of March 2027, i.e. at 1 April 2027 00:00 local.
    """
    local = earned_at.astimezone(zone).date()
    return start_of_day(add_months(local.replace(day=1), months + 1), zone)


def period_start(at: dt.datetime, period: Period, zone: ZoneInfo) -> dt.datetime | None:
    """The first instant of the calendar period holding ``at`` (weeks start on Monday); None for lifetime."""
    day = local_date(at, zone)
    if period == "day":
        return start_of_day(day, zone)
    if period == "week":
        return start_of_day(day - dt.timedelta(days=day.weekday()), zone)
    if period == "month":
        return start_of_day(day.replace(day=1), zone)
    if period == "year":
        return start_of_day(day.replace(month=1, day=1), zone)
    return None


def period_end(at: dt.datetime, period: Period, zone: ZoneInfo) -> dt.datetime | None:
    """The first instant after the calendar period holding ``at``; None for lifetime."""
    start = period_start(at, period, zone)
    if start is None:
        return None
    day = start.astimezone(zone).date()
    if period == "day":
        return start_of_day(day + dt.timedelta(days=1), zone)
    if period == "week":
        return start_of_day(day + dt.timedelta(days=7), zone)
    if period == "month":
        return start_of_day(add_months(day, 1), zone)
    return start_of_day(day.replace(year=day.year + 1), zone)
