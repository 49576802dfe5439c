"""Property tests of the loyalty ledger: random sequences of operations over the real service and store.

``LedgerMachine`` drives ``c360.services.loyalty.Loyalty`` on a fresh SQLite store with a clock it controls:
orders (earns), partial and whole refunds, redemptions with stock and per-member limits, cancellations, spent
vouchers, manual adjustments, events with caps, transfers, merges, replays of the same keys, and time passing
with ``run_schedule``. After every step it audits the books (``audit``):

* every entry's postings, and so all postings, add up to zero;
* each member's stored balances equal the balances replayed from the postings;
* every lot has 0 <= remaining <= original; a lot marked expired holds nothing; the remaining points of a
  member's pending and active lots are its pending and active balances;
* what was issued to each member (program.issued + program.adjustments, plus what merges and transfers moved
  in or out) equals pending + active + redeemed + expired + reversed + debt, for each member and overall;
* no balance is negative except debt, which is never positive;
* a refund never takes back more than its order earned;
* caps and the campaign budget are never exceeded, and the budget counter matches the shares;
* stock counters equal the redemptions that hold stock, which never exceed the stock;
* a member's redeemed balance equals its redemptions not cancelled.

The rules check what each operation must do: a replayed key returns ``duplicate`` and changes nothing; a refused
operation changes nothing; a spend succeeds exactly when the spendable (active, not expired) points cover it,
so pending points never pay; ``run_schedule`` activates due points, expires exactly the unspent active points
whose date has come, and a second run at the same time changes nothing; after it, every member's tier is
``tiers.tier_state`` of its spend rows at that time.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import Connection, Table, event, select

from c360.errors import InvalidInput, NotFound
from c360.loyalty.calendar import Period, period_start
from c360.loyalty.ledger import MEMBER_ACCOUNTS
from c360.loyalty.program import Caps, Program, parse_program
from c360.loyalty.rules import Order, OrderLine
from c360.loyalty.tiers import SpendChange, tier_history, tier_state
from c360.services.loyalty import Loyalty, RefundLine, Refused, Result, balances_replayed
from c360.store import Store
from c360.store.schema import (
    loyalty_counters,
    loyalty_draws,
    loyalty_entries,
    loyalty_lots,
    loyalty_members,
    loyalty_orders,
    loyalty_postings,
    loyalty_redemptions,
    loyalty_shares,
    loyalty_spend,
    loyalty_tier_history,
)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC)
PROFILES = ("prof_a", "prof_b", "prof_c")
CATEGORIES = ("skin", "shoes", "misc", "gift")
EXPECTED = (Refused, NotFound, InvalidInput)
T = TypeVar("T")

TABLES: tuple[Table, ...] = (
    loyalty_members,
    loyalty_entries,
    loyalty_postings,
    loyalty_lots,
    loyalty_draws,
    loyalty_shares,
    loyalty_orders,
    loyalty_spend,
    loyalty_tier_history,
    loyalty_counters,
    loyalty_redemptions,
)

#: A small program that exercises everything: a line multiplier, a budgeted and capped campaign, capped events,
#: a short return window and expiry, three tiers over a short window, and rewards with stock and per-member limits.
PROGRAM_DATA: dict[str, Any] = {
    "name": "Test rewards",
    "currency": "VND",
    "transfers": True,
    "versions": [
        {
            "effective_from": "2024-01-01",
            "spend": {"per": 10_000, "points": 1, "exclude": ["shipping", "tax"], "exclude_categories": ["gift"]},
            "multipliers": [{"name": "Skin double", "factor": 2, "categories": ["skin"]}],
            "campaigns": [
                {
                    "name": "Shoe launch",
                    "factor": 3,
                    "starts": "2026-01-01",
                    "ends": "2026-06-30",
                    "categories": ["shoes"],
                    "budget": 400,
                    "caps": {"day": 150},
                }
            ],
            "events": [
                {"name": "Review", "event": "Product Reviewed", "points": 20, "caps": {"month": 50}},
                {"name": "Survey", "event": "Survey Answered", "points": 15, "caps": {"week": 30, "day": 15}},
                {"name": "App", "event": "Application Installed", "points": 100, "caps": {"lifetime": 100}},
            ],
            "pending_days": 7,
            "expiry": {"months": 1},
        }
    ],
    "tiers": {
        "window_months": 2,
        "downgrade_grace_months": 1,
        "levels": [
            {"name": "Member", "min_spend": 0},
            {"name": "Silver", "min_spend": 2_000_000, "multiplier": 1.5},
            {"name": "Gold", "min_spend": 5_000_000, "multiplier": 2},
        ],
    },
    "rewards": [
        {"id": "small", "name": "Small voucher", "points": 40, "voucher": {"value": 10_000, "valid_days": 30}},
        {"id": "limited", "name": "Limited bag", "points": 25, "stock": 3, "per_member": 1},
        {"id": "big", "name": "Big voucher", "points": 300, "per_member": 2, "voucher": {"value": 100_000}},
    ],
}


def make_program() -> Program:
    return parse_program(PROGRAM_DATA)


# --- reading the books -------------------------------------------------------------------------------------------
def snapshot(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every loyalty table, in a stable order: equal snapshots mean nothing changed."""
    # Plain SQL: this runs around every operation, and the rows only need comparing, not typing.
    return {
        table.name: sorted((tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table.name}")), key=repr)
        for table in TABLES
    }


def members(conn: Connection) -> dict[str, Any]:
    return {row.member_id: row for row in conn.execute(select(loyalty_members))}


def spendable(conn: Connection, member_id: str, now: dt.datetime) -> int:
    """Points a spend at ``now`` may take: active lots and pending ones due by now, not expired by now."""
    total = 0
    for lot in conn.execute(select(loyalty_lots).where(loyalty_lots.c.member_id == member_id)):
        due = lot.state == "active" or (lot.state == "pending" and lot.activates_at <= now)
        expired = lot.expires_at is not None and lot.expires_at <= now
        if due and not expired:
            total += int(lot.remaining)
    return total


def spend_changes(conn: Connection, member_id: str) -> list[SpendChange]:
    rows = conn.execute(select(loyalty_spend).where(loyalty_spend.c.member_id == member_id))
    return [SpendChange(r.starts, r.ends, int(r.amount)) for r in rows]


def limits(program: Program) -> tuple[dict[str, dict[Period, int]], dict[str, int]]:
    """Every capped rule's caps by period, and every campaign's budget, over all of the program's versions."""
    caps: dict[str, dict[Period, int]] = defaultdict(dict)
    budgets: dict[str, int] = {}
    for version in program.versions:
        capped: list[tuple[str, Caps | None]] = [("spend", version.spend.caps)]
        capped += [(c.name, c.caps) for c in version.campaigns] + [(e.name, e.caps) for e in version.events]
        for name, rule_caps in capped:
            for period, limit in rule_caps.items() if rule_caps is not None else []:
                caps[name][period] = min(limit, caps[name].get(period, limit))
        budgets.update({c.name: c.budget for c in version.campaigns if c.budget is not None})
    return caps, budgets


def audit(conn: Connection, program: Program, zone: ZoneInfo) -> None:
    """Assert every invariant of the books that holds at any moment (see the module docstring)."""
    capped, budgets = limits(program)
    postings = list(conn.execute(select(loyalty_postings)))
    by_entry: dict[int, int] = defaultdict(int)
    for p in postings:
        by_entry[p.entry_id] += int(p.amount)
    assert sum(int(p.amount) for p in postings) == 0, "postings do not add up to zero"
    assert all(total == 0 for total in by_entry.values()), f"unbalanced entries: {by_entry}"

    rows = members(conn)
    replayed = balances_replayed(conn)
    for member_id, row in rows.items():
        for account in MEMBER_ACCOUNTS:
            stored = int(row._mapping[account])
            assert stored == replayed.get((member_id, account), 0), (member_id, account, stored, replayed)
        for account in ("pending", "active", "redeemed", "expired", "reversed"):
            assert row._mapping[account] >= 0, (member_id, account, row._mapping[account])
        assert row.debt <= 0, (member_id, row.debt)
        if row.status == "merged":
            assert all(int(row._mapping[a]) == 0 for a in MEMBER_ACCOUNTS), f"merged {member_id} kept points"
    unknown = {m for m, _ in replayed} - set(rows)
    assert not unknown, f"postings for members that do not exist: {unknown}"

    # Issued = the six accounts, per member (counting what merges and transfers moved) and overall.
    cross_kinds = ("merge", "transfer", "unmerge")
    cross = {e.id for e in conn.execute(select(loyalty_entries.c.id).where(loyalty_entries.c.kind.in_(cross_kinds)))}
    issued: dict[str, int] = defaultdict(int)
    moved_in: dict[str, int] = defaultdict(int)
    for p in postings:
        if p.account.startswith("program."):
            issued[p.member_id] -= int(p.amount)
        elif p.entry_id in cross:
            moved_in[p.member_id] += int(p.amount)
    for member_id, row in rows.items():
        held = sum(int(row._mapping[a]) for a in MEMBER_ACCOUNTS)
        assert issued[member_id] + moved_in[member_id] == held, (member_id, issued[member_id], moved_in, held)
    assert sum(issued.values()) == sum(sum(int(r._mapping[a]) for a in MEMBER_ACCOUNTS) for r in rows.values())
    assert sum(moved_in.values()) == 0

    # Lots.
    lot_sums: dict[tuple[str, str], int] = defaultdict(int)
    for lot in conn.execute(select(loyalty_lots)):
        assert 0 <= lot.remaining <= lot.original, (lot.id, lot.remaining, lot.original)
        assert lot.state in ("pending", "active", "expired"), lot.state
        if lot.state == "expired":
            assert lot.remaining == 0, f"lot {lot.id} is expired with {lot.remaining} points left"
        else:
            lot_sums[(lot.member_id, lot.state)] += int(lot.remaining)
    for member_id, row in rows.items():
        assert lot_sums[(member_id, "pending")] == row.pending, (member_id, "pending", lot_sums, row.pending)
        assert lot_sums[(member_id, "active")] == row.active, (member_id, "active", lot_sums, row.active)
    # The settling hint never lets a due lot wait: no lot activates or expires before a member's settle_due.
    for lot in conn.execute(select(loyalty_lots).where(loyalty_lots.c.state.in_(("pending", "active")))):
        hint = rows[lot.member_id].settle_due
        when = lot.activates_at if lot.state == "pending" else lot.expires_at
        assert hint is None or when is None or hint <= when, (lot.member_id, lot.id, lot.state, when, hint)

    # Refunds never take back more than the order earned, nor refund more than was eligible.
    for order in conn.execute(select(loyalty_orders)):
        assert 0 <= order.reversed_points <= order.points, (order.order_id, order.reversed_points, order.points)
        assert 0 <= order.refunded <= order.eligible, (order.order_id, order.refunded, order.eligible)

    # Caps per member and period; campaign budgets overall.
    used: dict[tuple[str, str, Period, Any], int] = defaultdict(int)
    by_rule: dict[str, int] = defaultdict(int)
    for share in conn.execute(select(loyalty_shares)):
        by_rule[share.rule] += int(share.points)
        for period in capped.get(share.rule, {}):
            start = period_start(share.at, period, zone)
            used[(share.member_id, share.rule, period, start)] += int(share.points)
    for (member_id, rule_name, period, start), points in used.items():
        limit = capped[rule_name][period]
        assert points <= limit, f"{member_id} got {points} from {rule_name} in the {period} from {start} (cap {limit})"
    counters = {row.name: int(row.used) for row in conn.execute(select(loyalty_counters))}
    for campaign, budget in budgets.items():
        assert by_rule[campaign] <= budget, (campaign, by_rule[campaign], budget)
        assert counters.get(f"campaign:{campaign}", 0) == by_rule[campaign], (campaign, counters, by_rule)

    # Stock and redeemed balances.
    redemptions = list(conn.execute(select(loyalty_redemptions)))
    for reward in program.rewards:
        holding = [r for r in redemptions if r.reward_id == reward.id and r.status != "cancelled"]
        if reward.stock is not None:
            assert len(holding) <= reward.stock, (reward.id, len(holding))
            assert counters.get(f"reward:{reward.id}", 0) == len(holding), (reward.id, counters, len(holding))
    redeemed: dict[str, int] = defaultdict(int)
    for r in redemptions:
        if r.status != "cancelled":
            redeemed[r.member_id] += int(r.points)
    for member_id, row in rows.items():
        assert row.redeemed == redeemed[member_id], (member_id, row.redeemed, redeemed[member_id])


_TEMPLATE: list[Path] = []


def no_fsync(store: Store) -> None:
    """Skip fsync on this throwaway store's commits (its durability is not under test; its transactions are)."""
    store.engine.dispose()

    @event.listens_for(store.engine, "connect")
    def _fast(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA synchronous=OFF")


def migrated_template() -> Path:
    """An empty, migrated SQLite store file, made once per process: copying it is much faster than migrating."""
    if not _TEMPLATE:
        path = Path(tempfile.mkdtemp(prefix="c360-ledger-template-")) / "store.db"
        store = Store.open(f"sqlite:///{path}")
        store.close()  # the last connection closing checkpoints the WAL into the file
        assert not path.with_name("store.db-wal").exists()
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


# --- the machine -------------------------------------------------------------------------------------------------
class LedgerMachine(RuleBasedStateMachine):
    """Random sequences of loyalty operations against the real service; invariants audited after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="c360-ledger-"))
        shutil.copyfile(migrated_template(), self.folder / "store.db")
        self.store = Store.open(f"sqlite:///{self.folder / 'store.db'}", migrate=False)
        no_fsync(self.store)
        self.program = make_program()
        self.now = START
        self.loyalty = Loyalty(self.store, self.program, ZONE, clock=lambda: self.now)
        self.counter = 0
        self.orders: list[tuple[Order, str]] = []  # (order, profile it was sent for)
        self.refunds: list[tuple[str, str, int | None]] = []  # (order id, refund id, amount)
        self.redemptions: list[int] = []
        self.vouchers: list[str] = []
        self.adjust_keys: list[tuple[str, str, int]] = []  # (key, member, points)
        self.redeem_keys: list[tuple[str, str, str]] = []  # (key, member, reward)
        self.events: list[tuple[str, str, str, dt.datetime]] = []  # (message id, event, profile, at)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- helpers -------------------------------------------------------------------------------------------------
    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def snap(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.store.read() as conn:
            return snapshot(conn)

    def attempt(self, action: Callable[[], T]) -> T | None:
        """Run ``action``; an expected refusal must leave every table exactly as it was."""
        before = self.snap()
        try:
            return action()
        except EXPECTED:
            assert self.snap() == before, "a refused operation changed the books"
            return None

    def replay(self, action: Callable[[], Result | None]) -> None:
        """Sending a key already seen answers ``duplicate`` and changes nothing."""
        before = self.snap()
        result = action()
        assert result is not None
        assert result.duplicate, result
        assert self.snap() == before, "a replayed key changed the books"

    def member_of(self, profile: str) -> str | None:
        """The member that holds ``profile``'s points now: its own, or the end of its chain of merges."""
        with self.store.read() as conn:
            rows = members(conn)
        member_id = profile if profile in rows else None
        while member_id is not None and rows[member_id].status == "merged":
            member_id = rows[member_id].merged_into
        return member_id

    # --- time ----------------------------------------------------------------------------------------------------
    @initialize()
    def start(self) -> None:
        with self.store.read() as conn:
            audit(conn, self.program, ZONE)

    @rule(hours=st.integers(1, 24 * 25))
    def advance(self, hours: int) -> None:
        self.now += dt.timedelta(hours=hours)

    @rule()
    def run_schedule(self) -> None:
        now = self.now
        with self.store.read() as conn:
            before = members(conn)
            due: dict[str, int] = defaultdict(int)
            expiring: dict[str, int] = defaultdict(int)
            for lot in conn.execute(select(loyalty_lots)):
                is_due = lot.state == "pending" and lot.activates_at <= now
                if is_due:
                    due[lot.member_id] += int(lot.remaining)
                if (lot.state == "active" or is_due) and lot.expires_at is not None and lot.expires_at <= now:
                    expiring[lot.member_id] += int(lot.remaining)
        totals = self.loyalty.run_schedule()
        assert totals["activated"] == sum(due.values()), (totals, due)
        assert totals["expired"] == sum(expiring.values()), (totals, expiring)
        with self.store.read() as conn:
            after = members(conn)
            for member_id, row in after.items():
                old = before[member_id]
                assert row.pending == old.pending - due[member_id], member_id
                assert row.expired == old.expired + expiring[member_id], member_id
                assert row.active == old.active + due[member_id] - expiring[member_id], member_id
                for account in ("redeemed", "reversed", "debt"):
                    assert row._mapping[account] == old._mapping[account], (member_id, account)
                if row.status != "active":
                    continue
                # The stored tier is a pure function of the spend history and the time.
                changes = spend_changes(conn, member_id)
                expected = tier_state(self.program, changes, now, ZONE)
                assert row.tier == expected.tier, (member_id, row.tier, expected)
                # ... and every change of its history until now is recorded (the review skips nothing it must add).
                recorded = {
                    (r.at, r.tier)
                    for r in conn.execute(
                        select(loyalty_tier_history.c.at, loyalty_tier_history.c.tier).where(
                            loyalty_tier_history.c.member_id == member_id
                        )
                    )
                }
                history = tier_history(self.program, changes, now, ZONE)
                missing = [c for c in history if (c.at, c.tier) not in recorded]
                assert not missing, (member_id, missing)
            # Nothing is pending that is due, nothing active whose expiry has come.
            for lot in conn.execute(select(loyalty_lots)):
                assert not (lot.state == "pending" and lot.activates_at <= now), lot
                assert not (lot.state == "active" and lot.expires_at is not None and lot.expires_at <= now), lot
            first = snapshot(conn)
        again = self.loyalty.run_schedule()
        assert (again["activated"], again["expired"], again["tier_changes"]) == (0, 0, 0), again
        assert self.snap() == first, "a second run_schedule at the same time changed the books"

    # --- earning -------------------------------------------------------------------------------------------------
    @rule(
        profile=st.sampled_from(PROFILES),
        lines=st.lists(
            st.tuples(st.sampled_from(CATEGORIES), st.integers(1, 3), st.integers(1, 150).map(lambda n: n * 10_000)),
            min_size=0,
            max_size=3,
        ),
        shipping=st.sampled_from([0, 15_000, 30_000]),
        hours_ago=st.integers(0, 72),
    )
    def order(self, profile: str, lines: list[tuple[str, int, int]], shipping: int, hours_ago: int) -> None:
        order_id = self.fresh("O")
        order_lines = tuple(OrderLine(f"{cat}-{i}", cat, qty, amount) for i, (cat, qty, amount) in enumerate(lines))
        total = sum(line.amount for line in order_lines) + shipping
        if not order_lines:
            total += 250_000
        order = Order(order_id, self.now - dt.timedelta(hours=hours_ago), "VND", total, shipping, 0, order_lines)
        result = self.loyalty.order("pos", order, profile)
        assert not result.duplicate
        assert result.points >= 0
        self.orders.append((order, profile))
        with self.store.read() as conn:
            row = conn.execute(select(loyalty_orders).where(loyalty_orders.c.order_id == order_id)).one()
            assert row.points == result.points
            assert row.member_id == result.member_id

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 10**6), other_profile=st.booleans())
    def replay_order(self, index: int, other_profile: bool) -> None:
        order, profile = self.orders[index % len(self.orders)]
        # The key is the source and order id: even sent for another profile, the order earns once.
        if other_profile:
            profile = PROFILES[(PROFILES.index(profile) + 1) % len(PROFILES)]
        self.replay(lambda: self.loyalty.order("pos", order, profile))

    @precondition(lambda self: self.orders)
    @rule(index=st.integers(0, 10**6), how=st.sampled_from(["amount", "lines", "whole"]), part=st.integers(1, 100))
    def refund(self, index: int, how: str, part: int) -> None:
        order, _ = self.orders[index % len(self.orders)]
        refund_id = self.fresh("R")
        amount = order.total * part // 100 if how == "amount" else None
        lines = (
            [RefundLine(line.sku or "", max(line.quantity * part // 100, 1)) for line in order.lines[:1]]
            if how == "lines"
            else []
        )
        with self.store.read() as conn:
            before = conn.execute(select(loyalty_orders).where(loyalty_orders.c.order_id == order.order_id)).one()
        result = self.loyalty.refund("pos", order.order_id, refund_id, amount=amount, lines=lines)
        assert not result.duplicate
        with self.store.read() as conn:
            after = conn.execute(select(loyalty_orders).where(loyalty_orders.c.order_id == order.order_id)).one()
        assert after.reversed_points == before.reversed_points + result.points
        if how == "whole":
            assert after.refunded == after.eligible
            assert after.reversed_points == after.points
        self.refunds.append((order.order_id, refund_id, amount))

    @precondition(lambda self: self.refunds)
    @rule(index=st.integers(0, 10**6))
    def replay_refund(self, index: int) -> None:
        order_id, refund_id, amount = self.refunds[index % len(self.refunds)]
        self.replay(lambda: self.loyalty.refund("pos", order_id, refund_id, amount=amount))

    @rule(
        profile=st.sampled_from(PROFILES),
        event=st.sampled_from(["Product Reviewed", "Survey Answered", "Application Installed", "Page Viewed"]),
        hours_ago=st.integers(0, 24 * 10),
    )
    def event(self, profile: str, event: str, hours_ago: int) -> None:
        message_id = self.fresh("M")
        at = self.now - dt.timedelta(hours=hours_ago)
        result = self.loyalty.event("app", message_id, event, profile, at)
        if event == "Page Viewed":
            assert result is None
            return
        assert result is not None
        assert not result.duplicate
        self.events.append((message_id, event, profile, at))

    @precondition(lambda self: self.events)
    @rule(index=st.integers(0, 10**6))
    def replay_event(self, index: int) -> None:
        message_id, event, profile, at = self.events[index % len(self.events)]
        self.replay(lambda: self.loyalty.event("app", message_id, event, profile, at))

    # --- spending ------------------------------------------------------------------------------------------------
    @rule(profile=st.sampled_from(PROFILES), reward_id=st.sampled_from(["small", "limited", "big"]), two=st.booleans())
    def redeem(self, profile: str, reward_id: str, two: bool) -> None:
        member_id = self.member_of(profile)
        quantity = 2 if two else 1
        reward = self.program.reward(reward_id)
        assert reward is not None
        if member_id is None:
            self.attempt(lambda: self.loyalty.redeem(profile, reward_id, quantity=quantity))
            return
        need = reward.points * quantity
        with self.store.read() as conn:
            can_spend = spendable(conn, member_id, self.now)
            pending = int(members(conn)[member_id].pending)
            holding = list(
                conn.execute(
                    select(loyalty_redemptions).where(
                        loyalty_redemptions.c.reward_id == reward_id, loyalty_redemptions.c.status != "cancelled"
                    )
                )
            )
        mine = sum(1 for r in holding if r.member_id == member_id)
        in_stock = reward.stock is None or len(holding) + quantity <= reward.stock
        allowed = reward.per_member is None or mine + quantity <= reward.per_member
        key = self.fresh("K")
        result = self.attempt(lambda: self.loyalty.redeem(member_id, reward_id, quantity=quantity, key=key))
        if in_stock and allowed and can_spend >= need:
            assert result is not None, f"redeem of {need} refused with {can_spend} spendable"
        else:
            # Pending points never pay: a spend that only pending points could cover is refused.
            assert result is None, f"redeem of {need} accepted with {can_spend} spendable, {pending} pending"
            return
        assert result.points == need
        assert not result.duplicate
        with self.store.read() as conn:
            row = members(conn)[member_id]
            assert row.active == can_spend - need, (row.active, can_spend, need)
        self.redeem_keys.append((key, member_id, reward_id))
        for issued in result.detail["redemptions"]:
            self.redemptions.append(int(issued["redemption_id"]))
            if issued["voucher_code"]:
                self.vouchers.append(str(issued["voucher_code"]))

    @precondition(lambda self: self.redeem_keys)
    @rule(index=st.integers(0, 10**6))
    def replay_redeem(self, index: int) -> None:
        key, member_id, reward_id = self.redeem_keys[index % len(self.redeem_keys)]
        self.replay(lambda: self.loyalty.redeem(member_id, reward_id, key=key))

    @precondition(lambda self: self.redemptions)
    @rule(index=st.integers(0, 10**6))
    def cancel_redemption(self, index: int) -> None:
        redemption_id = self.redemptions[index % len(self.redemptions)]
        with self.store.read() as conn:
            row = conn.execute(select(loyalty_redemptions).where(loyalty_redemptions.c.id == redemption_id)).one()
        if row.status == "cancelled":
            # Cancelled already: cancelling again is the same request.
            self.replay(lambda: self.loyalty.cancel_redemption(redemption_id))
            return
        result = self.attempt(lambda: self.loyalty.cancel_redemption(redemption_id))
        assert (result is None) == (row.status == "spent"), (row.status, result)
        if result is not None:
            assert result.points == row.points

    @precondition(lambda self: self.vouchers)
    @rule(index=st.integers(0, 10**6))
    def spend_voucher(self, index: int) -> None:
        code = self.vouchers[index % len(self.vouchers)]
        with self.store.read() as conn:
            row = conn.execute(select(loyalty_redemptions).where(loyalty_redemptions.c.voucher_code == code)).one()
        usable = row.status == "issued" and (row.valid_until is None or row.valid_until >= self.now)
        spent = self.attempt(lambda: self.loyalty.spend_voucher(code, self.fresh("pos:S")))
        assert (spent is not None) == usable, (row.status, row.valid_until, self.now, spent)

    @rule(profile=st.sampled_from(PROFILES), points=st.integers(-400, 400).filter(bool), keyed=st.booleans())
    def adjust(self, profile: str, points: int, keyed: bool) -> None:
        member_id = self.member_of(profile)
        key = self.fresh("A") if keyed else None
        if member_id is None:
            self.attempt(lambda: self.loyalty.adjust(profile, points, "test", key=key))
            return
        with self.store.read() as conn:
            can_spend = spendable(conn, member_id, self.now)
        result = self.attempt(lambda: self.loyalty.adjust(member_id, points, "test", key=key))
        assert (result is not None) == (points > 0 or can_spend >= -points), (points, can_spend, result)
        if result is not None and key is not None:
            self.adjust_keys.append((key, member_id, points))

    @precondition(lambda self: self.adjust_keys)
    @rule(index=st.integers(0, 10**6))
    def replay_adjust(self, index: int) -> None:
        key, member_id, points = self.adjust_keys[index % len(self.adjust_keys)]
        self.replay(lambda: self.loyalty.adjust(member_id, points, "test", key=key))

    @rule(sender=st.sampled_from(PROFILES), receiver=st.sampled_from(PROFILES), points=st.integers(1, 300))
    def transfer(self, sender: str, receiver: str, points: int) -> None:
        sender_id, receiver_id = self.member_of(sender), self.member_of(receiver)
        can_spend = 0
        if sender_id is not None:
            with self.store.read() as conn:
                can_spend = spendable(conn, sender_id, self.now)
        result = self.attempt(lambda: self.loyalty.transfer(sender, receiver, points))
        possible = sender_id is not None and receiver_id is not None and sender_id != receiver_id
        assert (result is not None) == (possible and can_spend >= points), (sender_id, receiver_id, can_spend)

    @rule(survivor=st.sampled_from(PROFILES), merged=st.sampled_from(PROFILES))
    def merge(self, survivor: str, merged: str) -> None:
        survivor_id, merged_id = self.member_of(survivor), self.member_of(merged)
        with self.store.read() as conn:
            rows = members(conn)
        result = self.attempt(lambda: self.loyalty.merge(survivor, merged))
        if survivor_id is None or merged_id is None:
            return
        if survivor_id == merged_id:
            assert result is None
            return
        assert result is not None
        with self.store.read() as conn:
            after = members(conn)

        # The merged member's balances move to the survivor; the survivor is then settled, which may move points
        # from pending to active and from active to expired, but never out of those three together.
        def total(account_names: tuple[str, ...], rows: dict[str, Any]) -> int:
            return sum(int(rows[m]._mapping[a]) for m in (survivor_id, merged_id) for a in account_names)

        for accounts in (("redeemed",), ("reversed",), ("debt",), ("pending", "active", "expired")):
            assert total(accounts, after) == total(accounts, rows), accounts
        assert all(int(after[merged_id]._mapping[a]) == 0 for a in MEMBER_ACCOUNTS)
        assert after[merged_id].status == "merged"
        assert after[merged_id].merged_into == survivor_id
        assert self.member_of(merged) == survivor_id

    # --- the invariants ------------------------------------------------------------------------------------------
    @invariant()
    def books_balance(self) -> None:
        with self.store.read() as conn:
            audit(conn, self.program, ZONE)


LedgerMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedger = LedgerMachine.TestCase


# --- examples found worth keeping --------------------------------------------------------------------------------
@pytest.fixture
def loyalty(tmp_path: Path) -> Iterator[tuple[Loyalty, list[dt.datetime]]]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    clock = [START]
    try:
        yield Loyalty(store, make_program(), ZONE, clock=lambda: clock[0]), clock
    finally:
        store.close()


def test_pending_points_cannot_be_spent(loyalty: tuple[Loyalty, list[dt.datetime]]) -> None:
    """Earned points are pending for the return window: a redemption they alone could pay is refused, and
    changes nothing; after the window the same redemption goes through."""
    service, clock = loyalty
    earned = service.order("pos", Order("P1", START, "VND", 1_000_000), "prof_a")
    assert earned.points == 100
    with service.store.read() as conn:
        before = snapshot(conn)
    with pytest.raises(Refused, match="pending"):
        service.redeem("prof_a", "small")
    with service.store.read() as conn:
        assert snapshot(conn) == before
    clock[0] = START + dt.timedelta(days=7)
    assert service.redeem("prof_a", "small").points == 40


def test_order_for_a_merged_profile_earns_for_the_survivor(loyalty: tuple[Loyalty, list[dt.datetime]]) -> None:
    """After an identity merge, an order or event still sent under the merged profile's id credits the survivor
    (it used to fail: enrolling the profile again collided with the merged member's row)."""
    service, _ = loyalty
    service.order("pos", Order("A1", START, "VND", 500_000), "prof_a")
    service.order("pos", Order("B1", START, "VND", 300_000), "prof_b")
    service.merge("prof_a", "prof_b")
    result = service.order("pos", Order("B2", START, "VND", 200_000), "prof_b")
    assert result.member_id == "prof_a"
    assert result.points == 20
    event = service.event("app", "m1", "Product Reviewed", "prof_b", START)
    assert event is not None
    assert event.member_id == "prof_a"
    with service.store.read() as conn:
        audit(conn, service.program, ZONE)
        assert members(conn)["prof_a"].pending == 50 + 30 + 20 + 20


def test_member_id_for_follows_a_chain_of_merges(loyalty: tuple[Loyalty, list[dt.datetime]]) -> None:
    """b merged into a, then a into c: b's points are c's, and ``member_id_for("prof_b")`` must say so, as every
    operation does (``Books.member`` follows the whole chain)."""
    service, _ = loyalty
    for profile in ("prof_a", "prof_b", "prof_c"):
        service.enrol(profile)
    service.merge("prof_a", "prof_b")
    service.merge("prof_c", "prof_a")
    assert service.adjust("prof_b", 10, "test").member_id == "prof_c"
    assert service.member_id_for("prof_b") == "prof_c"


# --- the member's hints (settle_due, tier_digest) ----------------------------------------------------------------
def test_an_earn_settles_what_fell_due_since_the_last_one(loyalty: tuple[Loyalty, list[dt.datetime]]) -> None:
    """An earn before any lot is due leaves the lots alone and keeps the earliest due time on the member; the first
    operation at or after that time activates what is due, without the schedule."""
    service, clock = loyalty
    service.order("pos", Order("P1", START, "VND", 1_000_000), "prof_a")
    clock[0] = START + dt.timedelta(days=1)
    service.order("pos", Order("P2", clock[0], "VND", 500_000), "prof_a")
    with service.store.read() as conn:
        row = members(conn)["prof_a"]
        assert (row.pending, row.active) == (150, 0)
        assert row.settle_due == START + dt.timedelta(days=7)
    clock[0] = START + dt.timedelta(days=7)
    service.order("pos", Order("P3", clock[0], "VND", 200_000), "prof_a")
    with service.store.read() as conn:
        row = members(conn)["prof_a"]
        assert (row.pending, row.active) == (70, 100)
        assert row.settle_due == START + dt.timedelta(days=8)
        audit(conn, service.program, ZONE)


def test_cancelling_a_redemption_whose_points_expired_meanwhile_expires_them_again(
    loyalty: tuple[Loyalty, list[dt.datetime]],
) -> None:
    """The redeemed lot expired (spent to nothing) while the voucher was out; cancelling puts its points back and
    they expire at once: the member's due time must not hide the restored lot from settling."""
    service, clock = loyalty
    service.enrol("prof_a")
    service.adjust("prof_a", 40, "goodwill")
    redeemed = service.redeem("prof_a", "small")
    clock[0] = START + dt.timedelta(days=70)
    service.run_schedule()
    with service.store.read() as conn:
        assert members(conn)["prof_a"].settle_due == dt.datetime(9999, 12, 31, tzinfo=dt.UTC)  # no lot left
    cancelled = service.cancel_redemption(redeemed.detail["redemptions"][0]["redemption_id"])
    assert cancelled.points == 40
    with service.store.read() as conn:
        row = members(conn)["prof_a"]
        assert (row.active, row.redeemed, row.expired) == (0, 0, 40)
        audit(conn, service.program, ZONE)


def test_tier_changes_are_recorded_once_each(loyalty: tuple[Loyalty, list[dt.datetime]]) -> None:
    """Silver on the order that reaches it, the drop after the window and the grace, each recorded once, though
    the reviews between them (which skip reading the recorded history when it has not changed) see them again."""
    service, clock = loyalty
    service.order("pos", Order("P1", START, "VND", 2_500_000), "prof_a")
    for days in (1, 2, 3):
        clock[0] = START + dt.timedelta(days=days)
        service.order("pos", Order(f"Q{days}", clock[0], "VND", 10_000), "prof_a")
    clock[0] = START + dt.timedelta(days=120)  # 2-month window, then 1 month of grace
    service.run_schedule()
    service.run_schedule()
    with service.store.read() as conn:
        rows = list(
            conn.execute(
                select(loyalty_tier_history.c.tier, loyalty_tier_history.c.previous)
                .where(loyalty_tier_history.c.member_id == "prof_a")
                .order_by(loyalty_tier_history.c.at)
            )
        )
        assert [(r.tier, r.previous) for r in rows] == [("Silver", "Member"), ("Member", "Silver")]
        assert members(conn)["prof_a"].tier == "Member"


def test_the_tier_digest_names_instants_not_clock_readings() -> None:
    """The same history in another zone has the same digest (times computed by calendar rules come back in the
    workspace's zone, times read from the store in UTC); a change a microsecond later has another."""
    from c360.loyalty.tiers import TierChange
    from c360.services.loyalty.operations import _tier_digest

    at = dt.datetime(2026, 3, 1, 17, 0, 0, 123456, tzinfo=dt.UTC)
    history = [TierChange(at, "Silver", "Member", "reached Silver")]
    local = [TierChange(at.astimezone(ZONE), "Silver", "Member", "reached Silver")]
    later = [TierChange(at + dt.timedelta(microseconds=1), "Silver", "Member", "reached Silver")]
    assert _tier_digest(history) == _tier_digest(local)
    assert _tier_digest(history) != _tier_digest(later)
    assert _tier_digest([]) != _tier_digest(history)
