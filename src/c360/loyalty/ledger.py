"""Ledger arithmetic: which lots a spend, a reversal or an expiry takes points from. Pure.

Accounts. Each member has six: ``pending`` (earned, not yet spendable), ``active`` (spendable), ``redeemed``,
``expired``, ``reversed`` (taken back by refunds and negative adjustments) and ``debt`` (zero or negative: points a
refund could not take back, repaid first by later earns). The program's side has ``issued`` (every point ever
given, negative) and ``adjustments``. Every entry's postings add up to zero, so for each member

    issued to the member = pending + active + redeemed + expired + reversed + debt

and the *available* balance is ``active`` (never negative: spends and reversals draw lots, and a reversal that
finds no points left records a debt instead).

Lots. Every earn creates a lot with its dates; ``remaining`` is what is still unspent. Spends draw lots in the
configured order (soonest expiring first by default); a cancelled spend puts the points back into the lots it
drew.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

MemberAccount = Literal["pending", "active", "redeemed", "expired", "reversed", "debt"]
MEMBER_ACCOUNTS: tuple[MemberAccount, ...] = ("pending", "active", "redeemed", "expired", "reversed", "debt")
PROGRAM_ACCOUNTS = ("issued", "adjustments")
LotOrder = Literal["soonest_expiring", "oldest_first"]

FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


class LotView(NamedTuple):  # a named tuple: built for every lot a spend reads
    id: int
    state: Literal["pending", "active"]
    remaining: int
    earned_at: dt.datetime
    expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Draw:
    lot_id: int
    account: MemberAccount  # the account the points leave: pending or active
    amount: int


class NotEnoughPoints(Exception):
    def __init__(self, wanted: int, available: int) -> None:
        super().__init__(f"{wanted:,} points needed, {available:,} available")
        self.wanted, self.available = wanted, available


def _key(order: LotOrder) -> Callable[[LotView], tuple[dt.datetime, dt.datetime, int]]:
    if order == "oldest_first":
        return lambda lot: (lot.earned_at, lot.earned_at, lot.id)
    return lambda lot: (lot.expires_at or FAR_FUTURE, lot.earned_at, lot.id)


def plan_spend(lots: Iterable[LotView], amount: int, order: LotOrder = "soonest_expiring") -> list[Draw]:
    """Draws of ``amount`` active points; NotEnoughPoints when the active lots hold less. Pending lots never pay."""
    if amount <= 0:
        raise ValueError("a spend takes a positive number of points")
    active = sorted((lot for lot in lots if lot.state == "active" and lot.remaining > 0), key=_key(order))
    available = sum(lot.remaining for lot in active)
    if available < amount:
        raise NotEnoughPoints(amount, available)
    return _take(active, amount, "active")


def plan_reversal(
    lots: Iterable[LotView], amount: int, *, own_lot: int | None = None, order: LotOrder = "soonest_expiring"
) -> tuple[list[Draw], int]:
    """Take back ``amount`` points: the order's own lot first, then pending lots, then active ones.

    Returns the draws and the debt: what no lot holds any more (it was spent or has expired).
    """
    if amount <= 0:
        return [], 0
    key = _key(order)
    live = [lot for lot in lots if lot.remaining > 0]
    own = [lot for lot in live if lot.id == own_lot]
    pending = sorted((lot for lot in live if lot.state == "pending" and lot.id != own_lot), key=key)
    active = sorted((lot for lot in live if lot.state == "active" and lot.id != own_lot), key=key)
    draws: list[Draw] = []
    left = amount
    for group in (own, pending, active):
        for lot in group:
            if left == 0:
                break
            take = min(lot.remaining, left)
            draws.append(Draw(lot.id, lot.state, take))
            left -= take
    return draws, left


def plan_expiry(lots: Iterable[LotView], now: dt.datetime) -> list[Draw]:
    """The unspent part of every active lot whose expiry has come."""
    return [
        Draw(lot.id, "active", lot.remaining)
        for lot in lots
        if lot.state == "active" and lot.remaining > 0 and lot.expires_at is not None and lot.expires_at <= now
    ]


def _take(lots: Sequence[LotView], amount: int, account: MemberAccount) -> list[Draw]:
    draws: list[Draw] = []
    left = amount
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        draws.append(Draw(lot.id, account, take))
        left -= take
    return draws


def proportional(points: int, part: int, whole: int) -> int:
    """Points that ``part`` of ``whole`` carries, floored; ``whole`` of ``whole`` carries all of them."""
    if whole <= 0:
        return points if part > 0 else 0
    return points * min(max(part, 0), whole) // whole
