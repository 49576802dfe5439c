"""The programs that crash tests run in a child process and kill (run by path: ``python child.py <command> ...``).

Every program reports progress on stdout, one line per step, written with one ``os.write`` *after* the step
returned — so a line the parent has read is a promise the child had already been given (an acknowledged append,
a committed compaction batch, an applied processor batch). The parent kills the child with SIGKILL, either at a
named crash point (env ``C360_CRASH_AT``) or after reading a seeded-random number of lines, then checks the files.

Commands:
    append  LOG_URL --prefix P --threads T --appends A --size S   T threads, each A appends of S records;
                                                                  prints ``ack <message_id>`` per acknowledged record
    compact LOG_URL LAKE_DIR --batch B                            compacts the log; prints ``progress <moved> <total>``
    process LOG_URL STORE_URL --batch B [--fail-seq N]            runs the processor with the test handlers until
                                                                  idle; prints ``applied <n>`` per batch

The parent imports this module too, for the record builder, the effects table and the handlers.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, Table

from c360.domain.timestamps import format_utc, from_micros
from c360.eventlog import EventLog, LogRecord
from c360.store.upsert import upsert

if TYPE_CHECKING:
    from c360.processor import ProcessedEvent

DAY_US = 86_400_000_000
#: 2025-03-01T00:00:00Z in microseconds: the first UTC date of the prepared events.
BASE_US = 1_740_787_200_000_000

# The processor's test handler counts, per seq, how many times its effect was committed: exactly once is n == 1.
effects_metadata = MetaData()
effects = Table(
    "test_effects",
    effects_metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("n", Integer, nullable=False),
)


def make_record(message_id: str, timestamp_us: int, *, user: str = "u0", source: str = "crash") -> LogRecord:
    message = {
        "type": "track",
        "event": "Product Viewed",
        "userId": user,
        "messageId": message_id,
        "timestamp": format_utc(from_micros(timestamp_us)),
        "properties": {"sku": f"sku-{len(message_id) % 7}"},
    }
    return LogRecord(
        source=source,
        message_id=message_id,
        type="track",
        timestamp_us=timestamp_us,
        received_us=timestamp_us + 1_000,
        body=orjson.dumps(message),
    )


def append_group_ids(prefix: str, thread: int, append: int, size: int) -> list[str]:
    """The message ids of one append of the ``append`` command (one all-or-nothing group)."""
    return [f"{prefix}-{thread}-{append}-{i}" for i in range(size)]


class EffectsHandler:
    """Adds 1 to ``test_effects.n`` of the event's seq, inside the processor's transaction."""

    name = "test_effects"

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        upsert(conn, effects, {"seq": event.seq, "n": 1}, key=("seq",), on_conflict={"n": effects.c.n + 1})


class FailOn:
    """Raises on the events whose seq is in ``seqs``. It runs after the effects handler, so the processor must roll
    back that handler's effect on the failing event too."""

    name = "fail_on"

    def __init__(self, seqs: Sequence[int]) -> None:
        self.seqs = frozenset(seqs)

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        if event.seq in self.seqs:
            raise ValueError(f"boom at seq {event.seq}")


def crash_handlers(fail_seqs: Sequence[int] = ()) -> list[object]:
    """The handlers of the processor crash test: the built-in ones, the effects counter, and a failing one."""
    from c360.processor import default_handlers

    handlers: list[object] = [*default_handlers(), EffectsHandler()]
    if fail_seqs:
        handlers.append(FailOn(fail_seqs))
    return handlers


_out_lock = threading.Lock()


def emit(text: str) -> None:
    """Write ``text`` to stdout unbuffered, whole lines at once."""
    data = text.encode()
    with _out_lock:
        while data:
            data = data[os.write(1, data) :]


# --- commands ------------------------------------------------------------------------------------------------
def cmd_append(args: argparse.Namespace) -> None:
    log = EventLog.open(args.log_url)
    errors: list[BaseException] = []

    def worker(thread: int) -> None:
        try:
            for append in range(args.appends):
                ids = append_group_ids(args.prefix, thread, append, args.size)
                log.append([make_record(mid, BASE_US + thread * 1_000 + append) for mid in ids])
                emit("".join(f"ack {mid}\n" for mid in ids))
        except BaseException as exc:  # reported below: the parent sees a non-zero exit and the stderr
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    if errors:
        raise errors[0]
    emit("done\n")


def cmd_compact(args: argparse.Namespace) -> None:
    from c360.lake import Lake
    from c360.services.compaction import compact

    log = EventLog.open(args.log_url)
    result = compact(
        log, Lake(Path(args.lake_dir)), batch_events=args.batch, progress=lambda m, t: emit(f"progress {m} {t}\n")
    )
    log.close()
    emit(f"done {result.events}\n")


def cmd_process(args: argparse.Namespace) -> None:
    from c360.processor import EventProcessor
    from c360.store import Store

    log = EventLog.open(args.log_url)
    store = Store.open(args.store_url, migrate=False)
    fail = [args.fail_seq] if args.fail_seq else []
    processor = EventProcessor(log, store, crash_handlers(fail), batch_size=args.batch)
    processor.run_until_idle(progress=lambda n: emit(f"applied {n}\n"))
    log.close()
    store.close()
    emit("done\n")


def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="crash-child")
    commands = parser.add_subparsers(dest="command", required=True)
    append = commands.add_parser("append")
    append.add_argument("log_url")
    append.add_argument("--prefix", required=True)
    append.add_argument("--threads", type=int, default=4)
    append.add_argument("--appends", type=int, default=12)
    append.add_argument("--size", type=int, default=5)
    append.set_defaults(run=cmd_append)
    comp = commands.add_parser("compact")
    comp.add_argument("log_url")
    comp.add_argument("lake_dir")
    comp.add_argument("--batch", type=int, required=True)
    comp.set_defaults(run=cmd_compact)
    proc = commands.add_parser("process")
    proc.add_argument("log_url")
    proc.add_argument("store_url")
    proc.add_argument("--batch", type=int, required=True)
    proc.add_argument("--fail-seq", type=int, default=0)
    proc.set_defaults(run=cmd_process)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
