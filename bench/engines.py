"""The order-stats job on the batch engines, against a hand-written Arrow computation of the same result.

    .venv/bin/python bench/engines.py                      # ~200 customers x 365 days, DuckDB only
    .venv/bin/python bench/engines.py --customers 5000 --spark

What each number includes:
- reference: `pyarrow.parquet.read_table` of the lake's files (only the five columns the job needs), a filter and a
  `group_by().aggregate()` in Arrow compute -- what a hand-written job without an engine costs.
- duckdb / spark: `register_parquet` of the same files plus `iter_batches` of `order_stats_pipeline()` until the
  last batch, i.e. the job as `compute_and_store_order_stats` runs it, without the store write. Spark's number
  excludes its session start, printed apart.
The lake is generated once into a temporary folder (`c360.demo.iter_events` -> `messages_to_table` -> `Lake`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from c360.demo import GeneratorConfig, iter_events
from c360.engines import Engine, open_engine
from c360.lake import EVENT_SCHEMA, Lake
from c360.lake.convert import messages_to_table
from c360.sql.order_stats import order_stats_pipeline


def build_lake(root: Path, customers: int, days: int, seed: int) -> tuple[Lake, int]:
    messages = list(iter_events(GeneratorConfig(customers=customers, days=days, seed=seed)))
    table = messages_to_table(messages, first_seq=1, source="bench", received_at=dt.datetime.now(dt.UTC))
    lake = Lake(root)
    lake.commit(table, 1, table.num_rows)
    return lake, table.num_rows


def reference(files: list[Path]) -> int:
    columns = ["type", "event", "user_id", "currency", "amount_minor", "timestamp"]
    table = pa.concat_tables(pq.read_table(f, columns=columns) for f in files)
    mask = pc.and_(
        pc.and_(pc.equal(table["type"], "track"), pc.equal(table["event"], "Order Completed")),
        pc.and_(pc.is_valid(table["user_id"]), pc.is_valid(table["currency"])),
    )
    grouped = (
        table.filter(mask)
        .group_by(["user_id", "currency"])
        .aggregate([("user_id", "count"), ("amount_minor", "sum"), ("timestamp", "min"), ("timestamp", "max")])
    )
    return int(grouped.num_rows)


def run_engine(engine: Engine, files: list[Path]) -> int:
    engine.register_parquet("events", files, EVENT_SCHEMA)
    return sum(batch.num_rows for batch in engine.iter_batches(order_stats_pipeline()))


def timed(label: str, call: Callable[..., int], *args: object) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        rows = call(*args)
        best = min(best, time.perf_counter() - started)
    print(f"{label:>10}: {best:7.3f} s (best of 3), {rows} rows")
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--spark", action="store_true", help="also run on Spark (local[*])")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="c360-bench-") as folder:
        lake, events = build_lake(Path(folder), args.customers, args.days, args.seed)
        files = lake.committed_files()
        print(f"lake: {events} events in {len(files)} files")
        ref_time, ref_rows = timed("reference", reference, files)
        with open_engine("duckdb") as duckdb_engine:
            duck_time, duck_rows = timed("duckdb", run_engine, duckdb_engine, files)
        assert duck_rows == ref_rows, (duck_rows, ref_rows)
        print(f"duckdb / reference: {duck_time / ref_time:.2f}x")
        if args.spark:
            started = time.perf_counter()
            with open_engine("spark", master="local[*]", shuffle_partitions=4) as spark_engine:
                print(f"spark session start: {time.perf_counter() - started:.1f} s")
                spark_time, spark_rows = timed("spark", run_engine, spark_engine, files)
            assert spark_rows == ref_rows, (spark_rows, ref_rows)
            print(f"spark / reference: {spark_time / ref_time:.2f}x")


if __name__ == "__main__":
    main()
