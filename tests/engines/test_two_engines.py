"""One pipeline, two engines, the same answer: the order-stats job and the known traps of engine-facts.md, on a lake
of generator events. Every test here needs both engines, so all carry the ``spark`` marker."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from c360.engines import Engine
from c360.lake.schema import EVENT_SCHEMA
from c360.sql.order_stats import order_stats_pipeline
from tests.engine_harness import same_on_both
from tests.engines.data import LakeData, expected_order_stats

pytestmark = pytest.mark.spark

HCM = "Asia/Ho_Chi_Minh"


@pytest.fixture
def both(duckdb_engine: Engine, spark_engine: Engine, events_lake: LakeData) -> tuple[Engine, Engine]:
    for engine in (duckdb_engine, spark_engine):
        engine.register_parquet("events", events_lake.files, EVENT_SCHEMA)
    return duckdb_engine, spark_engine


def test_the_lake_is_big_enough_and_has_the_edge_cases(both: tuple[Engine, Engine]) -> None:
    duckdb_engine, _ = both
    counts = duckdb_engine.sql(
        """
        SELECT count(*) AS events,
               count(*) FILTER (WHERE user_id IS NULL) AS anonymous,
               count(*) FILTER (WHERE event = 'Order Completed' AND amount_minor IS NULL) AS orders_without_amount
        FROM events
        """
    ).to_pylist()[0]
    assert counts["events"] >= 50_000
    assert counts["anonymous"] > 0
    assert counts["orders_without_amount"] > 0


def test_order_stats_are_equal_on_both_engines_and_to_plain_python(
    both: tuple[Engine, Engine], events_lake: LakeData
) -> None:
    rows = same_on_both(*both, order_stats_pipeline(), key=("user_id", "currency"))

    assert rows == expected_order_stats(events_lake.messages)
    tied = [row for row in rows if row["user_id"] == "edge-đức"]
    assert tied == [
        {"user_id": "edge-đức", "currency": "VND", "order_count": 3, "total_spend_minor": 399_000,
         "first_order_at": dt.datetime(2025, 4, 30, 23, 59, 59, 999_000, tzinfo=dt.UTC),
         "last_order_at": dt.datetime(2025, 5, 1, 17, 0, tzinfo=dt.UTC)},
    ]  # fmt: skip


def test_day_week_month_buckets_in_utc_and_in_the_workspace_zone(both: tuple[Engine, Engine]) -> None:
    rows = same_on_both(
        *both,
        f"""
        SELECT c360_date_bucket('day', "timestamp") AS utc_day,
               c360_date_bucket('day', "timestamp", '{HCM}') AS local_day,
               c360_date_bucket('week', "timestamp", '{HCM}') AS local_week,
               c360_date_bucket('month', "timestamp") AS utc_month,
               c360_isodow(c360_date_bucket('day', "timestamp", '{HCM}')) AS local_isodow,
               count(*) AS events,
               count(DISTINCT user_id) AS users,
               count(DISTINCT anonymous_id) AS anonymous_ids
        FROM events
        GROUP BY ALL
        """,
        key=("utc_day", "local_day"),
    )

    # The instant a millisecond before UTC midnight is the next day in Hồ Chí Minh City.
    assert any(row["utc_day"] == dt.date(2025, 4, 30) and row["local_day"] == dt.date(2025, 5, 1) for row in rows)
    may_first = next(row for row in rows if row["local_day"] == dt.date(2025, 5, 1))
    assert may_first["local_isodow"] == 4  # a Thursday
    assert may_first["local_week"] == dt.date(2025, 4, 28)


def test_json_text_extracts_vietnamese_strings_escaped_or_not(both: tuple[Engine, Engine]) -> None:
    rows = same_on_both(
        *both,
        """
        SELECT user_id,
               c360_json_text(traits, '$.name') AS name,
               lower(c360_json_text(traits, '$.name')) AS lower_name,
               regexp_replace(c360_json_text(traits, '$.phone'), '[^0-9]+', '', 'g') AS phone_digits,
               c360_json_text(traits, '$.city') AS city
        FROM events
        WHERE type = 'identify' AND user_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY "timestamp" DESC, seq DESC) = 1
        """,
        key=("user_id",),
    )

    by_user = {row["user_id"]: row for row in rows}
    assert by_user["edge-đức"] == {
        "user_id": "edge-đức", "name": "Đức Nguyễn", "lower_name": "đức nguyễn", "phone_digits": "84912345678",
        "city": None,
    }  # fmt: skip
    assert by_user["edge-null"]["name"] is None
    assert by_user["edge-null"]["phone_digits"] is None
    assert any("Đ" in (row["name"] or "") for row in rows if row["user_id"] != "edge-đức")


def test_ordered_lists_keep_ties_and_nulls_in_the_same_order(both: tuple[Engine, Engine]) -> None:
    rows = same_on_both(
        *both,
        """
        SELECT user_id,
               c360_ordered_list(order_id, "timestamp") AS order_ids,
               string_agg(currency, ',' ORDER BY currency) AS currencies,
               count(DISTINCT c360_date_bucket('day', "timestamp")) AS order_days
        FROM events
        WHERE event = 'Order Completed' AND user_id IS NOT NULL
        GROUP BY user_id
        """,
        key=("user_id",),
    )

    by_user = {row["user_id"]: row for row in rows}
    # Ordered by time, then by value with NULL first: the NULL order id is the earliest order anyway.
    assert by_user["edge-đức"]["order_ids"] == [None, "e1", "e2"]
    assert by_user["edge-null"]["currencies"] == "USD,VND,VND"
    assert by_user["edge-đức"]["order_days"] == 2


def test_order_by_puts_nulls_last_on_both_engines(both: tuple[Engine, Engine]) -> None:
    rows = same_on_both(
        *both,
        """
        SELECT seq, amount_minor
        FROM events
        WHERE event = 'Order Completed'
        ORDER BY amount_minor, seq
        """,
        key=None,
    )

    assert rows[0]["amount_minor"] is not None
    assert rows[-1]["amount_minor"] is None


def test_parameters_days_between_and_epoch(both: tuple[Engine, Engine]) -> None:
    since = dt.datetime(2025, 5, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    rows: list[dict[str, Any]] = same_on_both(
        *both,
        """
        SELECT user_id,
               c360_days_between(min(c360_date_bucket('day', "timestamp")), max(c360_date_bucket('day', "timestamp")))
                   AS active_days,
               max(c360_epoch_us("timestamp")) AS last_us,
               count(*) AS events
        FROM events
        WHERE "timestamp" >= $since AND user_id LIKE 'edge-%'
        GROUP BY user_id
        """,
        key=("user_id",),
        params={"since": since},
    )

    assert [row["user_id"] for row in rows] == ["edge-null", "edge-đức"]
    assert rows[1]["active_days"] == 1  # 2025-04-30 23:59:59.999Z and 2025-05-01 17:00Z
    assert rows[1]["last_us"] == 1_746_118_800_000_000
