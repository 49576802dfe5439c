"""Rows per second of `c360 import` of a large customer CSV into a fresh workspace's durable log, its peak memory
at two sizes (it must not grow with the file), and references measured in the same run.

    .venv/bin/python bench/import.py                         # 1,000,000 rows, and 200,000 for the memory check
    .venv/bin/python bench/import.py --rows 300000 --small 60000
    .venv/bin/python bench/import.py --profile               # + where the time goes (cProfile, in-process)

What each number includes:
- the file: CRM contacts (`crm_contacts.csv` of the cached demo dataset, 2,000 customers) repeated with new ids,
  written once into `$C360_CACHE_DIR/bench/` (or `~/.cache/c360/bench/`) and reused.
- import: `c360 import FILE --mapping src/c360/demo/mappings/crm_contacts.yml --json` in a child process, into a new
  workspace: sniffing, reading, mapping, the messageIds, the JSON bodies, the dedupe lookup and the durable
  appends (SQLite, synchronous=FULL). rows/s is the command's own count (rows / seconds of the import); the peak
  resident memory is the child's, read with `resource.getrusage` when the command returns.
- parse-only ceiling: pyarrow's streaming `open_csv` of the same file with the same options (every column as
  text, one thread), counting rows, nothing else: no import can be faster than reading.
- log ceiling: `EventLog.append` into a fresh log of as many records as the large file has rows, with bodies of
  the size the import wrote, 20,000 per append (only the appends are timed): what the durable log takes when
  nothing else runs.
- importer alone: the same imports in child processes with a log that takes records and forgets them: the
  importer's own speed and memory without the durable write, and without the log's SQLite page cache (64 MB per
  connection, a setting of the log), which fills as the log grows and so shows in "with the log" memory.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "src" / "c360" / "demo" / "mappings" / "crm_contacts.yml"
GOAL = 200_000

ALONE = """
import json, resource, sys
from concurrent.futures import Future
from pathlib import Path

from c360.eventlog import AppendResult
from c360.importer import import_file, load_mapping
from c360.workspace import Workspace


class ForgetfulLog:
    def submit(self, records):
        done = Future()
        done.set_result(AppendResult(1, len(records), len(records)))
        return done


with Workspace.init(Path(sys.argv[3])) as ws:
    result = import_file(Path(sys.argv[1]), load_mapping(Path(sys.argv[2])), store=ws.store, log=ForgetfulLog(),
                         timezone="Asia/Ho_Chi_Minh", default_currency="VND")
print(json.dumps({"rows": result.rows, "rows_per_second": result.rows_per_second, "seconds": result.seconds,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

CHILD = """
import json, resource, sys
from c360.cli.main import main
sys.argv = ["c360", "import", *sys.argv[1:]]
try:
    main()
finally:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_kb": peak}), file=sys.stderr)
"""


def cache_dir() -> Path:
    configured = os.environ.get("C360_CACHE_DIR")
    root = Path(configured) if configured else Path.home() / ".cache" / "c360"
    path = root / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def customer_file(rows: int) -> Path:
    """A CSV of ``rows`` CRM contacts (made once, then reused)."""
    from c360.demo import cached_dataset

    path = cache_dir() / f"crm-contacts-{rows}.csv"
    if path.is_file():
        return path
    source = cached_dataset(2_000, 365, 42) / "crm_contacts.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sample = list(reader)
    scratch = path.with_suffix(".tmp")
    with scratch.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for i in range(rows):
            row = list(sample[i % len(sample)])
            row[0] = f"C{i:09d}"
            if row[2]:  # every contact its own address, so no two rows are the same person
                local, _, domain = row[2].partition("@")
                row[2] = f"{local}.{i}@{domain}"
            writer.writerow(row)
    scratch.rename(path)
    return path


def parse_only(path: Path) -> tuple[int, float]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with path.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    started = time.perf_counter()
    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(use_threads=False, block_size=2 << 20, column_names=header, skip_rows=1),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True, null_values=[""]
        ),
    )
    rows = sum(batch.num_rows for batch in reader)
    return rows, time.perf_counter() - started


def log_ceiling(count: int, body_bytes: int, folder: Path) -> float:
    """Seconds of appending ``count`` records of ``body_bytes`` into a fresh log, 20,000 per append (only the
    appends are timed; the records are made a chunk at a time so memory stays small)."""
    from c360.eventlog import EventLog, LogRecord

    rng = random.Random(7)
    log = EventLog.open(f"sqlite:///{folder / 'log.db'}")
    elapsed = 0.0
    try:
        for start in range(0, count, 20_000):
            records = [
                LogRecord(
                    "crm",
                    "imp-" + hashlib.sha256(str(i).encode()).hexdigest()[:32],
                    "identify",
                    1_780_000_000_000_000 + i,
                    1_780_000_000_000_000,
                    rng.randbytes(body_bytes),
                )
                for i in range(start, min(count, start + 20_000))
            ]
            started = time.perf_counter()
            log.append(records)
            elapsed += time.perf_counter() - started
        return elapsed
    finally:
        log.close()


def run_import(path: Path, folder: Path) -> dict[str, Any]:
    from c360.workspace import Workspace

    workspace = folder / f"ws-{path.stem}"
    Workspace.init(workspace).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "--mapping", str(MAPPING), "--workspace", str(workspace), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"c360 import failed:\n{done.stderr}")
    summary: dict[str, Any] = json.loads(done.stdout)
    summary["peak_kb"] = json.loads(done.stderr.strip().splitlines()[-1])["peak_kb"]
    summary["wall"] = wall
    from c360.eventlog import EventLog

    log = EventLog.open(f"sqlite:///{workspace / 'log.db'}")
    try:
        events = log.read(0, 1_000)
        summary["body_bytes"] = sum(len(e.body) for e in events) // max(len(events), 1)
    finally:
        log.close()
    return summary


def importer_alone(path: Path, folder: Path) -> dict[str, Any]:
    """The same import in a child process with a log that takes records and forgets them: the importer's own
    speed and memory, without the durable write (and without the log's SQLite page cache, which fills up to
    its setting as the log grows)."""
    workspace = folder / f"alone-{path.stem}"
    done = subprocess.run(
        [sys.executable, "-c", ALONE, str(path), str(MAPPING), str(workspace)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the import without a log failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def profile_import(path: Path, folder: Path) -> None:
    import cProfile
    import pstats

    from c360.importer import import_file, load_mapping
    from c360.workspace import Workspace

    with Workspace.init(folder / "ws-profile") as ws:
        profiler = cProfile.Profile()
        profiler.enable()
        import_file(
            path, load_mapping(MAPPING), store=ws.store, log=ws.log, timezone="Asia/Ho_Chi_Minh", default_currency="VND"
        )
        profiler.disable()
    print("\nWhere the time goes (cProfile of an in-process import with the durable log; main thread):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large file")
    parser.add_argument("--small", type=int, default=200_000, help="rows of the small file (memory check)")
    parser.add_argument("--profile", action="store_true", help="also profile an import of the small file")
    args = parser.parse_args()

    print(f"making the files ({args.small:,} and {args.rows:,} rows; cached in {cache_dir()}) ...", flush=True)
    small_file, large_file = customer_file(args.small), customer_file(args.rows)
    with tempfile.TemporaryDirectory(prefix="c360-bench-import-") as scratch:
        folder = Path(scratch)
        small = run_import(small_file, folder)
        large = run_import(large_file, folder)
        parsed_rows, parse_seconds = parse_only(large_file)
        (folder / "ceiling").mkdir()
        log_seconds = log_ceiling(args.rows, large["body_bytes"], folder / "ceiling")
        alone_small = importer_alone(small_file, folder)
        alone_large = importer_alone(large_file, folder)
        if args.profile:
            profile_import(small_file, folder)

    rate = large["rows_per_second"]
    parse_rate = parsed_rows / parse_seconds
    log_rate = args.rows / log_seconds
    print()
    print(f"file: {large_file.name}, {large_file.stat().st_size / 1e6:,.0f} MB; bodies of {large['body_bytes']} bytes")
    print(f"{'what':<48} {'rows':>11} {'seconds':>8} {'rows/s':>10} {'peak RSS':>9}")
    for label, run in (
        ("c360 import (durable log), small file", small),
        ("c360 import (durable log), large file", large),
        ("importer alone (a log that forgets), small file", alone_small),
        ("importer alone (a log that forgets), large file", alone_large),
    ):
        print(
            f"{label:<48} {run['rows']:>11,} {run['seconds']:>8.1f} {run['rows_per_second']:>10,.0f}"
            f" {run['peak_kb'] / 1024:>6,.0f} MB"
        )
    print(
        f"{'reference: pyarrow open_csv, parse only':<48} {parsed_rows:>11,} {parse_seconds:>8.1f} {parse_rate:>10,.0f}"
    )
    print(
        f"{'reference: EventLog.append, prebuilt records':<48} {args.rows:>11,} {log_seconds:>8.1f} {log_rate:>10,.0f}"
    )
    print()
    print(f"import / parse-only ceiling: {rate / parse_rate:.1%}")
    print(f"import / log ceiling:        {rate / log_rate:.1%}")
    print(f"importer alone / log ceiling: {alone_large['rows_per_second'] / log_rate:.1f}x")
    for label, one, other in (("with the log", small, large), ("importer alone", alone_small, alone_large)):
        growth = (other["peak_kb"] - one["peak_kb"]) / 1024
        print(
            f"peak memory {label}: {one['peak_kb'] / 1024:,.0f} MB at {args.small:,} rows,"
            f" {other['peak_kb'] / 1024:,.0f} MB at {args.rows:,} rows ({growth:+.0f} MB)"
        )
    verdict = "met" if rate >= GOAL else f"missed by {GOAL - rate:,.0f} rows/s ({rate / GOAL:.0%} of it)"
    print(f"goal >= {GOAL:,} rows/s into the log: {verdict}")


if __name__ == "__main__":
    main()
