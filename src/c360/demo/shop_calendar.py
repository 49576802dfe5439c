"""The retail calendar of the demo shop: Tết, double-day sales, hours of the day, and time formatting.

Demand is a non-homogeneous Poisson process: each customer has a rate per baseline day, and the calendar gives
every hour of the simulated period a weight (day multiplier x share of the day). Drawing the next arrival is then
a time change over the cumulative weight, which costs one exponential draw and one bisection.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Sequence
from typing import Final

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 86_400_000
#: Vietnam has no daylight saving time, so Asia/Ho_Chi_Minh is always UTC+7.
LOCAL_OFFSET_MS: Final = 7 * HOUR_MS
_EPOCH_ORDINAL: Final = dt.date(1970, 1, 1).toordinal()

#: Lunar new year's day (Tết Nguyên Đán) as observed in Vietnam.
TET_DATES: Final[dict[int, dt.date]] = {
    2018: dt.date(2018, 2, 16),
    2019: dt.date(2019, 2, 5),
    2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12),
    2022: dt.date(2022, 2, 1),
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
}

#: Online sale days (month, day) -> demand multiplier. 11.11 and 12.12 are the big ones in Vietnamese e-commerce.
DOUBLE_DAYS: Final[dict[tuple[int, int], float]] = {(9, 9): 2.2, (10, 10): 2.4, (11, 11): 4.5, (12, 12): 3.8}
#: Gift days for a fashion and cosmetics shop: International Women's Day and Vietnamese Women's Day.
GIFT_DAYS: Final[dict[tuple[int, int], float]] = {(3, 8): 1.8, (10, 20): 1.8, (2, 14): 1.5}
_WEEKDAY_FACTOR: Final = (0.95, 0.95, 1.0, 1.0, 1.05, 1.2, 1.15)  # Monday .. Sunday

# fmt: off
#: Share of a day's online activity per local hour: a lunch bump and a late-evening peak.
ONLINE_HOURS: Final[tuple[float, ...]] = (
    0.6, 0.3, 0.15, 0.1, 0.1, 0.2, 0.5, 1.0, 1.4, 1.6, 1.7, 1.8,
    2.0, 1.9, 1.6, 1.5, 1.5, 1.6, 1.8, 2.3, 2.8, 3.0, 2.6, 1.5,
)
#: Store traffic per local hour: open 09:00-22:00, busiest after work.
STORE_HOURS: Final[tuple[float, ...]] = (
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.8, 1.0,
    1.1, 1.0, 0.9, 1.0, 1.2, 1.5, 1.9, 2.1, 1.8, 1.0, 0.0, 0.0,
)
# fmt: on


def tet_date(year: int) -> dt.date | None:
    """Lunar new year's day of `year`, when the table knows it."""
    return TET_DATES.get(year)


def tet_factor(day: dt.date, *, store: bool) -> float:
    """Demand around Tết: a three-week shopping rush that peaks the week before, then shops close for the holiday."""
    for year in (day.year, day.year + 1):
        tet = TET_DATES.get(year)
        if tet is None:
            continue
        offset = (day - tet).days
        if -21 <= offset <= -15:
            return 1.4
        if -14 <= offset <= -8:
            return 2.0
        if -7 <= offset <= -1:
            return 3.2
        if 0 <= offset <= 3:
            return 0.05 if store else 0.35
        if 4 <= offset <= 7:
            return 0.8
    return 1.0


def day_multiplier(day: dt.date, *, store: bool) -> float:
    """Demand of a local calendar day relative to an ordinary day (1.0)."""
    factor = _WEEKDAY_FACTOR[day.weekday()] * tet_factor(day, store=store)
    key = (day.month, day.day)
    double = DOUBLE_DAYS.get(key)
    if double is not None:
        # Double-day sales are an online affair; stores see a softer echo.
        factor *= 1.0 + (double - 1.0) * 0.25 if store else double
    gift = GIFT_DAYS.get(key)
    if gift is not None:
        factor *= gift
    if day.month in (7, 8) and not store:
        factor *= 0.9  # the "ghost month" and the rainy season are slow for fashion
    return factor


def local_midnight_ms(day: dt.date) -> int:
    """UTC epoch milliseconds of local (UTC+7) midnight starting `day`."""
    return (day.toordinal() - _EPOCH_ORDINAL) * DAY_MS - LOCAL_OFFSET_MS


def local_date(ms: int) -> dt.date:
    """The local (UTC+7) calendar date of an epoch-milliseconds instant."""
    return dt.date.fromordinal((ms + LOCAL_OFFSET_MS) // DAY_MS + _EPOCH_ORDINAL)


class Intensity:
    """Hourly demand weights over a period; draws the next arrival of a Poisson process by time change."""

    __slots__ = ("cumulative", "hours", "start_ms", "total", "weights")

    def __init__(self, start_ms: int, weights: Sequence[float]) -> None:
        self.start_ms = start_ms
        self.weights = list(weights)
        cumulative = [0.0]
        running = 0.0
        for weight in self.weights:
            running += weight
            cumulative.append(running)
        self.cumulative = cumulative
        self.total = running
        self.hours = len(self.weights)

    @classmethod
    def for_period(cls, first_day: dt.date, days: int, *, store: bool) -> Intensity:
        """Weights for `days` local days from `first_day`: one ordinary day integrates to 1."""
        profile = STORE_HOURS if store else ONLINE_HOURS
        scale = 1.0 / sum(profile)
        weights: list[float] = []
        for offset in range(days):
            day = first_day + dt.timedelta(days=offset)
            multiplier = day_multiplier(day, store=store) * scale
            weights.extend(hour * multiplier for hour in profile)
        return cls(local_midnight_ms(first_day), weights)

    def next_after(self, t_ms: int, rate_per_day: float, exp_draw: float) -> int | None:
        """The next arrival after `t_ms` for a process of `rate_per_day`, given an Exp(1) draw; None past the end."""
        if rate_per_day <= 0.0:
            return None
        start = self.start_ms
        elapsed = t_ms - start
        if elapsed < 0:
            elapsed = 0
        hour = elapsed // HOUR_MS
        if hour >= self.hours:
            return None
        cumulative = self.cumulative
        position = cumulative[hour] + self.weights[hour] * ((elapsed - hour * HOUR_MS) / HOUR_MS)
        target = position + exp_draw / rate_per_day
        if target >= self.total:
            return None
        index = bisect_right(cumulative, target) - 1
        return start + index * HOUR_MS + int((target - cumulative[index]) / self.weights[index] * HOUR_MS)


_HMS: Final[tuple[str, ...]] = tuple(
    f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}" for second in range(86_400)
)
_MILLIS: Final[tuple[str, ...]] = tuple(f".{milli:03d}Z" for milli in range(1000))


class Clock:
    """Formats epoch milliseconds fast: a cached date part per day and a table of the 86,400 times of day."""

    __slots__ = ("_local_days", "_utc_days")

    def __init__(self) -> None:
        self._utc_days: dict[int, str] = {}
        self._local_days: dict[int, str] = {}

    def _utc_prefix(self, day: int) -> str:
        prefix = dt.date.fromordinal(day + _EPOCH_ORDINAL).isoformat() + "T"
        self._utc_days[day] = prefix
        return prefix

    def iso_utc(self, ms: int) -> str:
        """`2026-10-31T09:15:02.123Z`."""
        day, rest = divmod(ms, DAY_MS)
        second, milli = divmod(rest, 1000)
        prefix = self._utc_days.get(day) or self._utc_prefix(day)
        return prefix + _HMS[second] + _MILLIS[milli]

    def iso_utc_seconds(self, ms: int) -> str:
        """`2026-10-31T09:15:02Z` (exports that drop the milliseconds)."""
        day, rest = divmod(ms, DAY_MS)
        prefix = self._utc_days.get(day) or self._utc_prefix(day)
        return prefix + _HMS[rest // 1000] + "Z"

    def local(self, ms: int) -> str:
        """Local wall-clock time without a zone, as POS exports write it: `2026-10-31 16:15:02`."""
        day, rest = divmod(ms + LOCAL_OFFSET_MS, DAY_MS)
        prefix = self._local_days.get(day)
        if prefix is None:
            prefix = dt.date.fromordinal(day + _EPOCH_ORDINAL).isoformat() + " "
            self._local_days[day] = prefix
        return prefix + _HMS[rest // 1000]
