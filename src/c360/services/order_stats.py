"""The order-stats batch job: computed by an engine over the lake, streamed into the store's ``order_stats``."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Connection, Table, delete, insert

from c360.engines import Engine
from c360.lake import EVENT_SCHEMA, Lake
from c360.sql.order_stats import EVENTS, ORDER_STATS_COLUMNS, order_stats_pipeline
from c360.store import Database
from c360.store.schema import order_stats
from c360.store.types import utcnow

log = logging.getLogger(__name__)

#: Rows per INSERT: big enough to amortise the round trip, small enough to keep one batch's dicts cheap.
BATCH_ROWS = 5_000


def compute_order_stats(engine: Engine, files: Sequence[Path]) -> Generator[pa.RecordBatch, None, None]:
    """The job's result for the lake files ``files``, as Arrow batches of ``ORDER_STATS_COLUMNS``."""
    engine.register_parquet(EVENTS, files, EVENT_SCHEMA)
    return engine.iter_batches(order_stats_pipeline(), batch_rows=BATCH_ROWS)


def write_order_stats(
    conn: Connection,
    batches: Iterable[pa.RecordBatch],
    *,
    computed_at: dt.datetime,
    table: Table = order_stats,
) -> int:
    """Replace every row of ``table`` with ``batches``, inside the caller's transaction; returns the row count."""
    conn.execute(delete(table))
    written = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        rows = batch.select(list(ORDER_STATS_COLUMNS)).to_pylist()
        for row in rows:
            row["computed_at"] = computed_at
        conn.execute(insert(table), rows)
        written += len(rows)
    return written


def compute_and_store_order_stats(engine: Engine, lake: Lake, store: Database) -> int:
    """Run the job over the lake's committed files and replace the store's ``order_stats`` in one transaction."""
    computed_at = utcnow()
    batches = compute_order_stats(engine, lake.committed_files())
    try:
        # The aggregation finishes before its first batch exists, so taking that batch before the write
        # transaction opens keeps the store's write lock for the load only, not for the engine's computation.
        first = next(batches, None)
        rest: Iterable[pa.RecordBatch] = [] if first is None else itertools.chain([first], batches)
        with store.write() as conn:
            written = write_order_stats(conn, rest, computed_at=computed_at)
    finally:
        batches.close()
    log.info("order_stats: %d rows written with %s", written, engine.name)
    return written
