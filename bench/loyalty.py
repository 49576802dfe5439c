"""Loyalty throughput: earns and redeems per second from concurrent clients, in-process through the service layer
(SQLite or PostgreSQL) and over HTTP, with the ledger's invariants checked after every run.

    .venv/bin/python bench/loyalty.py inproc --store sqlite   --ops 1000 --clients 8
    .venv/bin/python bench/loyalty.py inproc --store postgres --ops 2000 --clients 8
    .venv/bin/python bench/loyalty.py inproc --store sqlite   --ops 1000 --profile --profile-ops 300
    .venv/bin/python bench/loyalty.py http   --ops 600 --clients 8

The workload (fixed seed, built before the clock starts):
- ``--members`` members (default 200) of the example program (src/c360/loyalty/example.yaml), enrolled and
  given active points by a manual adjustment each (through the service's operations, in batches; not timed):
  enough for every redemption the workload gives them, plus 5,000, so that no redemption is refused.
- N operations: ~80 % earns (``Loyalty.order``: an order of 1-3 lines, 50,000-2,000,000 VND each, some in the
  skincare category that the March campaign doubles, shipping 30,000; a unique order id) and ~20 % redeems
  (``Loyalty.redeem`` of ``voucher-100k``, 2,000 points, with a unique key), each for a member drawn at random.
- The service's clock is fixed at 2026-03-10 05:00 UTC (orders are placed in the hour before it), so the run is
  the same every time: earned points stay pending (14-day window) and redemptions draw from the seeded lots.
- ``--clients`` threads of this process (default 8) each run their share of the operations back to back (a closed
  loop), on one shared ``Loyalty`` and store (SQLAlchemy's connection pool). ops/s is N over the wall time from
  the first operation to the last; latency is per operation, retries included.

Durability is the workspace's default: SQLite in WAL mode with ``synchronous=FULL`` (the WAL fsynced at every
commit; src/c360/store/db.py), the file in a temporary folder on the local disk; PostgreSQL as the server is
configured (its ``fsync`` and ``synchronous_commit`` settings are printed), in a database created for the run on
``--postgres-url`` (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and dropped afterwards.

The reference, measured in the same run: the *group-commit ceiling*. The same number of operations, from the
same threads, on a fresh store of the same kind and durability with the same members, each doing the least an
earn or a redeem must write: one INSERT of an entry row and one UPDATE of the member's balance (Core statements
run as the service's ``Books`` runs them, c360.store.prepared), through the same group commit as the service (a
savepoint each, one durable commit per batch). ratio = service ops/s / ceiling ops/s: what the service's logic and its
other statements cost on top of the same durable commits.

Invariants, checked on the service's store after the run: every entry's postings add up to zero (and all of them
together); every member's stored balances equal the balances replayed from the postings
(``c360.services.loyalty.balances_replayed``); no member and no lot has negative active points; and the store
holds exactly one earn entry per earn and one redeem entry per redeem that succeeded.

--profile: afterwards, a separate run of ``--profile-ops`` operations (default N/4) on a fresh store, with the
store's group-commit writer thread (where every operation's work runs) under cProfile (wall clock, so fsync counts
where it happens): the top 25 functions by cumulative time, and the SQL statements per operation kind.

http: one ``c360 serve`` process (one uvicorn worker, as deployed) on a fresh workspace (its SQLite store at the
default durability) on a free loopback port; the same workload through ``POST /v1/loyalty/orders`` and
``POST /v1/loyalty/redemptions`` from ``--clients`` threads of this process, each with a keep-alive
``httpx.Client``; the members are seeded in-process before the server starts. The reference is the in-process
service run of the same operations on a fresh SQLite store, in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, func, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))

from c360.loyalty.ledger import MEMBER_ACCOUNTS
from c360.loyalty.program import Program, load_program
from c360.loyalty.rules import Order, OrderLine
from c360.services.loyalty import Loyalty, balances_replayed
from c360.services.loyalty import operations as ops
from c360.services.loyalty.books import Books
from c360.settings import load_settings
from c360.store import Database, Store, prepared
from c360.store.group_commit import GroupCommitter, committer_for
from c360.store.prepared import Prepared
from c360.store.schema import loyalty_entries, loyalty_lots, loyalty_members, loyalty_postings
from serve import Server, free_port

C360_EXE = Path(sys.executable).with_name("c360")
PROGRAM = Path(__file__).resolve().parents[1] / "src" / "c360" / "loyalty" / "example.yaml"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = dt.datetime(2026, 3, 10, 5, tzinfo=dt.UTC)
SOURCE = "bench"
REWARD = "voucher-100k"
REWARD_POINTS = 2_000
EARN_SHARE = 0.8
SEED_BATCH = 250  # members enrolled and credited per seeding transaction
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CATEGORIES = ("Chăm sóc da", "Áo thun", "Trang điểm", "Nước hoa", "Phụ kiện")
GOAL_INPROC_SQLITE = 3_000  # ops/s, the goal

Kind = Literal["earn", "redeem"]


# --- the workload ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Op:
    kind: Kind
    member_id: str
    order: Order | None = None  # earn
    key: str = ""  # redeem


def member_ids(count: int) -> list[str]:
    return [f"m{i:06d}" for i in range(count)]


def build_ops(count: int, members: Sequence[str], seed: int) -> list[Op]:
    rng = random.Random(seed)
    out: list[Op] = []
    for i in range(count):
        member = rng.choice(members)
        if rng.random() < EARN_SHARE:
            lines = []
            for j in range(rng.randint(1, 3)):
                quantity = rng.randint(1, 3)
                price = rng.randrange(50_000, 2_000_001, 1_000)
                sku = f"SKU{rng.randint(1, 500)}-{j}"
                lines.append(OrderLine(sku, rng.choice(CATEGORIES), quantity, price * quantity))
            shipping = 30_000
            at = NOW - dt.timedelta(seconds=rng.randint(60, 3_600))
            order = Order(f"B{i:08d}", at, "VND", sum(x.amount for x in lines) + shipping, shipping, 0, tuple(lines))
            out.append(Op("earn", member, order=order))
        else:
            out.append(Op("redeem", member, key=f"bench-{i:08d}"))
    return out


def seed_points(ops_: Sequence[Op], members: Sequence[str]) -> dict[str, int]:
    """Active points each member starts with: every redemption the workload gives it, plus 5,000."""
    redeems = Counter(op.member_id for op in ops_ if op.kind == "redeem")
    return {m: REWARD_POINTS * redeems[m] + 5_000 for m in members}


def new_loyalty(store: Database, program: Program, clock: Callable[[], dt.datetime] = lambda: NOW) -> Loyalty:
    return Loyalty(store, program, ZONE, clock=clock)


def seed_members(loyalty: Loyalty, points: dict[str, int]) -> None:
    """Enrol every member and credit its points (a manual adjustment: active at once), SEED_BATCH a transaction."""
    members = list(points)
    for start in range(0, len(members), SEED_BATCH):
        with loyalty.store.write() as conn:
            books = Books(conn, loyalty.clock())
            for member_id in members[start : start + SEED_BATCH]:
                ops.enrol(books, loyalty.ctx, member_id)
                ops.adjust(
                    books,
                    loyalty.ctx,
                    member_id,
                    points[member_id],
                    "bench seed",
                    key=f"seed:{member_id}",
                    now=books.now,
                )


# --- stores ---------------------------------------------------------------------------------------------------------
class Postgres:
    """Databases created on a PostgreSQL server for one run, dropped afterwards (as tests/conftest.py does)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.url = make_url(url)
        self.created: list[str] = []

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username,
            password=self.url.password,
            dbname=self.url.database or "postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def settings(self) -> str:
        names = ("fsync", "synchronous_commit", "wal_sync_method", "commit_delay", "shared_buffers")
        with self._connect() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            values = [f"{n}={conn.execute(f'SHOW {n}').fetchone()[0]}" for n in names]
        return f"PostgreSQL {version}, " + ", ".join(values)

    def create(self) -> str:
        name = f"c360_bench_{uuid.uuid4().hex[:12]}"
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._connect() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


@contextlib.contextmanager
def store_factory(kind: str, postgres_url: str) -> Iterator[tuple[Callable[[], Store], str]]:
    """A maker of fresh, migrated stores of ``kind``; and a line saying what durability they have."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="c360-bench-loyalty-", dir=os.environ.get("TMPDIR")) as folder:
            made = iter(range(1_000))

            def make_sqlite() -> Store:
                return Store.open(f"sqlite:///{folder}/store-{next(made)}.db")

            yield make_sqlite, f"SQLite WAL, synchronous=FULL (fsync at every commit), file in {folder}"
        return
    server = Postgres(postgres_url)
    try:
        described = server.settings()

        def make_postgres() -> Store:
            return Store.open(server.create())

        yield make_postgres, described
    finally:
        server.drop_all()


# --- running --------------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    wall: float = 0.0
    cpu: float = 0.0  # this process's CPU seconds (all threads) during the run
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"earn": [], "redeem": []})
    done: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    commits: int = 0  # durable commits (group-commit batches) during the run

    @property
    def ops(self) -> int:
        return sum(self.done.values())

    @property
    def rate(self) -> float:
        return self.ops / self.wall if self.wall else 0.0

    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_threads(
    ops_: Sequence[Op],
    clients: int,
    do: Callable[[Op], None],
    *,
    setup: Callable[[], Any] | None = None,
    around: Callable[[Callable[[], None]], None] | None = None,
    committer: GroupCommitter | None = None,
) -> Outcome:
    """Run ``do`` on every op from ``clients`` threads (thread i takes ops i, i+clients, ...); wall time from the
    first op to the last. ``around`` wraps each thread's loop (a profiler)."""
    outcome = Outcome()
    ready = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client(index: int) -> None:
        latencies: dict[str, list[float]] = {"earn": [], "redeem": []}
        done: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        if setup is not None:
            setup()
        ready.wait()

        def loop() -> None:
            for op in ops_[index::clients]:
                started = time.perf_counter()
                try:
                    do(op)
                except Exception as exc:  # counted and shown: a benchmark keeps going
                    name = f"{op.kind}: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}"
                    if not errors:
                        print(f"  client {index}: {name}", file=sys.stderr)
                    errors[name] += 1
                    continue
                latencies[op.kind].append(time.perf_counter() - started)
                done[op.kind] += 1

        if around is None:
            loop()
        else:
            around(loop)
        with lock:
            for kind, values in latencies.items():
                outcome.latencies[kind].extend(values)
            outcome.done.update(done)
            outcome.errors.update(errors)

    threads = [threading.Thread(target=client, args=(i,), name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    batches = committer.batches if committer is not None else 0
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    outcome.wall, outcome.cpu = time.perf_counter() - started, time.process_time() - cpu
    outcome.commits = committer.batches - batches if committer is not None else 0
    return outcome


def service_op(loyalty: Loyalty) -> Callable[[Op], None]:
    def do(op: Op) -> None:
        if op.kind == "earn":
            assert op.order is not None
            result = loyalty.order(SOURCE, op.order, op.member_id)
        else:
            result = loyalty.redeem(op.member_id, REWARD, key=op.key)
        if result.duplicate:
            raise AssertionError(f"{op.kind} {op.member_id}: answered as a duplicate")

    return do


def ceiling_op(store: Database) -> Callable[[Op], None]:
    """The least an earn or a redeem writes: one entry row and one balance UPDATE, run as the service's ``Books``
    runs its statements (``c360.store.prepared``), through the same group commit (a savepoint each, one durable
    commit per batch)."""
    new_entry = Prepared(insert(loyalty_entries))
    move = {
        account: Prepared(
            update(loyalty_members)
            .where(loyalty_members.c.member_id == bindparam("b_member_id"))
            .values({account: loyalty_members.c[account] + bindparam("b_delta"), "updated_at": bindparam("b_now")})
        )
        for account in ("pending", "active")
    }

    def do(op: Op) -> None:
        if op.kind == "earn":
            assert op.order is not None
            points, account, key, at = (
                op.order.total // 10_000,
                "pending",
                f"order:{SOURCE}:{op.order.order_id}",
                op.order.at,
            )
        else:
            points, account, key, at = REWARD_POINTS, "active", f"redeem:{op.key}", NOW

        def work(conn: Any) -> None:
            new_entry.execute(
                conn,
                {
                    "member_id": op.member_id,
                    "kind": op.kind,
                    "key": key,
                    "at": at,
                    "recorded_at": NOW,
                    "points": points,
                    "reason": op.kind,
                },
            )
            delta = points if op.kind == "earn" else -points
            move[account].execute(conn, {"b_member_id": op.member_id, "b_delta": delta, "b_now": NOW})

        committer.run(work)

    committer = committer_for(store)
    return do


def seed_bare_members(store: Database, points: dict[str, int]) -> None:
    """The ceiling's members: plain rows with their starting balance (no entries: the ceiling checks nothing)."""
    rows = [
        {
            "member_id": m,
            "profile_id": m,
            "status": "active",
            "enrolled_at": NOW,
            "referral_code": f"R{m}",
            "tier": "Member",
            **dict.fromkeys(MEMBER_ACCOUNTS, 0),
            "active": p,
            "updated_at": NOW,
        }
        for m, p in points.items()
    ]
    with store.write() as conn:
        conn.execute(insert(loyalty_members), rows)


# --- invariants -----------------------------------------------------------------------------------------------------
def check_invariants(store: Database, outcome: Outcome) -> list[tuple[str, bool, str]]:
    """(what, holds, detail) for each invariant of the ledger after a run."""
    with store.read() as conn:
        total = int(conn.execute(select(func.coalesce(func.sum(loyalty_postings.c.amount), 0))).scalar_one())
        per_entry = select(loyalty_postings.c.entry_id).group_by(loyalty_postings.c.entry_id)
        unbalanced = int(
            conn.execute(
                select(func.count()).select_from(per_entry.having(func.sum(loyalty_postings.c.amount) != 0).subquery())
            ).scalar_one()
        )
        postings = int(conn.execute(select(func.count()).select_from(loyalty_postings)).scalar_one())
        replayed = balances_replayed(conn)
        members = list(conn.execute(select(loyalty_members)))
        negative_lots = int(conn.execute(select(func.count()).where(loyalty_lots.c.remaining < 0)).scalar_one())
        kinds = {
            kind: int(n)
            for kind, n in conn.execute(select(loyalty_entries.c.kind, func.count()).group_by(loyalty_entries.c.kind))
        }
    mismatched = [
        (row.member_id, account, int(row._mapping[account]), replayed.get((row.member_id, account), 0))
        for row in members
        for account in MEMBER_ACCOUNTS
        if int(row._mapping[account]) != replayed.get((row.member_id, account), 0)
    ]
    negative = [row.member_id for row in members if int(row.active) < 0]
    earns, redeems = int(kinds.get("earn", 0)), int(kinds.get("redeem", 0))
    return [
        ("postings sum to zero", total == 0 and unbalanced == 0,
         f"sum {total:+,} over {postings:,} postings; {unbalanced} unbalanced entries"),
        ("stored balances == balances_replayed", not mismatched,
         f"{len(members):,} members x {len(MEMBER_ACCOUNTS)} accounts, {len(mismatched)} differ"
         + (f", e.g. {mismatched[0]}" if mismatched else "")),
        ("no negative active", not negative and negative_lots == 0,
         f"{len(negative)} members with active < 0, {negative_lots} lots with remaining < 0"),
        ("one entry per operation", earns == outcome.done["earn"] and redeems == outcome.done["redeem"],
         f"{earns:,} earn entries for {outcome.done['earn']:,} earns, "
         f"{redeems:,} redeem entries for {outcome.done['redeem']:,} redeems"),
    ]  # fmt: skip


def print_invariants(checks: list[tuple[str, bool, str]]) -> bool:
    print("invariants after the run:")
    for what, holds, detail in checks:
        print(f"  {'ok  ' if holds else 'FAIL'} {what:<38} {detail}")
    return all(holds for _, holds, _ in checks)


# --- reporting ------------------------------------------------------------------------------------------------------
def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def print_workload(ops_: Sequence[Op], members: Sequence[str], args: argparse.Namespace) -> None:
    earns = sum(op.kind == "earn" for op in ops_)
    print(f"workload: {len(ops_):,} ops ({earns:,} earns, {len(ops_) - earns:,} redeems of {REWARD}) over "
          f"{len(members):,} members, seed {args.seed}, {args.clients} clients; {os.cpu_count()} cores, "
          f"load average {load_average()}")  # fmt: skip


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def print_outcome(label: str, outcome: Outcome, clients: int) -> None:
    lat = outcome.all_latencies()
    print(
        f"{label:<10}{outcome.rate:>8,.0f} ops/s  ({outcome.ops:,} ops in {outcome.wall:.2f} s, {clients} clients; "
        f"{outcome.done['earn']:,} earns, {outcome.done['redeem']:,} redeems"
        + (f"; {sum(outcome.errors.values()):,} FAILED" if outcome.errors else "")
        + ")"
    )
    commits = f"; {outcome.commits:,} commits, {outcome.ops / outcome.commits:.1f} ops each" if outcome.commits else ""
    print(f"          cpu of this process: {outcome.cpu:.1f} s = {outcome.cpu / outcome.wall:.0%} of a core, "
          f"{outcome.cpu / max(outcome.ops, 1) * 1e3:.1f} ms per op{commits}")  # fmt: skip
    print(f"          latency per op: p50 {ms(percentile(lat, 0.5))}, p99 {ms(percentile(lat, 0.99))}", end="")
    for kind in ("earn", "redeem"):
        values = outcome.latencies[kind]
        if values:
            print(f"; {kind} p50 {ms(percentile(values, 0.5))} p99 {ms(percentile(values, 0.99))}", end="")
    print()
    for name, count in outcome.errors.most_common(5):
        print(f"          error x{count:,}: {name}")


# --- profiling ------------------------------------------------------------------------------------------------------
def shape(statement: str) -> str:
    """A statement, short: its verb and table, and the columns of its WHERE."""
    words = " ".join(statement.split())
    head = words[:70]
    where = words.find(" WHERE ")
    if where >= 0 and where > 70:
        head += " ..." + words[where : where + 90]
    return head


class _CountingDriver:
    """A DBAPI connection that counts the statements run through it."""

    def __init__(self, driver: Any, profiles: Profiles) -> None:
        self.driver, self.profiles = driver, profiles

    def execute(self, statement: str, params: Any) -> Any:
        self.profiles.count(statement)
        return self.driver.execute(statement, params)

    def executemany(self, statement: str, rows: Sequence[Any]) -> Any:
        self.profiles.count(statement, len(rows))
        return self.driver.executemany(statement, rows)

    def cursor(self) -> Any:
        return self.driver.cursor()


class Profiles:
    """cProfile of the store's group-commit writer thread, where every operation's work runs (cProfile sees only
    its own thread), and a count of the SQL statements the store's engine runs, by the kind of operation that ran
    them (the client thread's tag travels with its work to the writer)."""

    def __init__(self, store: Database) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.lock = threading.Lock()
        self.statements: Counter[str] = Counter()
        self.shapes: Counter[tuple[str, str]] = Counter()
        self.current = threading.local()

        @event.listens_for(store.engine, "before_cursor_execute")
        def count_sqlalchemy(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.count(statement)

    def count(self, statement: str, times: int = 1) -> None:
        what = getattr(self.current, "kind", "other")
        self.statements[f"{what}:{statement.split(None, 1)[0].upper()}"] += times
        self.shapes[what, shape(statement)] += times

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        """While open, every writer thread runs under its own cProfile and each operation's statements carry the
        kind of the operation that submitted them."""
        run, loop = GroupCommitter.run, GroupCommitter._loop
        profiles = self

        def tagged_run(committer: GroupCommitter, work: Callable[[Any], Any]) -> Any:
            kind = getattr(profiles.current, "kind", "other")

            def tagged(conn: Any) -> Any:
                profiles.current.kind = kind
                try:
                    return work(conn)
                finally:
                    profiles.current.kind = "other"

            return run(committer, tagged)

        def profiled_loop(committer: GroupCommitter) -> None:
            profile = cProfile.Profile()
            with profiles.lock:
                profiles.profiles.append(profile)
            profile.enable()
            try:
                loop(committer)
            finally:
                profile.disable()

        # The ledger's own statements go straight to the DBAPI connection (c360.store.prepared), past SQLAlchemy's
        # events: counted on their way there.
        driver = prepared._driver

        def counted_driver(conn: Any) -> Any:
            return _CountingDriver(driver(conn), profiles)

        GroupCommitter.run, GroupCommitter._loop = tagged_run, profiled_loop  # type: ignore[method-assign]
        prepared._driver = counted_driver
        try:
            yield
        finally:
            prepared._driver = driver
            GroupCommitter.run, GroupCommitter._loop = run, loop  # type: ignore[method-assign]

    def tag(self, do: Callable[[Op], None]) -> Callable[[Op], None]:
        def tagged(op: Op) -> None:
            self.current.kind = op.kind
            try:
                do(op)
            finally:
                self.current.kind = "other"

        return tagged

    def print(self, outcome: Outcome, top: int = 25) -> None:
        stats = pstats.Stats(self.profiles[0], stream=(out := io.StringIO()))
        for profile in self.profiles[1:]:
            stats.add(profile)
        stats.strip_dirs().sort_stats("cumulative").print_stats(top)
        seconds = stats.total_tt  # type: ignore[attr-defined]
        per_op = seconds / max(outcome.ops, 1) * 1e3
        print(f"cProfile of the group-commit writer thread ({len(self.profiles)} in the run; wall clock:"
              f" {seconds:.1f} s in all, {per_op:.2f} ms per op), top {top} by cumulative time:")  # fmt: skip
        text = out.getvalue()
        print(text[text.find("   ncalls") :].rstrip())
        stats.sort_stats("tottime").print_stats(12)
        text = out.getvalue()
        print("top 12 by own time:")
        print(text[text.rfind("   ncalls") :].rstrip())
        print("SQL statements per operation (BEGIN/COMMIT not counted):")
        for kind in ("earn", "redeem"):
            n = outcome.done[kind]
            if not n:
                continue
            verbs = {k.split(":", 1)[1]: v for k, v in self.statements.items() if k.startswith(f"{kind}:")}
            per = ", ".join(f"{verb} {count / n:.1f}" for verb, count in sorted(verbs.items(), key=lambda x: -x[1]))
            print(f"  {kind:<7} {sum(verbs.values()) / n:5.1f} per op: {per}")
            for (k, text), count in self.shapes.most_common():
                if k == kind:
                    print(f"          {count / n:4.1f}  {text}")


# --- subcommands ----------------------------------------------------------------------------------------------------
def inproc(args: argparse.Namespace) -> None:
    program = load_program(PROGRAM)
    members = member_ids(args.members)
    ops_ = build_ops(args.ops, members, args.seed)
    points = seed_points(ops_, members)
    print_workload(ops_, members, args)
    with store_factory(args.store, args.postgres_url) as (make_store, durability):
        print(f"store:    {durability}")
        store = make_store()
        loyalty = new_loyalty(store, program)
        started = time.perf_counter()
        seed_members(loyalty, points)
        print(f"seeded:   {len(members):,} members enrolled and credited in {time.perf_counter() - started:.1f} s "
              f"(not timed)")  # fmt: skip

        outcome = run_threads(ops_, args.clients, service_op(loyalty), committer=committer_for(store))
        print_outcome("service:", outcome, args.clients)
        ok = print_invariants(check_invariants(store, outcome))
        store.close()

        bare = make_store()
        seed_bare_members(bare, points)
        ceiling = run_threads(ops_, args.clients, ceiling_op(bare), committer=committer_for(bare))
        bare.close()
        print_outcome("ceiling:", ceiling, args.clients)
        print(f"ratio:    service / group-commit ceiling = {outcome.rate / ceiling.rate:.1%}", end="")
        if args.store == "sqlite":
            goal = (
                "met"
                if outcome.rate >= GOAL_INPROC_SQLITE
                else f"missed by {1 - outcome.rate / GOAL_INPROC_SQLITE:.0%}"
            )
            print(f"  (goal >= {GOAL_INPROC_SQLITE:,} ops/s in-process on SQLite: {goal})", end="")
        print()

        if args.profile:
            count = args.profile_ops or max(1_000, args.ops // 4)
            sample = ops_[:count]
            profiled = make_store()
            loyalty = new_loyalty(profiled, program)
            seed_members(loyalty, seed_points(sample, members))
            profiles = Profiles(profiled)
            with profiles.patched():
                result = run_threads(sample, args.clients, profiles.tag(service_op(loyalty)))
            profiled.close()
            print()
            print_outcome("profiled:", result, args.clients)
            profiles.print(result)
    if not ok or outcome.errors:
        raise SystemExit(1)


def start_server(workspace: Path, log_path: Path) -> Server:
    """`c360 serve` (one worker, as deployed) of ``workspace`` on a free loopback port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    command = [str(C360_EXE), "serve", "--workspace", str(workspace), "--port", str(port)]
    return Server(command, port=port, env=env, log_path=log_path)


def http_bodies(ops_: Sequence[Op], now: dt.datetime) -> dict[int, bytes]:
    """The request body of each op (by id()), orders placed relative to ``now`` as in the workload."""
    import orjson

    bodies: dict[int, bytes] = {}
    for op in ops_:
        if op.order is not None:
            o = op.order
            body: dict[str, Any] = {
                "source": SOURCE,
                "order_id": o.order_id,
                "member": op.member_id,
                "timestamp": (now - (NOW - o.at)).isoformat(),
                "currency": o.currency,
                "total": o.total,
                "shipping": o.shipping,
                "tax": o.tax,
                "products": [
                    {"sku": x.sku, "category": x.category, "quantity": x.quantity, "price": x.amount // x.quantity}
                    for x in o.lines
                ],
            }
        else:
            body = {"member": op.member_id, "reward_id": REWARD, "idempotency_key": op.key}
        bodies[id(op)] = orjson.dumps(body)
    return bodies


def http(args: argparse.Namespace) -> None:
    routes = Path(__file__).resolve().parents[1] / "src" / "c360" / "api" / "routes" / "loyalty.py"
    if not routes.exists():
        raise SystemExit(f"http: needs the loyalty API routes ({routes}: POST /v1/loyalty/orders, /redemptions)")
    import httpx

    from c360.loyalty.program import PROGRAM_FILE
    from c360.services.keys import create_api_key
    from c360.store.types import utcnow
    from c360.workspace import Workspace

    program = load_program(PROGRAM)
    members = member_ids(args.members)
    ops_ = build_ops(args.ops, members, args.seed)
    points = seed_points(ops_, members)
    print_workload(ops_, members, args)
    with tempfile.TemporaryDirectory(prefix="c360-bench-loyalty-http-") as folder:
        root = Path(folder)
        workspace = root / "ws"
        with Workspace.init(workspace) as ws:
            shutil.copyfile(PROGRAM, workspace / PROGRAM_FILE)
            key, _ = create_api_key(ws.store, "write", name="bench")
            seed_members(new_loyalty(ws.store, program, utcnow), points)
        print(f"store:    the workspace's default: SQLite WAL, synchronous=FULL (fsync at every commit), in {folder}")
        bodies = http_bodies(ops_, utcnow())
        server = start_server(workspace, root / "server.log")
        local = threading.local()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def connect() -> None:
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            local.client = httpx.Client(base_url=server.base, headers=headers, timeout=120, limits=limits)
            local.client.get("/healthz")  # connect before the clock starts

        def do(op: Op) -> None:
            path = "/v1/loyalty/orders" if op.kind == "earn" else "/v1/loyalty/redemptions"
            response = local.client.post(path, content=bodies[id(op)])
            if response.status_code not in (200, 201) or response.json().get("duplicate"):
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")

        try:
            cpu_before, client_before = server.cpu_seconds(), time.process_time()
            outcome = run_threads(ops_, args.clients, do, setup=connect)
            server_cpu, client_cpu = server.cpu_seconds() - cpu_before, time.process_time() - client_before
        finally:
            server.stop()
        print_outcome("http:", outcome, args.clients)
        print(f"          cpu: server {server_cpu:.1f} s ({server_cpu / outcome.wall:.0%} of a core, "
              f"{server_cpu / max(outcome.ops, 1) * 1e3:.1f} ms/op), clients {client_cpu:.1f} s")  # fmt: skip
        with Workspace.open(load_settings(workspace=workspace)) as ws:
            ok = print_invariants(check_invariants(ws.store, outcome))

        # The reference: the same operations through the service in this process, on a fresh SQLite store.
        with store_factory("sqlite", "") as (make_store, _):
            store = make_store()
            loyalty = new_loyalty(store, program)
            seed_members(loyalty, points)
            reference = run_threads(ops_, args.clients, service_op(loyalty))
            store.close()
        print_outcome("inproc:", reference, args.clients)
        print(f"ratio:    http / in-process service = {outcome.rate / reference.rate:.1%}")
    if not ok or outcome.errors:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)

    def common(sub: argparse.ArgumentParser, ops_default: int) -> None:
        sub.add_argument("--ops", type=int, default=ops_default, help="operations in the measured run")
        sub.add_argument("--clients", type=int, default=8, help="concurrent client threads")
        sub.add_argument("--members", type=int, default=200)
        sub.add_argument("--seed", type=int, default=42)

    inproc_parser = parts.add_parser("inproc", help="through the service layer, in this process")
    common(inproc_parser, 1_000)
    inproc_parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    inproc_parser.add_argument(
        "--postgres-url", default=os.environ.get("C360_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    inproc_parser.add_argument("--profile", action="store_true", help="a separate cProfiled run: where time goes")
    inproc_parser.add_argument("--profile-ops", type=int, default=0, help="operations of the profiled run (N/4)")
    inproc_parser.set_defaults(run=inproc)
    http_parser = parts.add_parser("http", help="through POST /v1/loyalty/orders and /v1/loyalty/redemptions")
    common(http_parser, 600)
    http_parser.set_defaults(run=http)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
