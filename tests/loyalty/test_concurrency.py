"""Seeded concurrent stress tests of the loyalty service, on SQLite and PostgreSQL.

Eight threads start together (a barrier) and each runs its own fixed-seed sequence of earns, redemptions,
adjustments, transfers and refunds against the same few members. They send the same order keys, refund keys
and adjustment keys as each other, and all of them compete for one reward's stock and one campaign's budget.
Afterwards the books must show that the service's locking held:

* no overspend: no member's active (or pending) balance is negative, debt is never positive;
* no double award: each order key has exactly one earn entry and one order row, and every thread that sent it
  got that entry back; the same holds for refund and adjustment keys;
* the reward's stock and the campaign's budget are used exactly to their limit, never beyond, and the
  successful redemptions the threads saw are exactly the ones in the store;
* every entry's postings add up to zero, and stored balances equal the balances replayed from postings (the
  full audit of ``test_ledger_properties.audit``).

No sleeps and no timing assertions: the threads race freely; the assertions hold for every interleaving.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from c360.errors import NotFound
from c360.loyalty.program import Program, parse_program
from c360.loyalty.rules import Order, OrderLine
from c360.services.loyalty import Loyalty, Refused, Result
from c360.store import Store
from c360.store.schema import (
    loyalty_counters,
    loyalty_entries,
    loyalty_members,
    loyalty_orders,
    loyalty_redemptions,
    loyalty_shares,
)
from tests.loyalty.test_ledger_properties import audit

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = dt.datetime(2026, 2, 10, 3, tzinfo=dt.UTC)
THREADS = 8
STEPS = 40
PROFILES = ("p1", "p2", "p3", "p4")
LATE = ("late1", "late2")  # enrolled by whichever thread's order comes first
STOCK = 12
BUDGET = 600
SHARED_ORDERS = 24  # order ids every thread may send: each must earn once

PROGRAM: Program = parse_program(
    {
        "name": "Stress",
        "currency": "VND",
        "transfers": True,
        "versions": [
            {
                "effective_from": "2024-01-01",
                "spend": {"per": 10_000, "points": 1, "min_order": 0},
                "campaigns": [
                    {"name": "Rush", "factor": 2, "starts": "2026-01-01", "ends": "2026-12-31", "budget": BUDGET}
                ],
                "pending_days": 0,  # earned points are spendable at once: earns and spends race on the same lots
                "expiry": {"months": 12},
            }
        ],
        "rewards": [
            {"id": "scarce", "name": "Scarce", "points": 30, "stock": STOCK},
            {"id": "pricey", "name": "Pricey", "points": 700},
        ],
    }
)


def shared_order(k: int) -> tuple[Order, str]:
    """Shared order ``k``: the same order (and profile) whichever thread sends it."""
    profile = (PROFILES + LATE)[k % (len(PROFILES) + len(LATE))]
    amount = 200_000 + 50_000 * (k % 7)
    return Order(f"S{k}", NOW, "VND", amount, lines=(OrderLine(f"sku{k % 3}", "any", 1, amount),)), profile


@dataclass
class Seen:
    """What one thread observed."""

    earn_entries: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    refund_entries: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    adjust_entries: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    scarce: set[int] = field(default_factory=set)  # redemption ids of the scarce reward
    refused: int = 0
    errors: list[BaseException] = field(default_factory=list)


def worker(service: Loyalty, seed: int, barrier: threading.Barrier, seen: Seen) -> None:
    rng = random.Random(seed)
    barrier.wait()
    for step in range(STEPS):
        profile = rng.choice(PROFILES)
        roll = rng.random()
        try:
            if roll < 0.30:
                if rng.random() < 0.6:
                    order, owner = shared_order(rng.randrange(SHARED_ORDERS))
                else:
                    amount = rng.randrange(10, 200) * 10_000
                    order, owner = Order(f"T{seed}-{step}", NOW, "VND", amount), profile
                result = service.order("pos", order, owner)
                assert result.entry_id is not None
                seen.earn_entries[order.order_id].add(result.entry_id)
            elif roll < 0.55:
                result = service.redeem(profile, "scarce")
                seen.scarce.update(int(r["redemption_id"]) for r in result.detail["redemptions"])
            elif roll < 0.65:
                service.redeem(profile, "pricey")
            elif roll < 0.78:
                k = rng.randrange(12)
                points = (k % 5 + 1) * 40 * (1 if k % 3 else -1)  # the same key always carries the same points
                result = service.adjust(PROFILES[k % len(PROFILES)], points, "stress", key=f"adj-{k}")
                assert result.entry_id is not None
                seen.adjust_entries[f"adj-{k}"].add(result.entry_id)
            elif roll < 0.90:
                receiver = rng.choice([p for p in PROFILES if p != profile])
                service.transfer(profile, receiver, rng.randrange(1, 150))
            else:
                k = rng.randrange(SHARED_ORDERS)
                result = service.refund("pos", f"S{k}", "full", at=NOW)
                assert result.entry_id is not None
                seen.refund_entries[f"S{k}"].add(result.entry_id)
        except (Refused, NotFound):
            seen.refused += 1  # not enough points, out of stock, or an order not recorded yet
        except BaseException as exc:  # anything else fails the test, after every thread has finished
            seen.errors.append(exc)
            return


def run_threads(service: Loyalty, seeds: list[int]) -> list[Seen]:
    barrier = threading.Barrier(len(seeds))
    seen = [Seen() for _ in seeds]
    threads = [
        threading.Thread(target=worker, args=(service, seed, barrier, s), name=f"loyalty-{seed}")
        for seed, s in zip(seeds, seen, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), f"{t.name} did not finish"
    for s in seen:
        if s.errors:
            raise s.errors[0]
    return seen


def merged(seen: list[Seen], name: str) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for s in seen:
        for key, ids in getattr(s, name).items():
            out[key] |= ids
    return out


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 2026])
def test_concurrent_operations_keep_the_books(store_url: str, seed: int) -> None:
    """Eight threads racing on four members, shared keys, one stock and one budget: the books stay exact."""
    store = Store.open(store_url)
    try:
        service = Loyalty(store, PROGRAM, ZONE, clock=lambda: NOW)
        for profile in PROFILES:
            service.enrol(profile)
            service.adjust(profile, 500, "opening balance", key=f"open-{profile}")
        seen = run_threads(service, [seed * 100 + i for i in range(THREADS)])
        check(store, service, seen)
    finally:
        store.close()


def check(store: Store, service: Loyalty, seen: list[Seen]) -> None:
    with store.read() as conn:
        # The full audit: postings balance, stored == replayed, lots, caps, budgets, stock, redeemed balances.
        audit(conn, service.program, ZONE)

        # No overspend.
        for row in conn.execute(select(loyalty_members)):
            assert row.active >= 0, row
            assert row.pending >= 0, row
            assert row.debt <= 0, row

        # No double award: one earn entry and one order row per order key, and every sender saw that entry.
        keys = Counter(
            key for key in conn.execute(select(loyalty_entries.c.key).where(loyalty_entries.c.kind == "earn")).scalars()
        )
        assert keys
        assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]
        orders = Counter(conn.execute(select(loyalty_orders.c.order_id)).scalars())
        assert all(n == 1 for n in orders.values())
        earned = merged(seen, "earn_entries")
        assert set(orders) == set(earned), "an order the threads saw earn is missing, or one nobody sent exists"
        for order_id, ids in earned.items():
            assert len(ids) == 1, f"order {order_id} was answered with different entries: {ids}"
        for name in ("refund_entries", "adjust_entries"):
            for key, ids in merged(seen, name).items():
                assert len(ids) == 1, f"{name} {key} was answered with different entries: {ids}"
        refunds = Counter(
            conn.execute(select(loyalty_entries.c.key).where(loyalty_entries.c.kind == "reverse")).scalars()
        )
        assert all(n == 1 for n in refunds.values())
        assert len(refunds) == len(merged(seen, "refund_entries"))
        adjustments = conn.execute(
            select(func.count()).where(loyalty_entries.c.kind == "adjust", loyalty_entries.c.key.like("adjust:adj-%"))
        ).scalar_one()
        assert adjustments == len(merged(seen, "adjust_entries"))

        # The stock is used exactly, by exactly the redemptions the threads were told about.
        scarce = set(
            conn.execute(
                select(loyalty_redemptions.c.id).where(
                    loyalty_redemptions.c.reward_id == "scarce", loyalty_redemptions.c.status != "cancelled"
                )
            ).scalars()
        )
        assert len(scarce) == STOCK, f"{len(scarce)} scarce rewards issued, stock {STOCK}"
        assert scarce == set().union(*(s.scarce for s in seen))
        counters = {row.name: int(row.used) for row in conn.execute(select(loyalty_counters))}
        assert counters["reward:scarce"] == STOCK

        # The campaign budget is spent exactly, never beyond.
        rush = conn.execute(
            select(func.coalesce(func.sum(loyalty_shares.c.points), 0)).where(loyalty_shares.c.rule == "Rush")
        ).scalar_one()
        assert int(rush) == BUDGET == counters["campaign:Rush"]
    assert sum(s.refused for s in seen) > 0, "the run never hit a limit: it did not test contention"


def test_operations_awaited_on_an_event_loop_share_commits_and_keep_the_books(store_url: str) -> None:
    """The API's path: coroutines on one event loop await ``order_async`` and ``redeem_async`` (the group commit's
    futures, no thread each). The same order sent eight times at once earns once and every sender gets its entry;
    a reward's stock holds; the books balance."""
    import asyncio

    store = Store.open(store_url)
    try:
        service = Loyalty(store, PROGRAM, ZONE, clock=lambda: NOW)
        for profile in PROFILES:
            service.enrol(profile)
            service.adjust(profile, 1_000, "seed")
        shared, owner = shared_order(0)

        async def burst() -> list[object]:
            calls = [service.order_async("pos", shared, owner) for _ in range(8)]
            calls += [
                service.order_async("pos", Order(f"U{i}", NOW, "VND", 300_000), PROFILES[i % 4]) for i in range(8)
            ]
            calls += [service.redeem_async(PROFILES[i % 4], "scarce") for i in range(STOCK + 4)]
            return await asyncio.gather(*calls, return_exceptions=True)

        results = asyncio.run(burst())
        shared_results = [r for r in results[:8] if isinstance(r, Result)]
        assert len(shared_results) == 8
        assert len({r.entry_id for r in shared_results}) == 1
        assert sum(not r.duplicate for r in shared_results) == 1
        redeemed = results[16:]
        assert sum(isinstance(r, Refused) for r in redeemed) == 4
        assert not [r for r in results if isinstance(r, BaseException) and not isinstance(r, Refused)]
        with store.read() as conn:
            earns = conn.execute(
                select(func.count()).select_from(loyalty_entries).where(loyalty_entries.c.kind == "earn")
            ).scalar_one()
            assert earns == 9
            audit(conn, PROGRAM, ZONE)
    finally:
        store.close()
