"""The shop behaves like a shop: heavy-tailed spend, Tết and double-day peaks, repeat purchase and churn."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter

from c360.demo.shop_calendar import TET_DATES
from tests.demo.conftest import LOCAL, Dataset, local_day, parse_utc


def _all_orders_per_local_day(dataset: Dataset) -> Counter[dt.date]:
    days: Counter[dt.date] = Counter()
    for purchases in dataset.orders_by_person.values():
        for when, _ in purchases:
            days[when.astimezone(LOCAL).date()] += 1
    return days


def test_the_top_fifth_of_customers_brings_most_of_the_revenue(dataset: Dataset) -> None:
    revenue = sorted((sum(total for _, total in orders) for orders in dataset.orders_by_person.values()), reverse=True)
    assert len(revenue) > 1000
    top = revenue[: len(revenue) // 5]
    assert sum(top) / sum(revenue) >= 0.60


def test_the_tet_week_has_at_least_twice_the_weekly_orders(dataset: Dataset) -> None:
    days = _all_orders_per_local_day(dataset)
    start = dataset.cfg.start_date
    weeks: Counter[int] = Counter()
    for day, orders in days.items():
        weeks[(day - start).days // 7] += orders
    baseline = statistics.median(weeks.values())
    tet = TET_DATES[2026]
    tet_week = sum(days[tet - dt.timedelta(days=offset)] for offset in range(1, 8))
    assert tet_week >= 2 * baseline, (tet_week, baseline)
    holiday = sum(days[tet + dt.timedelta(days=offset)] for offset in range(4))
    assert holiday < tet_week / 4  # shops close and people celebrate


def test_double_days_are_daily_peaks_of_online_orders(dataset: Dataset) -> None:
    days = Counter(local_day(order["timestamp"]) for order in dataset.events.orders)
    baseline = statistics.median(days.values())
    for peak in (dt.date(2025, 11, 11), dt.date(2025, 12, 12)):
        assert days[peak] >= 2 * baseline, (peak, days[peak], baseline)
    ordinary = [days[peak - dt.timedelta(days=7)] for peak in (dt.date(2025, 11, 11), dt.date(2025, 12, 12))]
    assert days[dt.date(2025, 11, 11)] > max(ordinary)


def test_many_buyers_come_back(dataset: Dataset) -> None:
    counts = [len(orders) for orders in dataset.orders_by_person.values()]
    repeat = sum(1 for count in counts if count >= 2) / len(counts)
    assert 0.3 <= repeat <= 0.9
    assert max(counts) >= 20  # a few very frequent buyers


def test_some_customers_drop_out_and_then_stop_buying(dataset: Dataset) -> None:
    dropped = 0
    for person_id, orders in dataset.orders_by_person.items():
        dropped_at = dataset.people[person_id]["dropped_out_at"]
        if not dropped_at:
            continue
        dropped += 1
        cutoff = parse_utc(dropped_at) + dt.timedelta(seconds=1)
        assert all(when <= cutoff for when, _ in orders), person_id
    assert dropped >= 0.1 * len(dataset.orders_by_person)


def test_dropped_customers_also_stop_browsing(dataset: Dataset) -> None:
    last_seen: dict[str, str] = {}
    with (dataset.path / "events.jsonl").open("rb") as handle:
        import orjson

        for line in handle:
            message = orjson.loads(line)
            if message["type"] in ("page", "screen") and message["anonymousId"] is not None:
                last_seen[dataset.person_of_id[message["anonymousId"]]] = message["timestamp"]
    checked = 0
    for person_id, seen in last_seen.items():
        dropped_at = dataset.people[person_id]["dropped_out_at"]
        if dropped_at:
            checked += 1
            # A session that started before the dropout may run on for a while.
            assert parse_utc(seen) <= parse_utc(dropped_at) + dt.timedelta(hours=3), person_id
    assert checked > 100


def test_truth_counts_match_the_sources(dataset: Dataset) -> None:
    for person_id, orders in dataset.orders_by_person.items():
        row = dataset.people[person_id]
        assert int(row["orders"]) == len(orders)
        assert int(row["revenue_vnd"]) == sum(total for _, total in orders)
