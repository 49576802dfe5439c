"""Reading the lake back and checking its invariants; shared by the lake's unit and crash tests."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from c360.eventlog import EventLog
from c360.lake import EVENT_SCHEMA, Lake
from tests.crashkit.child import BASE_US, DAY_US, make_record

DATES = 4  # the prepared log's events fall on this many UTC dates
#: Times of day (µs) that every date of the prepared log gets among its events: the edges of a UTC date.
EDGES = (0, 1, DAY_US - 1)


def read_files(files: list[Path]) -> pa.Table:
    """The rows of ``files``, with the folder's date (``_date``) and the seq range of the file's name
    (``_first``, ``_last``) that each row was found under."""
    tables = []
    for path in files:
        table = pq.read_table(path)
        assert table.schema.equals(EVENT_SCHEMA), f"{path} has the schema {table.schema}"
        folder_date = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
        first, last = (int(part) for part in path.stem.removeprefix("part-").split("-"))
        n = len(table)
        table = table.append_column("_date", pa.array([folder_date] * n, pa.date32()))
        table = table.append_column("_first", pa.array([first] * n, pa.int64()))
        tables.append(table.append_column("_last", pa.array([last] * n, pa.int64())))
    if not tables:
        empty = EVENT_SCHEMA.empty_table()
        for name, kind in (("_date", pa.date32()), ("_first", pa.int64()), ("_last", pa.int64())):
            empty = empty.append_column(name, pa.array([], kind))
        return empty
    return pa.concat_tables(tables)


def check_committed(lake: Lake, *, expect_seqs: list[int]) -> pa.Table:
    """What engines would read holds each of ``expect_seqs`` exactly once, each row in its UTC date's folder."""
    files = lake.committed_files()
    table = read_files(files)
    seqs = table["seq"].to_pylist()
    duplicates = [seq for seq, n in Counter(seqs).items() if n > 1]
    assert duplicates == [], f"seqs committed twice: {duplicates[:10]}"
    assert sorted(seqs) == sorted(expect_seqs)
    ids = table["message_id"].to_pylist()
    assert len(set(ids)) == len(ids), "a message id is committed twice"
    watermark = lake.watermark()
    rows = zip(seqs, table["_first"].to_pylist(), table["_last"].to_pylist(), strict=True)
    for seq, first, last in rows:
        assert first <= seq <= last <= watermark, f"seq {seq} in part-{first}-{last}, watermark {watermark}"
    for ts, folder_date in zip(table["timestamp"].to_pylist(), table["_date"].to_pylist(), strict=True):
        assert ts.astimezone(dt.UTC).date() == folder_date, f"an event of {ts} is in date={folder_date}"
    return table


def check_clean(lake: Lake) -> None:
    """No temporary file and no orphan: every part file on disk is a committed one."""
    leftovers = [p for p in lake.root.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    assert leftovers == []
    on_disk = sorted(lake.events_dir.glob("date=*/*.parquet"))
    assert on_disk == sorted(lake.committed_files())


def check_lake_equals_log(lake: Lake, log: EventLog) -> None:
    events = log.read(0, 10_000_000)
    table = check_committed(lake, expect_seqs=[e.seq for e in events])
    check_clean(lake)
    by_seq = dict(zip(table["seq"].to_pylist(), table["message_id"].to_pylist(), strict=True))
    assert by_seq == {e.seq: e.message_id for e in events}
    assert lake.watermark() == log.max_seq()


def prepare_log(url: str, *, events: int, appends: int = 3, seed: int = 0) -> EventLog:
    """A log whose events fall on DATES consecutive UTC dates, seq by seq in turn (so every run of DATES
    consecutive seqs touches every date), at times of day that include the first and last microsecond."""
    import random

    rng = random.Random(seed)
    log = EventLog.open(url)
    per_append = -(-events // appends)
    seq = 0
    for start in range(0, events, per_append):
        batch = []
        for _ in range(start, min(start + per_append, events)):
            day = seq % DATES
            index_in_day = seq // DATES
            time_of_day = EDGES[index_in_day] if index_in_day < len(EDGES) else rng.randrange(DAY_US)
            batch.append(make_record(f"m{seq:05d}", BASE_US + day * DAY_US + time_of_day, user=f"u{seq % 9}"))
            seq += 1
        log.append(batch)
    return log
