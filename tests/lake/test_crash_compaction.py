"""Crash tests of compaction: a child compacts a prepared log (four UTC dates, batches of ten events, so every batch
writes four files; eight batches) and is killed with SIGKILL at every crash point of the lake (and its N-th hit) and at
seeded-random moments. Right after the kill, what engines would read holds a prefix of the log exactly once; after
``compact()`` runs again the lake holds every log event exactly once, with no temporary and no orphan file."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.eventlog import EventLog
from c360.lake import Lake
from c360.services.compaction import compact
from tests.crashkit.run import ChildRun, crash_point_specs, run_child, seeded
from tests.lake.lakecheck import DATES, check_committed, check_lake_equals_log, prepare_log

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

EVENTS, BATCH = 80, 10  # 8 batches of 10 consecutive seqs, each on all DATES dates: 32 files
BATCHES = EVENTS // BATCH
CRASH_POINTS = crash_point_specs(
    {"lake.after_file": (1, 3, 6, 9), "lake.before_commit": (1, 2, 5), "lake.after_commit": (1, 2, 5)}
)
RANDOM_SEEDS = range(20)


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.log_url = f"sqlite:///{tmp_path / 'log.db'}"
        self.lake = Lake(tmp_path / "lake")
        prepare_log(self.log_url, events=EVENTS).close()

    def child(self, *, crash_at: str | None = None, kill_after: int | None = None) -> ChildRun:
        args = ("compact", self.log_url, str(self.lake.root), "--batch", str(BATCH))
        run = run_child(*args, crash_at=crash_at, kill_after_lines=kill_after)
        assert run.killed or (crash_at is None and run.finished), run.describe()
        return run

    def check_after_kill(self, run: ChildRun) -> int:
        """Before any recovery: the committed files hold seqs 1..watermark, each once; returns the watermark."""
        watermark = self.lake.watermark()
        assert watermark % BATCH == 0
        assert 0 <= watermark <= EVENTS
        check_committed(self.lake, expect_seqs=list(range(1, watermark + 1)))
        # Every batch the child reported done is committed.
        reported = [int(value.split()[0]) for value in run.values("progress")]
        assert all(moved <= watermark for moved in reported), f"reported {reported}, watermark {watermark}"
        return watermark

    def finish_and_check(self, batch_events: int = BATCH) -> None:
        log = EventLog.open(self.log_url)
        try:
            compact(log, self.lake, batch_events=batch_events)
            check_lake_equals_log(self.lake, log)
        finally:
            log.close()


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_at_a_crash_point(tmp_path: Path, crash_at: str) -> None:
    setup = Setup(tmp_path)
    run = setup.child(crash_at=crash_at)
    assert run.killed, f"the child did not reach {crash_at}"
    watermark = setup.check_after_kill(run)
    point, nth = crash_at.split(":")
    n = int(nth)
    orphans = [p for p in setup.lake.events_dir.glob("date=*/*.parquet") if p not in setup.lake.committed_files()]
    if point == "lake.after_file":  # the n-th file of all, in batch (n-1)//DATES: that batch has not committed
        assert watermark == BATCH * ((n - 1) // DATES)
        assert len(orphans) == (n - 1) % DATES + 1
    elif point == "lake.before_commit":  # every file of batch n written, its watermark not moved
        assert watermark == BATCH * (n - 1)
        assert len(orphans) == DATES
    else:  # lake.after_commit: batch n committed, nothing of the next one written yet
        assert watermark == BATCH * n
        assert orphans == []
    # Other batch boundaries than the killed run's: an orphan left behind could not hide by being overwritten.
    setup.finish_and_check(batch_events=7)


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_killed_at_a_random_moment(tmp_path: Path, seed: int) -> None:
    setup = Setup(tmp_path)
    rng = seeded("compaction", seed)
    run = setup.child(kill_after=rng.randrange(1, BATCHES))
    setup.check_after_kill(run)
    setup.finish_and_check(batch_events=rng.choice([BATCH, 7, 25]))  # the next compaction may batch differently


def test_killed_again_and_again_including_during_recovery(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    rng = seeded("compaction-repeated", 0)
    for round_ in range(5):
        if round_ % 2:
            run = setup.child(crash_at=f"lake.after_file:{rng.randint(1, 2 * DATES)}")
        else:  # the first line comes after recovery and a commit: killing at once often hits recovery
            run = setup.child(kill_after=rng.randrange(0, 3))
        setup.check_after_kill(run)
    setup.finish_and_check()
