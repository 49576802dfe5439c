"""Events per second of the demo generator and of the durable event-log append (the ceiling later benchmarks
compare against).

    .venv/bin/python bench/generate.py                       # 20,000 customers x 365 days (~1.05 M events)
    .venv/bin/python bench/generate.py --customers 2000      # quick
    .venv/bin/python bench/generate.py --skip-dir            # no generate_to_dir run

What each number includes:
- stream: `c360.demo.iter_events` (the simulation, Segment-shaped dicts in (timestamp, messageId) order) plus
  `orjson.dumps` of each message, no file I/O. Reference: the same count of `orjson.dumps` of a fixed prebuilt
  message, i.e. the serialisation ceiling; the ratio says how many times that ceiling the generator costs.
- generate_to_dir: everything `c360.demo.generate_to_dir` does into a temporary folder -- events.jsonl and every
  CSV source, truth/ and the manifest, hashing each file while it is written -- divided by the event count.
- accept: `services.ingest.to_record` per message (server-side checks, messageId, receivedAt, skew correction,
  the JSON body) -- measured apart from the append.
- durable append: `EventLog.append` of 100-event batches from 8 threads through the group-commit writer; each
  batch is acknowledged only after its transaction committed with SQLite `synchronous=FULL` (WAL fsync).
  The append includes the exact dedupe of (source, messageId) (an in-memory index of the window, rebuilt from
  the log on start; see `c360/eventlog/seen.py`). Reference: raw `sqlite3.executemany` of the same rows into
  the same events table, one fsynced transaction per 100 rows, from one thread, without any dedupe -- what a
  writer without group commit gets.
- peak memory: the process's maximum resident set size at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import orjson

from c360.demo import GeneratorConfig, generate_to_dir, iter_events
from c360.eventlog import EventLog, LogRecord
from c360.services.ingest import to_record


def bench_stream(cfg: GeneratorConfig) -> tuple[int, float, dict[str, object]]:
    dumps = orjson.dumps
    started = time.perf_counter()
    count = 0
    sample: dict[str, object] = {}
    for message in iter_events(cfg):
        dumps(message)
        count += 1
        if message.get("event") == "Order Completed" and not sample:
            sample = message
    return count, time.perf_counter() - started, sample


def bench_ceiling(message: dict[str, object], count: int) -> float:
    dumps = orjson.dumps
    started = time.perf_counter()
    for _ in range(count):
        dumps(message)
    return time.perf_counter() - started


def bench_dir(cfg: GeneratorConfig) -> tuple[dict[str, int], float, int]:
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as folder:
        started = time.perf_counter()
        counts = generate_to_dir(cfg, folder)
        elapsed = time.perf_counter() - started
        size = sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
    return counts, elapsed, size


def bench_append(n_events: int, folder: Path, seed: int) -> dict[str, float]:
    cfg = GeneratorConfig(customers=n_events // 40 + 50, days=365, seed=seed)  # ~57 events per person
    messages = []
    for message in iter_events(cfg):
        messages.append(message)
        if len(messages) >= n_events:
            break
    now = dt.datetime.now(dt.UTC)
    start = time.perf_counter()
    records = [to_record(m, source="web", received_at=now) for m in messages]
    accept_s = time.perf_counter() - start
    batches = [records[i : i + 100] for i in range(0, len(records), 100)]

    log = EventLog.open(f"sqlite:///{folder / 'log.db'}")
    threads = 8
    per_thread = [batches[i::threads] for i in range(threads)]

    def client(mine: list[list[LogRecord]]) -> None:
        for batch in mine:
            log.append(batch)

    start = time.perf_counter()
    workers = [threading.Thread(target=client, args=(mine,)) for mine in per_thread]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    append_s = time.perf_counter() - start
    assert log.count() == len(records)
    log.close()

    raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, message_id TEXT, type TEXT,"
        " timestamp_us INTEGER, received_us INTEGER, body BLOB)"
    )
    rows = [[(r.source, r.message_id, r.type, r.timestamp_us, r.received_us, r.body) for r in b] for b in batches]
    start = time.perf_counter()
    for batch_rows in rows:
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO events (source, message_id, type, timestamp_us, received_us, body) VALUES (?,?,?,?,?,?)",
            batch_rows,
        )
        raw.execute("COMMIT")
    raw_s = time.perf_counter() - start
    raw.close()
    return {"events": len(records), "accept_s": accept_s, "append_s": append_s, "raw_s": raw_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-dir", action="store_true", help="do not measure generate_to_dir")
    parser.add_argument("--append-events", type=int, default=200_000, help="events for the log-append benchmark")
    args = parser.parse_args()
    cfg = GeneratorConfig(customers=args.customers, days=args.days, seed=args.seed)
    print(f"config: {cfg.customers:,} customers x {cfg.days} days, seed {cfg.seed}")

    count, elapsed, sample = bench_stream(cfg)
    ceiling = bench_ceiling(sample, count)
    print(f"stream:          {count:,} events in {elapsed:6.2f} s = {count / elapsed:10,.0f} events/s")
    print(f"reference:       {count:,} orjson.dumps of one message in {ceiling:6.2f} s = {count / ceiling:10,.0f}/s")
    print(f"ratio:           the stream costs {elapsed / ceiling:.1f} x the serialisation ceiling")

    if not args.skip_dir:
        counts, elapsed_dir, size = bench_dir(cfg)
        events = counts["events.jsonl"]
        print(
            f"generate_to_dir: {events:,} events in {elapsed_dir:6.2f} s = {events / elapsed_dir:10,.0f} events/s "
            f"({size / 1e6:,.0f} MB written, {elapsed_dir / elapsed:.2f} x the stream)"
        )
        for name, rows in counts.items():
            print(f"  {name:24s} {rows:>12,} rows")
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        r = bench_append(args.append_events, Path(tmp), args.seed)
    n = r["events"]
    print(f"accept:          {n:,} messages through to_record = {n / r['accept_s']:10,.0f} events/s")
    print(f"durable append:  group commit, 8 threads x 100-event batches = {n / r['append_s']:10,.0f} events/s")
    print(
        f"reference:       raw sqlite3, one fsynced transaction per 100 events = {n / r['raw_s']:10,.0f} events/s "
        f"(group commit: {r['raw_s'] / r['append_s']:.2f}x)"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory:     {peak_mb:,.0f} MB resident")


if __name__ == "__main__":
    main()
