"""The lake's files and the protocol that makes compaction atomic.

Compaction moves a contiguous range of log seqs ``first..last`` into the lake as one Parquet file per UTC date,
named ``events/date=YYYY-MM-DD/part-<first>-<last>.parquet``. The commit point is the atomic rename of
``events/_committed``, which holds the highest compacted seq (the watermark):

- a file whose range ends at or below the watermark is committed and read by the engines;
- a file whose range starts above it is an orphan of a compaction that died before its commit: it is deleted on
  recovery and written again, with the same name and rows, by the next compaction.

So an event is in the lake exactly once or not yet, and the log keeps it until the lake has it.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from c360._crashpoints import crashpoint
from c360.errors import C360Error


class LakeBusy(C360Error):
    """Another compaction holds the lake."""

    http_status = 409
    code = "lake_busy"


_PART = re.compile(r"^part-(\d{16})-(\d{16})\.parquet$")
_US_PER_DAY = 86_400_000_000


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes | None = None, table: pa.Table | None = None) -> None:
    """Write to a temporary name, fsync, rename over ``path``, fsync the folder."""
    tmp = path.with_name(path.name + ".tmp")
    if table is not None:
        pq.write_table(table, tmp, compression="zstd")
    else:
        tmp.write_bytes(data or b"")
    _fsync_path(tmp)
    os.replace(tmp, path)
    _fsync_path(path.parent)


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.events_dir = root / "events"
        self._watermark_file = self.events_dir / "_committed"

    def ensure(self) -> None:
        self.events_dir.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lake for one compaction; LakeBusy if another (thread or process) holds it.

        Two compactions at once would each take the other's uncommitted files for orphans and delete them.
        ``flock`` belongs to the open file, so it excludes threads of one process as well as other processes,
        and the kernel releases it when a holder dies — a killed compaction never leaves the lake locked.
        """
        self.ensure()
        fd = os.open(self.events_dir / "_lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LakeBusy(f"another compaction is running in {self.root}; try again when it ends") from None
            yield
        finally:
            os.close(fd)

    def watermark(self) -> int:
        """The highest seq that the lake holds (0 for an empty lake)."""
        try:
            return int(self._watermark_file.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def _parts(self) -> list[tuple[int, int, Path]]:
        if not self.events_dir.exists():
            return []
        found = []
        for path in self.events_dir.glob("date=*/part-*.parquet"):
            match = _PART.match(path.name)
            if match:
                found.append((int(match[1]), int(match[2]), path))
        return sorted(found)

    def committed_files(self) -> list[Path]:
        """The Parquet files engines must read: exactly those whose compaction committed."""
        watermark = self.watermark()
        return [path for _first, last, path in self._parts() if last <= watermark]

    def recover(self) -> list[Path]:
        """Delete what a compaction that died before its commit left behind; returns the deleted files."""
        watermark = self.watermark()
        removed = [path for first, _last, path in self._parts() if first > watermark]
        if self.events_dir.exists():
            removed += list(self.events_dir.glob("**/*.tmp"))
        for path in removed:
            path.unlink(missing_ok=True)
        return removed

    def commit(self, table: pa.Table, first_seq: int, last_seq: int) -> list[Path]:
        """Write ``table`` (log seqs ``first_seq..last_seq``) as one file per UTC date, then move the watermark."""
        if first_seq <= self.watermark():
            raise ValueError(f"seqs from {first_seq} are already in the lake (watermark {self.watermark()})")
        self.ensure()
        # Days since the epoch by a cast to date (a floor): integer division truncates toward zero and filed an
        # event of 1969-12-31T23:59:59.999999Z under 1970-01-01.
        days = pc.cast(pc.cast(table["timestamp"], pa.date32()), pa.int32()).to_pylist()
        by_day: dict[int, list[int]] = defaultdict(list)
        for index, day in enumerate(days):
            by_day[day].append(index)
        written = []
        for day, indices in sorted(by_day.items()):
            date = (pa.scalar(day * _US_PER_DAY, pa.timestamp("us"))).as_py().date()
            folder = self.events_dir / f"date={date.isoformat()}"
            folder.mkdir(exist_ok=True)
            path = folder / f"part-{first_seq:016d}-{last_seq:016d}.parquet"
            _write_durably(path, table=table.take(indices))
            _fsync_path(self.events_dir)
            written.append(path)
            crashpoint("lake.after_file")
        crashpoint("lake.before_commit")
        _write_durably(self._watermark_file, data=str(last_seq).encode())
        crashpoint("lake.after_commit")
        return written
