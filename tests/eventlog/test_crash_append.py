"""Crash tests of the event log: a child appends from several threads and prints every message id it was told is
durable; it is killed with SIGKILL at every crash point of the log (and its N-th hit) and at seeded-random
moments. Then the parent reopens the log and checks that what was acknowledged is there exactly once, that every
append is all-or-nothing, and that the log goes on giving unique seqs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from c360.eventlog import EventLog
from tests.crashkit.child import BASE_US, append_group_ids, make_record
from tests.crashkit.run import ChildRun, crash_point_specs, run_child, seeded

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

THREADS, APPENDS, SIZE = 4, 12, 5  # each thread's appends wait for their ack: at least APPENDS durable writes
ACKS_PER_CHILD = THREADS * APPENDS * SIZE
CRASH_POINTS = crash_point_specs(
    {"log.before_write": (1, 3, 7), "log.before_commit": (1, 3, 7), "log.after_commit": (1, 3, 7)}
)
RANDOM_SEEDS = range(20)


def append_child(url: str, prefix: str, *, crash_at: str | None = None, kill_after: int | None = None) -> ChildRun:
    args = ("append", url, "--prefix", prefix, "--threads", str(THREADS), "--appends", str(APPENDS))
    return run_child(*args, "--size", str(SIZE), crash_at=crash_at, kill_after_lines=kill_after)


def groups(prefix: str) -> list[list[str]]:
    return [append_group_ids(prefix, t, a, SIZE) for t in range(THREADS) for a in range(APPENDS)]


def check_log(url: str, runs: dict[str, ChildRun]) -> list[str]:
    """The invariants after any number of killed children (``prefix -> run``); returns the logged ids."""
    log = EventLog.open(url)
    try:
        events = log.read(0, 1_000_000)
        logged = [e.message_id for e in events]
        seqs = [e.seq for e in events]
        duplicates = [mid for mid, n in Counter(logged).items() if n > 1]
        assert duplicates == [], f"message ids logged twice: {duplicates[:5]}"
        assert seqs == list(range(1, len(seqs) + 1)), "seqs are not 1..n (SQLite never hands out a seq twice)"
        assert log.max_seq() == len(seqs), "the log's high-water mark disagrees with its rows"
        present = set(logged)
        tried = {mid for prefix in runs for group in groups(prefix) for mid in group}
        assert present <= tried, f"ids nobody appended: {sorted(present - tried)[:5]}"
        for prefix, run in runs.items():
            acked = run.values("ack")
            assert len(acked) == len(set(acked))
            missing = [mid for mid in acked if mid not in present]
            assert missing == [], f"acknowledged but lost: {missing[:5]}\n{run.describe()}"
            for group in groups(prefix):  # one append is one transaction
                found = [mid in present for mid in group]
                assert all(found) or not any(found), f"append {group[0]}.. half in the log: {found}"
            by_seq = {mid: seq for seq, mid in zip(seqs, logged, strict=True)}
            for group in groups(prefix):
                if group[0] in by_seq:  # and its records got consecutive seqs, in order
                    assert [by_seq[mid] for mid in group] == list(range(by_seq[group[0]], by_seq[group[0]] + SIZE))

        # The log opens and accepts appends afterwards, and seqs stay unique.
        more = log.append([make_record(f"after-{i}", BASE_US) for i in range(7)])
        assert more.first_seq == len(seqs) + 1
        assert more.count == 7
        after = log.read(0, 1_000_000)
        assert [e.seq for e in after] == list(range(1, len(seqs) + 8))
        assert len({e.message_id for e in after}) == len(after)
        return logged
    finally:
        log.close()


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_at_a_crash_point(tmp_path: Path, crash_at: str) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    run = append_child(url, "a", crash_at=crash_at)
    assert run.killed, f"the child did not reach {crash_at}: {run.describe()}"
    logged = check_log(url, {"a": run})
    point, nth = crash_at.split(":")
    acked = run.values("ack")
    if point in ("log.before_write", "log.before_commit"):
        # Killed before its N-th commit: exactly N-1 writes are in the log, each of whole appends.
        assert len(acked) <= len(logged) < ACKS_PER_CHILD
        if nth == "1":
            assert logged == []
            assert acked == []
    else:
        # Killed right after its N-th commit, before resolving that write's futures.
        assert len(acked) < len(logged)
        if nth == "1":
            assert acked == [], "an append was acknowledged before the writer got past its first commit"


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_killed_at_a_random_moment(tmp_path: Path, seed: int) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    kill_after = seeded("append", seed).randrange(1, ACKS_PER_CHILD)
    run = append_child(url, "a", kill_after=kill_after)
    assert run.killed or run.finished, run.describe()
    assert len(run.values("ack")) >= kill_after
    check_log(url, {"a": run})


def test_killed_again_and_again_on_the_same_log(tmp_path: Path) -> None:
    """Each child starts on the log the previous one was killed on: recovery itself is crash-safe."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    rng = seeded("append-repeated", 0)
    runs: dict[str, ChildRun] = {}
    for round_ in range(4):
        prefix = f"r{round_}"
        if round_ % 2:
            runs[prefix] = append_child(url, prefix, crash_at=f"log.before_commit:{rng.randint(2, 6)}")
        else:
            runs[prefix] = append_child(url, prefix, kill_after=rng.randrange(1, ACKS_PER_CHILD))
        assert runs[prefix].killed or runs[prefix].finished, runs[prefix].describe()
    check_log(url, runs)
