"""Crash tests of the event processor: a child applies the log (60 events, batches of 7) with the built-in
handlers and a handler that counts its effect per seq, and is killed with SIGKILL at every crash point of the
processor (and its N-th hit) and at seeded-random moments. Right after the kill the store holds the effects of
exactly the events up to the checkpoint; after restarts every event's effect happened exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crashkit.child import crash_handlers
from tests.crashkit.run import ChildRun, crash_point_specs, run_child, seeded
from tests.processor.procsetup import catch_up, check_exactly_once, log_max_seq, prepare

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

EVENTS, BATCH = 60, 7  # 9 batches: 8 of 7 and one of 4
# Crash point hits of one full batch: one per set-based handler (the built-in ones take the whole batch), then
# one per event for each per-event handler (the effects counter).
_HANDLERS = crash_handlers()
BATCH_HANDLERS = sum(hasattr(h, "handle_batch") for h in _HANDLERS)
HITS_PER_BATCH = BATCH_HANDLERS + BATCH * (len(_HANDLERS) - BATCH_HANDLERS)
BATCHES = -(-EVENTS // BATCH)
CRASH_POINTS = crash_point_specs(
    {
        "processor.after_handler": (1, 22, 50),
        "processor.before_checkpoint": (1, 2, 5),
        "processor.before_commit": (1, 3, BATCHES),
        "processor.after_commit": (1, 3, BATCHES),
    }
)
RANDOM_SEEDS = range(20)
FAIL_SEQ = 17  # in the random runs with odd seeds a handler raises on this event


def checkpoint_after(crash_at: str) -> int:
    """Where the checkpoint must be after the child was killed at ``crash_at`` (single-threaded: exact)."""
    point, nth = crash_at.split(":")
    n = int(nth)
    if point == "processor.after_handler":
        return BATCH * ((n - 1) // HITS_PER_BATCH)
    if point in ("processor.before_checkpoint", "processor.before_commit"):
        return BATCH * (n - 1)
    return min(BATCH * n, EVENTS)


def process_child(
    log_url: str,
    store_url: str,
    *,
    fail_seq: int = 0,
    crash_at: str | None = None,
    kill_after_lines: int | None = None,
) -> ChildRun:
    args = ("process", log_url, store_url, "--batch", str(BATCH), "--fail-seq", str(fail_seq))
    return run_child(*args, crash_at=crash_at, kill_after_lines=kill_after_lines)


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_killed_at_a_crash_point(tmp_path: Path, store_url: str, crash_at: str) -> None:
    log_url = f"sqlite:///{tmp_path / 'log.db'}"
    prepare(log_url, store_url, events=EVENTS)
    run = process_child(log_url, store_url, crash_at=crash_at)
    assert run.killed, f"the child did not reach {crash_at}: {run.describe()}"
    check_exactly_once(store_url, upto=checkpoint_after(crash_at))

    catch_up(log_url, store_url, batch=BATCH)
    assert check_exactly_once(store_url, upto=log_max_seq(log_url)) == EVENTS


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_killed_at_a_random_moment(tmp_path: Path, seed: int) -> None:
    log_url, store_url = f"sqlite:///{tmp_path / 'log.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    prepare(log_url, store_url, events=EVENTS)
    rng = seeded("processor", seed)
    failed = [FAIL_SEQ] if seed % 2 else []
    run = process_child(log_url, store_url, kill_after_lines=rng.randrange(1, BATCHES), fail_seq=sum(failed))
    assert run.killed or run.finished, run.describe()
    reported = sum(int(n) for n in run.values("applied"))
    checkpoint = check_exactly_once(store_url, upto=-1, failed=failed)
    assert checkpoint >= reported  # every batch the child reported is committed

    catch_up(log_url, store_url, batch=rng.choice([BATCH, 1, 50]), fail_seqs=failed)
    assert check_exactly_once(store_url, upto=log_max_seq(log_url), failed=failed) == EVENTS


def test_restarted_until_caught_up_after_repeated_kills(tmp_path: Path) -> None:
    """Children, each started on what the previous one left, killed at crash points and random moments, until
    one runs to the end; a handler fails on one event throughout, which is dead-lettered exactly once."""
    log_url, store_url = f"sqlite:///{tmp_path / 'log.db'}", f"sqlite:///{tmp_path / 'store.db'}"
    prepare(log_url, store_url, events=EVENTS)
    rng = seeded("processor-repeated", 0)
    kills: list[tuple[str | None, int | None]] = [
        ("processor.before_commit:2", None),
        (None, rng.randrange(1, 3)),
        (f"processor.after_handler:{rng.randint(1, 40)}", None),
        (None, rng.randrange(1, 3)),
        ("processor.after_commit:1", None),
    ]
    for crash_at, kill_after_lines in kills:
        run = process_child(log_url, store_url, fail_seq=FAIL_SEQ, crash_at=crash_at, kill_after_lines=kill_after_lines)
        assert run.killed or run.finished, run.describe()
        check_exactly_once(store_url, upto=-1, failed=[FAIL_SEQ])
    restarts = 0
    while not (run := process_child(log_url, store_url, fail_seq=FAIL_SEQ)).finished:
        restarts += 1
        assert restarts < 3, run.describe()
    assert check_exactly_once(store_url, upto=log_max_seq(log_url), failed=[FAIL_SEQ]) == EVENTS
