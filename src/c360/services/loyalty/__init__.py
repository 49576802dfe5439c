"""The loyalty service: every operation in its own savepoint of a transaction shared with the operations other
threads are waiting to run (c360.store.group_commit: one durable commit per batch), retried when PostgreSQL
reports a deadlock or a serialization failure (another transaction got there first; running again is safe because
each operation is idempotent on its key and locks its members before reading them)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, bindparam, func, or_, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from c360.errors import NotFound
from c360.loyalty.ledger import MEMBER_ACCOUNTS, LotOrder
from c360.loyalty.program import PROGRAM_FILE, Program, load_program
from c360.loyalty.rules import Order
from c360.loyalty.tiers import tier_state
from c360.services.loyalty import operations as ops
from c360.services.loyalty.books import Books
from c360.services.loyalty.operations import Context, RefundLine, Refused, Result
from c360.store import Database
from c360.store.group_commit import committer_for
from c360.store.prepared import Prepared
from c360.store.schema import (
    loyalty_entries,
    loyalty_members,
    loyalty_postings,
    loyalty_redemptions,
    loyalty_tier_history,
)
from c360.store.types import utcnow

if TYPE_CHECKING:
    from c360.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")

# Built once: every order and redemption from a till names its member with it. The member's own row first (a
# merged-away account answers as its survivor, through ``Books.member``), then the oldest enrolment.
_MEMBER_NAMED: Final = Prepared(
    select(loyalty_members.c.member_id, loyalty_members.c.profile_id)
    .where(or_(loyalty_members.c.member_id == bindparam("b_name"), loyalty_members.c.profile_id == bindparam("b_name")))
    .order_by((loyalty_members.c.status != "active"), loyalty_members.c.enrolled_at)
    .limit(1)
)

__all__ = ["EXAMPLE_PROGRAM", "Loyalty", "RefundLine", "Refused", "Result", "program_path", "write_example_program"]


def program_path(ws: Workspace) -> Path:
    return ws.path / PROGRAM_FILE


EXAMPLE_PROGRAM = Path(__file__).resolve().parents[2] / "loyalty" / "example.yaml"


def write_example_program(ws: Workspace, *, force: bool = False) -> Path:
    """Write the documented example program (a Vietnamese retailer's) as the workspace's loyalty.yaml."""
    path = program_path(ws)
    if path.exists() and not force:
        return path
    path.write_text(EXAMPLE_PROGRAM.read_text(encoding="utf-8"), encoding="utf-8")
    return path


class Loyalty:
    def __init__(
        self,
        store: Database,
        program: Program,
        zone: ZoneInfo,
        *,
        lot_order: LotOrder = "soonest_expiring",
        clock: Callable[[], dt.datetime] = utcnow,
        retries: int = 20,
    ) -> None:
        self.store = store
        self.ctx = Context(program, zone, lot_order)
        self.clock = clock
        self.retries = retries

    @classmethod
    def for_workspace(cls, ws: Workspace, *, clock: Callable[[], dt.datetime] = utcnow) -> Loyalty:
        program = load_program(program_path(ws))
        return cls(ws.store, program, ws.settings.zone, lot_order=ws.settings.loyalty_lot_order, clock=clock)

    @property
    def program(self) -> Program:
        return self.ctx.program

    def _run(self, work: Callable[[Books], T], now: dt.datetime | None = None) -> T:
        attempt = 0
        committer = committer_for(self.store)
        while True:
            try:
                # Shared with every other operation of the process that is waiting: one commit for them all.
                return committer.run(lambda conn: work(Books(conn, now or self.clock())))
            except DBAPIError as exc:
                attempt += 1
                if not self._again(exc, attempt):
                    raise

    async def _run_async(self, work: Callable[[Books], T], now: dt.datetime | None = None) -> T:
        """``_run`` for an event loop: it waits for the commit without holding a thread."""
        attempt = 0
        committer = committer_for(self.store)
        while True:
            try:
                return await asyncio.wrap_future(committer.submit(lambda conn: work(Books(conn, now or self.clock()))))
            except DBAPIError as exc:
                attempt += 1
                if not self._again(exc, attempt):
                    raise

    def _again(self, exc: DBAPIError, attempt: int) -> bool:
        """Whether an operation that failed with ``exc`` on its ``attempt``-th try runs again."""
        if attempt > self.retries:
            return False
        # Two transactions created the same member or entry at once: the next attempt sees the winner's.
        if isinstance(exc, IntegrityError):
            return True
        # PostgreSQL's serialization failure or deadlock: another transaction got there first.
        return (getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)) in ("40001", "40P01")

    # --- members ------------------------------------------------------------------------------------------------
    def enrol(self, profile_id: str, *, birth_month: int | None = None, referral_code: str | None = None) -> str:
        def work(books: Books) -> str:
            row = ops.enrol(books, self.ctx, profile_id, birth_month=birth_month, referral_code=referral_code)
            return str(row.member_id)

        return self._run(work)

    def member_named(self, name: str) -> Any | None:
        """The member row (``member_id``, ``profile_id``) whose member id or profile id is ``name``; an active
        member before a merged one. None when there is none."""
        with self.store.read() as conn:
            return _MEMBER_NAMED.first(conn, {"b_name": name})

    def member_id_for(self, profile_id: str) -> str:
        """The member that ``profile_id`` (or a member id) is now, following merges to the survivor."""
        with self.store.read() as conn:
            row = _MEMBER_NAMED.first(conn, {"b_name": profile_id})
            if row is None:
                raise NotFound(f"profile {profile_id} is not a loyalty member")
            return str(Books(conn).member(row.member_id, lock=False).member_id)

    # --- earning ------------------------------------------------------------------------------------------------
    def order(self, source: str, order: Order, profile_id: str, *, voucher_code: str | None = None) -> Result:
        return self._run(self._order(source, order, profile_id, voucher_code))

    async def order_async(
        self, source: str, order: Order, profile_id: str, *, voucher_code: str | None = None
    ) -> Result:
        return await self._run_async(self._order(source, order, profile_id, voucher_code))

    def _order(self, source: str, order: Order, profile_id: str, voucher_code: str | None) -> Callable[[Books], Result]:
        return lambda b: ops.record_order(b, self.ctx, source, order, profile_id, voucher_code=voucher_code, now=b.now)

    def refund(
        self,
        source: str,
        order_id: str,
        refund_id: str,
        *,
        amount: int | None = None,
        lines: Sequence[RefundLine] = (),
        at: dt.datetime | None = None,
    ) -> Result:
        return self._run(
            lambda b: ops.record_refund(
                b, self.ctx, source, order_id, refund_id, amount=amount, lines=lines, at=at or b.now, now=b.now
            )
        )

    def event(self, source: str, message_id: str, event: str, profile_id: str, at: dt.datetime) -> Result | None:
        return self._run(lambda b: ops.record_event(b, self.ctx, source, message_id, event, profile_id, at, b.now))

    # --- spending -----------------------------------------------------------------------------------------------
    def redeem(self, member_id: str, reward_id: str, *, quantity: int = 1, key: str | None = None) -> Result:
        return self._run(self._redeem(member_id, reward_id, quantity, key))

    async def redeem_async(
        self, member_id: str, reward_id: str, *, quantity: int = 1, key: str | None = None
    ) -> Result:
        return await self._run_async(self._redeem(member_id, reward_id, quantity, key))

    def _redeem(self, member_id: str, reward_id: str, quantity: int, key: str | None) -> Callable[[Books], Result]:
        return lambda b: ops.redeem(b, self.ctx, member_id, reward_id, quantity=quantity, key=key, now=b.now)

    def cancel_redemption(self, redemption_id: int) -> Result:
        return self._run(lambda b: ops.cancel_redemption(b, self.ctx, redemption_id, now=b.now))

    def voucher(self, code: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return _voucher_dict(ops.voucher(Books(conn), code), self.clock())

    def spend_voucher(self, code: str, order_ref: str) -> dict[str, Any]:
        def work(books: Books) -> dict[str, Any]:
            return _voucher_dict(ops.spend_voucher(books, self.ctx, code, order_ref, now=books.now), books.now)

        return self._run(work)

    def adjust(self, member_id: str, points: int, reason: str, *, key: str | None = None) -> Result:
        return self._run(lambda b: ops.adjust(b, self.ctx, member_id, points, reason, key=key, now=b.now))

    def transfer(self, sender: str, receiver: str, points: int, *, key: str | None = None) -> Result:
        return self._run(lambda b: ops.transfer(b, self.ctx, sender, receiver, points, key=key, now=b.now))

    def merge(self, survivor: str, merged: str, why: str = "identity merge") -> Result | None:
        return self._run(lambda b: ops.merge_members(b, self.ctx, survivor, merged, now=b.now, why=why))

    def unmerge(self, survivor: str, split: str) -> Result | None:
        return self._run(lambda b: ops.unmerge_members(b, self.ctx, survivor, split, now=b.now))

    def follow_identity(self) -> None:
        """Fold the accounts of profiles that identity resolution merged (or split) since the last look."""
        from c360.services.loyalty.handler import follow_identity

        self._run(lambda b: follow_identity(b, self.ctx))

    # --- schedule -----------------------------------------------------------------------------------------------
    def run_schedule(
        self, *, now: dt.datetime | None = None, progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Activate due points, expire due points and review tiers, for every member. Idempotent."""
        with self.store.read() as conn:
            members = list(
                conn.execute(select(loyalty_members.c.member_id).where(loyalty_members.c.status == "active")).scalars()
            )
        totals = {"members": len(members), "activated": 0, "expired": 0, "tier_changes": 0}
        for member_id in members:

            def work(books: Books, member_id: str = member_id) -> tuple[list[Result], bool]:
                before = books.member(member_id).tier
                results = ops.settle(books, self.ctx, member_id, books.now)
                return results, ops.review_tier(books, self.ctx, member_id, books.now) != before

            results, changed = self._run(work, now)
            for result in results:
                totals[result.detail["kind"]] += result.points
            totals["tier_changes"] += int(changed)
            if progress:
                progress(1)
        return totals

    # --- reading ------------------------------------------------------------------------------------------------
    def state(self, member_id: str, *, history: int = 20, offset: int = 0) -> dict[str, Any]:
        """Points by state, tier and progress, points expiring soon, and the latest history with reasons."""
        now = self.clock()
        with self.store.read() as conn:
            books = Books(conn, now)
            row = books.member(member_id, lock=False)
            member_id = row.member_id
            changes = ops.spend_changes(books, member_id)
            tiers = tier_state(self.program, changes, now, self.ctx.zone)
            members = _family(conn, member_id)
            entries = conn.execute(
                select(loyalty_entries)
                .where(
                    or_(
                        loyalty_entries.c.member_id.in_(members),
                        loyalty_entries.c.id.in_(
                            select(loyalty_postings.c.entry_id).where(loyalty_postings.c.member_id == member_id)
                        ),
                    )
                )
                .order_by(loyalty_entries.c.at.desc(), loyalty_entries.c.id.desc())
                .limit(history)
                .offset(offset)
            )
            tier_rows = conn.execute(
                select(loyalty_tier_history)
                .where(loyalty_tier_history.c.member_id == member_id)
                .order_by(loyalty_tier_history.c.at.desc())
                .limit(20)
            )
            redemptions = conn.execute(
                select(loyalty_redemptions)
                .where(loyalty_redemptions.c.member_id == member_id)
                .order_by(loyalty_redemptions.c.id.desc())
                .limit(50)
            )
            return {
                "member_id": member_id,
                "profile_id": row.profile_id,
                "enrolled_at": row.enrolled_at.isoformat(),
                "referral_code": row.referral_code,
                "points": {account: int(row._mapping[account]) for account in MEMBER_ACCOUNTS},
                "available": int(row.active),
                "tier": {
                    "name": row.tier,
                    "since": row.tier_since.isoformat() if row.tier_since else None,
                    "qualifying_spend": tiers.spend,
                    "next": tiers.next_tier,
                    "spend_to_next": tiers.to_next,
                    "downgrade_at": tiers.grace_ends.isoformat() if tiers.grace_ends else None,
                    "currency": self.program.currency,
                },
                "expiring": {f"{d}d": ops.expiring(books, member_id, now, d) for d in (30, 60, 90)},
                "history": [_entry_dict(e) for e in entries],
                "tier_history": [
                    {"at": t.at.isoformat(), "tier": t.tier, "previous": t.previous, "reason": t.reason}
                    for t in tier_rows
                ],
                "redemptions": [_redemption_dict(r, now) for r in redemptions],
            }


def _family(conn: Connection, member_id: str) -> list[str]:
    merged = conn.execute(
        select(loyalty_members.c.member_id).where(loyalty_members.c.merged_into == member_id)
    ).scalars()
    return [member_id, *merged]


def _entry_dict(row: Any) -> dict[str, Any]:
    return {
        "entry_id": row.id,
        "kind": row.kind,
        "at": row.at.isoformat(),
        "points": int(row.points),
        "reason": row.reason,
        "detail": orjson.loads(row.detail) if row.detail else None,
    }


def _redemption_dict(row: Any, now: dt.datetime) -> dict[str, Any]:
    return {
        "redemption_id": row.id,
        "member_id": row.member_id,
        "reward_id": row.reward_id,
        "points": int(row.points),
        "status": row.status,
        "voucher_code": row.voucher_code,
        "value": row.value,
        "currency": row.currency,
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "usable": row.status == "issued" and (row.valid_until is None or row.valid_until >= now),
        "spent_order": row.spent_order,
    }


def _voucher_dict(row: Any, now: dt.datetime) -> dict[str, Any]:
    return _redemption_dict(row, now)


def balances_replayed(conn: Connection) -> dict[tuple[str, str], int]:
    """Every member account's balance rebuilt from the postings alone (the ledger's audit)."""
    rows = conn.execute(
        select(loyalty_postings.c.member_id, loyalty_postings.c.account, func.sum(loyalty_postings.c.amount)).group_by(
            loyalty_postings.c.member_id, loyalty_postings.c.account
        )
    )
    return {(m, a): int(total) for m, a, total in rows}
