"""Event processing throughput: how fast the event processor applies logged events (identity stitching, known
users, source counts, loyalty, segments), next to the floor of reading and parsing the same events, in one run.

    .venv/bin/python bench/process.py                    # 30,000 demo events
    .venv/bin/python bench/process.py --events 100000

What each number includes:
- the events: realistic demo events from `c360.demo.iter_events` (the bodies bench/ingest.py sends, unique
  messageIds), appended to a fresh workspace's durable log the way the tracking API appends them
  (`Collector.prepare` and `EventLog.append`; not timed). They exercise the identity map's hard paths: anonymous
  visitors who log in (a merge of their profiles), devices shared by a household, profiles renamed by an older
  message.
- processor: `processor_for(ws).run_until_idle()` in this process, as the server's background worker runs it: every
  batch read from the log and applied by every handler in one transaction of the operational store (SQLite,
  the workspace default), checkpoint included. events/s is the events over the wall time; the CPU per event is
  this process's.
- floor: the same batches read from the log again and each message parsed (`ProcessedEvent.message`), which
  every handler needs first; ratio = processor events/s / floor events/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from c360.processor.processor import ProcessedEvent
from c360.services.processing import processor_for
from c360.settings import load_settings
from c360.workspace import Workspace
from ingest import build_bodies, new_workspace, run_ceiling


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    bodies, _ = build_bodies(args.events, args.seed)
    with tempfile.TemporaryDirectory(prefix="c360-bench-process-") as folder:
        workspace, _ = new_workspace(Path(folder), "ws")
        _, appended = run_ceiling(workspace, bodies, 4)
        with Workspace.open(load_settings(workspace=workspace)) as ws:
            processor = processor_for(ws)
            started, cpu = time.perf_counter(), time.process_time()
            applied = processor.run_until_idle()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert applied == appended, (applied, appended)
            print(f"processor: {applied / wall:>9,.0f} events/s  ({applied:,} demo events in {wall:.2f} s, "
                  f"{cpu / applied * 1e6:.0f} us of CPU per event)")  # fmt: skip

            started = time.perf_counter()
            seq, read = 0, 0
            while batch := ws.log.read(seq, ws.settings.processor_batch_events):
                for raw in batch:
                    ProcessedEvent(raw).message  # noqa: B018 - parsed (and cached), as a handler's first look does
                read += len(batch)
                seq = batch[-1].seq
            floor = read / (time.perf_counter() - started)
            print(f"floor:     {floor:>9,.0f} events/s  (the same batches read from the log and parsed)")
            print(f"ratio:     processor / floor = {applied / wall / floor:.0%}")


if __name__ == "__main__":
    main()
