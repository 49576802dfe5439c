"""Tiers as a pure function of a member's qualifying spend history and time.

Each order's eligible amount counts towards the tier for ``window_months`` from the order; a refund takes its
share back from the refund's time until the order leaves the window. A member moves up as soon as the rolling
spend reaches a higher tier; when it falls below the current tier the member keeps the tier for the downgrade
grace, and drops at its end to the tier the spend then qualifies for (unless it has recovered by then).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

from c360.domain.money import exponent, format_money
from c360.loyalty.calendar import add_months_at
from c360.loyalty.program import Program


class SpendChange(NamedTuple):
    """``amount`` (minor units; negative for a refund) counts from ``starts`` until just before ``ends``.
    (A named tuple: an earn builds one for every spend row of the member, and a tuple is the cheapest to build.)"""

    starts: dt.datetime
    ends: dt.datetime
    amount: int


@dataclass(frozen=True, slots=True)
class TierChange:
    at: dt.datetime
    tier: str
    previous: str | None
    reason: str


def order_spend(program: Program, at: dt.datetime, amount: int, zone: ZoneInfo) -> SpendChange:
    return SpendChange(at, add_months_at(at, program.tiers.window_months, zone), amount)


def refund_spend(
    program: Program, order_at: dt.datetime, refunded_at: dt.datetime, amount: int, zone: ZoneInfo
) -> SpendChange | None:
    ends = add_months_at(order_at, program.tiers.window_months, zone)
    starts = max(refunded_at, order_at)
    return SpendChange(starts, ends, -amount) if starts < ends and amount else None


def qualifying_spend(changes: Iterable[SpendChange], at: dt.datetime) -> int:
    return sum(c.amount for c in changes if c.starts <= at < c.ends)


def tier_history(
    program: Program, changes: Iterable[SpendChange], until: dt.datetime, zone: ZoneInfo
) -> list[TierChange]:
    """Every tier change up to and including ``until`` (the first tier is never listed as a change)."""
    levels = program.tiers.levels
    unit = 10 ** exponent(program.currency)
    delta: dict[dt.datetime, int] = defaultdict(int)
    for change in changes:
        delta[change.starts] += change.amount
        delta[change.ends] -= change.amount
    points = sorted(t for t in delta if t <= until)

    thresholds = [tier.min_spend * unit for tier in levels]  # strictly ascending, from 0 (Program checks)

    def qualified(spend: int) -> int:
        return max(bisect.bisect_right(thresholds, spend) - 1, 0)

    def spend_text(spend: int) -> str:
        return format_money(spend, program.currency)

    history: list[TierChange] = []
    current, spend, grace_ends = 0, 0, None
    i = 0
    while True:
        next_change = points[i] if i < len(points) else None
        if grace_ends is not None and grace_ends <= until and (next_change is None or grace_ends < next_change):
            target = qualified(spend)
            if target < current:
                level = levels[current]
                reason = (
                    f"{program.tiers.window_months}-month spend {spend_text(spend)} stayed below {level.name}'s "
                    f"{spend_text(level.min_spend * unit)} for {program.tiers.downgrade_grace_months} months"
                )
                history.append(TierChange(grace_ends, levels[target].name, level.name, reason))
                current = target
            grace_ends = None
            continue
        if next_change is None:
            break
        spend += delta[next_change]
        i += 1
        target = qualified(spend)
        if target > current:
            level = levels[target]
            reason = (
                f"{program.tiers.window_months}-month spend {spend_text(spend)} reached {level.name} "
                f"({spend_text(level.min_spend * unit)})"
            )
            history.append(TierChange(next_change, level.name, levels[current].name, reason))
            current, grace_ends = target, None
        elif target < current and grace_ends is None:
            grace_ends = add_months_at(next_change, program.tiers.downgrade_grace_months, zone)
            if grace_ends <= next_change:  # no grace: drop at once
                level = levels[current]
                reason = (
                    f"{program.tiers.window_months}-month spend {spend_text(spend)} fell below {level.name}'s "
                    f"{spend_text(level.min_spend * unit)}"
                )
                history.append(TierChange(next_change, levels[target].name, level.name, reason))
                current, grace_ends = target, None
        elif target >= current:
            grace_ends = None
    return history


@dataclass(frozen=True, slots=True)
class TierState:
    tier: str
    since: dt.datetime | None
    spend: int  # qualifying spend now, minor units
    next_tier: str | None
    to_next: int | None  # minor units of qualifying spend still needed for the next tier
    grace_ends: dt.datetime | None  # when the member drops unless the spend recovers


def tier_state(program: Program, changes: list[SpendChange], at: dt.datetime, zone: ZoneInfo) -> TierState:
    history = tier_history(program, changes, at, zone)
    levels = program.tiers.levels
    tier = history[-1].tier if history else levels[0].name
    since = history[-1].at if history else None
    spend = qualifying_spend(changes, at)
    index = program.tiers.index(tier)
    unit = 10 ** exponent(program.currency)
    nxt = levels[index + 1] if index + 1 < len(levels) else None
    to_next = max(nxt.min_spend * unit - spend, 0) if nxt is not None else None
    grace_ends = None
    if spend < levels[index].min_spend * unit:
        grace_ends = _grace_end(program, changes, at, zone, levels[index].min_spend * unit)
    return TierState(tier, since, spend, nxt.name if nxt else None, to_next, grace_ends)


def _grace_end(
    program: Program, changes: list[SpendChange], at: dt.datetime, zone: ZoneInfo, needed: int
) -> dt.datetime | None:
    # The grace started at the last moment the spend went from at-or-above the tier's minimum to below it.
    moments = sorted({c.starts for c in changes} | {c.ends for c in changes})
    fell = None
    for moment in moments:
        if moment > at:
            break
        below = qualifying_spend(changes, moment) < needed
        if below and fell is None:
            fell = moment
        elif not below:
            fell = None
    return add_months_at(fell, program.tiers.downgrade_grace_months, zone) if fell is not None else None
