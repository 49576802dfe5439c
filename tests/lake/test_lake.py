"""The lake's commit protocol and compaction, without crashes: files by UTC date, the watermark, recovery."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from c360.errors import C360Error
from c360.eventlog import EventLog, LoggedEvent
from c360.lake import Lake
from c360.lake.convert import logged_to_table
from c360.services.compaction import compact
from c360.services.ingest import append_messages
from c360.workspace import Workspace
from tests.crashkit.child import BASE_US, DAY_US, make_record
from tests.lake.lakecheck import DATES, check_clean, check_committed, check_lake_equals_log, prepare_log, read_files


def table_of(rows: list[tuple[int, int]]) -> pa.Table:
    """Lake rows for (seq, timestamp_us) pairs."""
    events = []
    for seq, ts in rows:
        record = make_record(f"m{seq}", ts)
        events.append(
            LoggedEvent(seq, record.source, record.message_id, record.type, ts, record.received_us, record.body)
        )
    return logged_to_table(events)


def test_commit_writes_one_file_per_utc_date_then_moves_the_watermark(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert lake.watermark() == 0
    assert lake.committed_files() == []
    rows = [(seq, BASE_US + (seq % 3) * DAY_US + seq) for seq in range(1, 10)]
    written = lake.commit(table_of(rows), 1, 9)
    assert [p.parent.name for p in written] == ["date=2025-03-01", "date=2025-03-02", "date=2025-03-03"]
    assert {p.name for p in written} == {"part-0000000000000001-0000000000000009.parquet"}
    assert lake.watermark() == 9
    assert sorted(lake.committed_files()) == sorted(written)
    check_committed(lake, expect_seqs=list(range(1, 10)))
    check_clean(lake)


def test_commit_refuses_seqs_already_in_the_lake(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    lake.commit(table_of([(1, BASE_US), (2, BASE_US)]), 1, 2)
    with pytest.raises(ValueError, match="already in the lake"):
        lake.commit(table_of([(2, BASE_US), (3, BASE_US)]), 2, 3)
    check_committed(lake, expect_seqs=[1, 2])


@pytest.mark.parametrize(
    "timestamp_us",
    [BASE_US, BASE_US - 1, BASE_US + DAY_US - 1, 0, -1, -DAY_US, -DAY_US - 1],
    ids=[
        "midnight",
        "last-us-of-previous-day",
        "last-us-of-day",
        "epoch",
        "before-epoch",
        "day-before-epoch",
        "two-days-before-epoch",
    ],
)
def test_an_event_is_filed_under_its_utc_date(tmp_path: Path, timestamp_us: int) -> None:
    lake = Lake(tmp_path / "lake")
    (path,) = lake.commit(table_of([(1, timestamp_us)]), 1, 1)
    expected = (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=timestamp_us)).date()
    assert path.parent.name == f"date={expected.isoformat()}"


def test_recover_deletes_orphans_and_temporary_files_only(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    committed = lake.commit(table_of([(1, BASE_US), (2, BASE_US + DAY_US)]), 1, 2)
    folder = lake.events_dir / "date=2025-03-01"
    orphan = folder / "part-0000000000000003-0000000000000004.parquet"
    orphan.write_bytes((committed[0]).read_bytes())  # what a compaction killed before its commit leaves
    half_written = folder / "part-0000000000000003-0000000000000004.parquet.tmp"
    half_written.write_bytes(b"PAR1 half")
    watermark_tmp = lake.events_dir / "_committed.tmp"
    watermark_tmp.write_bytes(b"4")
    assert orphan not in lake.committed_files()  # never read, even before recovery
    removed = lake.recover()
    assert sorted(removed) == sorted([orphan, half_written, watermark_tmp])
    assert sorted(lake.committed_files()) == sorted(committed)
    assert lake.watermark() == 2
    check_clean(lake)
    assert lake.recover() == []


def test_compaction_moves_every_event_once_and_again_only_the_new_ones(tmp_path: Path) -> None:
    log = prepare_log(f"sqlite:///{tmp_path / 'log.db'}", events=57)
    lake = Lake(tmp_path / "lake")
    try:
        seen: list[tuple[int, int]] = []
        result = compact(log, lake, batch_events=10, progress=lambda moved, total: seen.append((moved, total)))
        assert (result.events, result.watermark, result.recovered_orphans) == (57, 57, 0)
        assert result.files == 5 * DATES + 4  # 5 batches of 10 touch every date; the last 7 seqs touch 4
        assert seen == [(10, 57), (20, 57), (30, 57), (40, 57), (50, 57), (57, 57)]
        check_lake_equals_log(lake, log)

        assert compact(log, lake, batch_events=10).events == 0  # nothing new: nothing written
        log.append([make_record(f"late-{i}", BASE_US + i) for i in range(3)])
        assert compact(log, lake, batch_events=10).events == 3
        check_lake_equals_log(lake, log)
    finally:
        log.close()


def test_compaction_after_pruning_the_log(tmp_path: Path) -> None:
    log = prepare_log(f"sqlite:///{tmp_path / 'log.db'}", events=20)
    lake = Lake(tmp_path / "lake")
    try:
        compact(log, lake, batch_events=8)
        log.prune(lake.watermark())
        log.append([make_record(f"new-{i}", BASE_US + i) for i in range(5)])
        assert compact(log, lake, batch_events=8).events == 5
        check_committed(lake, expect_seqs=list(range(1, 26)))
        check_clean(lake)
    finally:
        log.close()


def test_duckdb_reads_the_committed_lake(workspace: Workspace) -> None:
    messages = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"u{i % 4}",
            "messageId": f"order-{i}",
            "timestamp": f"2025-03-0{1 + i % 3}T23:59:59.999Z",
            "properties": {"total": 1000 * i, "currency": "VND"},
        }
        for i in range(30)
    ]
    assert append_messages(workspace.log, messages, source="pos", chunk_size=7).accepted == 30
    compact(workspace.log, workspace.lake, batch_events=9)
    files = [str(p) for p in workspace.lake.committed_files()]
    with duckdb.connect() as con:
        row = con.execute(
            "SELECT count(*), count(DISTINCT seq), sum(amount_minor) FROM read_parquet(?)", [files]
        ).fetchone()
    assert row == (30, 30, 1000 * sum(range(30)))
    check_lake_equals_log(workspace.lake, workspace.log)


def test_any_timestamps_land_once_in_their_date_folder(tmp_path: Path) -> None:
    counter = iter(range(1_000_000))

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.integers(min_value=-3 * DAY_US, max_value=BASE_US + 40 * DAY_US), min_size=1, max_size=30))
    def check(timestamps: list[int]) -> None:
        lake = Lake(tmp_path / f"lake-{next(counter)}")
        rows = list(enumerate(timestamps, start=1))
        lake.commit(table_of(rows), 1, len(rows))
        check_committed(lake, expect_seqs=[seq for seq, _ in rows])
        table = read_files(lake.committed_files())
        assert sorted(t.timestamp() for t in table["timestamp"].to_pylist()) == sorted(ts / 1e6 for ts in timestamps)

    check()


def test_compaction_with_an_empty_log_writes_nothing(tmp_path: Path) -> None:
    log = EventLog.open(f"sqlite:///{tmp_path / 'log.db'}")
    lake = Lake(tmp_path / "lake")
    try:
        result = compact(log, lake)
        assert (result.events, result.files, result.watermark) == (0, 0, 0)
        assert lake.committed_files() == []
    finally:
        log.close()


def test_a_second_compaction_at_once_is_refused_and_every_event_lands_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compaction B (the server's worker, or `c360 compact` in another process) starts while compaction A is paused
    after its first file. Unexcluded, B's recovery deleted A's uncommitted files and the two sets of watermarks
    committed overlapping ranges: seqs twice in the lake. B must be refused; A goes on; every event lands once."""
    from c360._crashpoints import crashpoint as real_crashpoint

    log = prepare_log(f"sqlite:///{tmp_path / 'log.db'}", events=40)
    lake = Lake(tmp_path / "lake")
    refused: list[C360Error] = []
    other_ran = False

    def interleave(name: str) -> None:
        nonlocal other_ran
        if name == "lake.after_file" and not other_ran:
            other_ran = True
            try:
                compact(log, lake, batch_events=25)  # B, with another batch size (settings may differ)
            except C360Error as exc:
                refused.append(exc)
        real_crashpoint(name)

    monkeypatch.setattr("c360.lake.lake.crashpoint", interleave)
    try:
        compact(log, lake, batch_events=10)  # A
        assert other_ran
        check_lake_equals_log(lake, log)
        assert len(refused) == 1, "the second compaction ran alongside the first"
        assert str(lake.root) in str(refused[0])
        assert compact(log, lake).events == 0  # and the lake is free again once A is done
    finally:
        log.close()
