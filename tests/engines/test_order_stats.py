"""The order-stats job end to end: lake -> engine -> Arrow batches -> the store's order_stats table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from c360.engines import Engine
from c360.lake import Lake
from c360.services.order_stats import compute_and_store_order_stats, write_order_stats
from c360.store import Store
from c360.store.schema import order_stats
from tests.engines.data import LakeData, expected_order_stats


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()


def test_the_job_replaces_order_stats_with_the_lakes_totals(
    engine: Engine, events_lake: LakeData, store: Store
) -> None:
    with store.write() as conn:
        write_order_stats(
            conn,
            [pa.record_batch({"user_id": ["gone"], "currency": ["VND"], "order_count": [1], "total_spend_minor": [1],
                              "first_order_at": [dt.datetime(2020, 1, 1, tzinfo=dt.UTC)],
                              "last_order_at": [dt.datetime(2020, 1, 1, tzinfo=dt.UTC)]})],
            computed_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        )  # fmt: skip
    before = dt.datetime.now(dt.UTC)

    written = compute_and_store_order_stats(engine, Lake(events_lake.root), store)

    with store.read() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(order_stats).order_by("user_id", "currency"))]
    expected = expected_order_stats(events_lake.messages)
    assert written == len(rows) == len(expected)
    assert all(row.pop("computed_at") >= before for row in rows)
    assert sorted(rows, key=lambda r: (r["user_id"], r["currency"])) == expected


def test_an_empty_lake_empties_the_table(engine: Engine, tmp_path: Path, store: Store) -> None:
    assert compute_and_store_order_stats(engine, Lake(tmp_path / "no-lake"), store) == 0
    with store.read() as conn:
        assert conn.execute(select(order_stats)).first() is None


def test_a_failure_while_loading_keeps_the_previous_rows(store: Store) -> None:
    at = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    old = pa.record_batch(
        {"user_id": ["u1"], "currency": ["VND"], "order_count": [1], "total_spend_minor": [100],
         "first_order_at": [at], "last_order_at": [at]}
    )  # fmt: skip
    with store.write() as conn:
        write_order_stats(conn, [old], computed_at=at)

    def failing() -> Iterator[pa.RecordBatch]:
        yield old
        raise RuntimeError("the engine died mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"), store.write() as conn:
        write_order_stats(conn, failing(), computed_at=at)

    with store.read() as conn:
        assert [row.user_id for row in conn.execute(select(order_stats))] == ["u1"]
