"""Loyalty reports: the program's points, its liability in money, tiers and what expires soon.

Every figure comes from set-based SQL over the loyalty tables (no loop over members):

- the six member accounts are summed from the member rows (their stored balances move only by postings, so they
  equal ``balances_replayed``); merged members hold nothing after the merge, so every row can be summed;
- ``issued`` is what the program gave: the negated sum of the program's own postings (earn awards and positive
  adjustments), which equals pending + active + redeemed + expired + reversed + debt;
- the liability values the points members still hold (pending + active) at the best voucher value per point in the
  catalogue, floored to a whole minor unit, and says so;
- tier movement counts the tier changes in ``loyalty_tier_history`` over the last 90 days, up or down by the
  order of the program's tiers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from c360.domain.money import exponent, format_money
from c360.loyalty.ledger import MEMBER_ACCOUNTS
from c360.store.schema import loyalty_counters, loyalty_lots, loyalty_members, loyalty_postings, loyalty_tier_history

if TYPE_CHECKING:
    from c360.loyalty.program import Program, Reward
    from c360.services.loyalty import Loyalty

TIER_MOVEMENT_DAYS = 90


def _pairs(rows: Iterable[Any]) -> dict[str, int]:
    return {str(key): int(value or 0) for key, value in rows}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def best_point_value(program: Program) -> tuple[Reward, Fraction] | None:
    """The voucher reward that pays the most minor units per point, and that value; None without vouchers."""
    unit = 10 ** exponent(program.currency)
    best: tuple[Reward, Fraction] | None = None
    for reward in program.rewards:
        if reward.voucher is None:
            continue
        value = Fraction(reward.voucher.value * unit, reward.points)
        if best is None or value > best[1]:
            best = (reward, value)
    return best


def _valuation(program: Program, outstanding: int) -> dict[str, Any]:
    best = best_point_value(program)
    currency = program.currency
    if best is None:
        return {
            "amount": None,
            "currency": currency,
            "method": "not valued: the catalogue has no voucher reward to value a point by",
        }
    reward, per_point = best
    amount = int(outstanding * per_point)  # floor: the points are non-negative
    assert reward.voucher is not None
    return {
        "amount": amount,
        "currency": currency,
        "points": outstanding,
        "method": (
            f"pending + active points x the best voucher value per point in the catalogue: {reward.id} gives "
            f"{format_money(reward.voucher.value * 10 ** exponent(currency), currency)} for {reward.points:,} points; "
            "floored to a whole minor unit"
        ),
        "reward_id": reward.id,
        "value_per_point": {
            "value": reward.voucher.value * 10 ** exponent(currency),
            "points": reward.points,
            "minor_units": float(round(per_point, 6)),
        },
    }


def summary(
    loyalty: Loyalty, *, now: dt.datetime | None = None, expiring_days: int = 30, limit: int = 50
) -> dict[str, Any]:
    """The program's figures as of ``now`` (the service's clock by default). Points are integers; money is in
    minor units of the program's currency; rates are fractions of the points issued (None when none were)."""
    now = now or loyalty.clock()
    program = loyalty.program
    levels = [tier.name for tier in program.tiers.levels]
    order = {name: i for i, name in enumerate(levels)}
    until = now + dt.timedelta(days=expiring_days)
    since = now - dt.timedelta(days=TIER_MOVEMENT_DAYS)
    m = loyalty_members.c
    with loyalty.store.read() as conn:
        totals = conn.execute(
            select(*(func.coalesce(func.sum(m[account]), 0).label(account) for account in MEMBER_ACCOUNTS))
        ).one()
        balances = {account: int(totals._mapping[account]) for account in MEMBER_ACCOUNTS}
        program_side = _pairs(
            conn.execute(
                select(loyalty_postings.c.account, func.sum(loyalty_postings.c.amount))
                .where(loyalty_postings.c.account.in_(("program.issued", "program.adjustments")))
                .group_by(loyalty_postings.c.account)
            )
        )
        counts = _pairs(conn.execute(select(m.status, func.count()).group_by(m.status)))
        by_tier = _pairs(conn.execute(select(m.tier, func.count()).where(m.status == "active").group_by(m.tier)))
        h = loyalty_tier_history.c
        moves = conn.execute(
            select(h.previous, h.tier, func.count().label("changes"), func.count(h.member_id.distinct()).label("n"))
            .where(h.at > since, h.at <= now)
            .group_by(h.previous, h.tier)
        ).all()
        lots = loyalty_lots.c
        expiring_filter = (
            lots.state.in_(("pending", "active")),
            lots.remaining > 0,
            lots.expires_at.is_not(None),
            lots.expires_at <= until,
        )
        expiring_total = conn.execute(
            select(func.count(lots.member_id.distinct()), func.coalesce(func.sum(lots.remaining), 0)).where(
                *expiring_filter
            )
        ).one()
        earliest = func.min(lots.expires_at).label("earliest")
        points = func.sum(lots.remaining).label("points")
        expiring_rows = conn.execute(
            select(lots.member_id, points, earliest)
            .where(*expiring_filter)
            .group_by(lots.member_id)
            .order_by(earliest, points.desc(), lots.member_id)
            .limit(limit)
        ).all()

    earned = -int(program_side.get("program.issued", 0))
    adjusted = -int(program_side.get("program.adjustments", 0))
    issued = earned + adjusted
    outstanding = balances["pending"] + balances["active"]
    movement = []
    for row in moves:
        before, after = order.get(row.previous or ""), order.get(row.tier)
        direction = "up" if before is None or (after is not None and after > before) else "down"
        movement.append(
            {
                "from": row.previous,
                "to": row.tier,
                "direction": direction,
                "changes": int(row.changes),
                "members": int(row.n),
            }
        )
    movement.sort(key=lambda x: (x["direction"] != "up", order.get(x["from"] or "", -1), order.get(x["to"], 99)))
    distribution = {name: int(by_tier.get(name, 0)) for name in levels}
    for name, count in sorted(by_tier.items()):
        distribution.setdefault(str(name), int(count))  # a tier no longer in the program still has members
    return {
        "as_of": now.isoformat(),
        "program": program.name,
        "currency": program.currency,
        "members": {"active": int(counts.get("active", 0)), "merged": int(counts.get("merged", 0))},
        "points": {
            "outstanding": outstanding,
            "pending": balances["pending"],
            "active": balances["active"],
            "debt": balances["debt"],
            "issued": issued,
            "issued_by_earning": earned,
            "issued_by_adjustment": adjusted,
            "redeemed": balances["redeemed"],
            "expired": balances["expired"],
            "reversed": balances["reversed"],
        },
        "liability": _valuation(program, outstanding),
        "rates": {
            "breakage": _rate(balances["expired"], issued),
            "redemption": _rate(balances["redeemed"], issued),
            "basis": "expired / issued and redeemed / issued, as fractions (0.25 = 25%)",
        },
        "tiers": {
            "distribution": distribution,
            "movement_days": TIER_MOVEMENT_DAYS,
            "movement": movement,
        },
        "expiring": {
            "days": expiring_days,
            "until": until.isoformat(),
            "members_count": int(expiring_total[0]),
            "points": int(expiring_total[1]),
            "limit": limit,
            "members": [
                {"member_id": r.member_id, "points": int(r.points), "earliest_expiry": r.earliest.isoformat()}
                for r in expiring_rows
            ],
        },
    }


def catalogue(loyalty: Loyalty) -> list[dict[str, Any]]:
    """The rewards with their price in points, voucher value (minor units) and the stock left (None: unlimited)."""
    program = loyalty.program
    unit = 10 ** exponent(program.currency)
    names = [f"reward:{r.id}" for r in program.rewards if r.stock is not None]
    with loyalty.store.read() as conn:
        used = _pairs(
            conn.execute(
                select(loyalty_counters.c.name, loyalty_counters.c.used).where(loyalty_counters.c.name.in_(names))
            )
        )
    return [
        {
            "reward_id": r.id,
            "name": r.name,
            "points": r.points,
            "voucher": (
                {"value": r.voucher.value * unit, "currency": program.currency, "valid_days": r.voucher.valid_days}
                if r.voucher
                else None
            ),
            "stock": r.stock,
            "stock_left": max(r.stock - int(used.get(f"reward:{r.id}", 0)), 0) if r.stock is not None else None,
            "per_member": r.per_member,
        }
        for r in program.rewards
    ]
