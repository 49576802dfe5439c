"""Earn rules: how many points an order or an event gives, and why, in words a member understands.

Pure: the caller passes the order, the member's tier and birthday month, how much of each capped rule the member
has already used, and what is left of each campaign budget.

Precedence, applied in this order:
1. spend: ``points`` per ``per`` of the eligible amount (the total without the excluded parts, products and
   categories); nothing below the version's minimum order;
2. line multipliers: each line earns the largest factor among the product/category multipliers and campaigns
   that apply to it (they never stack with each other);
3. the member's tier multiplier, on everything above;
4. the birthday-month factor, on everything above.
Each rule's share is exact (fractions); the award is floored once at the end (``floor_once``, the default), and
the shares shown are the differences of the running floor so that they add up to the award. With
``floor_each`` each share is floored on its own. Caps and budgets then trim the rule they belong to.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from zoneinfo import ZoneInfo

from c360.domain.money import exponent, format_money
from c360.loyalty.calendar import Period, local_date
from c360.loyalty.program import Campaign, Caps, EventRule, Multiplier, Program, Version

SPEND_RULE = "spend"
TIER_RULE = "tier"
BIRTHDAY_RULE = "birthday"
REFERRAL_RULE = "referral"


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str | None
    category: str | None
    quantity: int
    amount: int  # minor units: price x quantity, before the order's discount


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    at: dt.datetime
    currency: str
    total: int  # minor units: what the customer paid (after discount, with shipping and tax)
    shipping: int = 0
    tax: int = 0
    lines: tuple[OrderLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Share:
    """One rule's part of an award."""

    rule: str  # spend, tier, birthday, referral, or the name of a multiplier, campaign or event rule
    points: int
    reason: str
    capped_from: int | None = None  # what the rule would have given without its cap or budget


@dataclass(frozen=True, slots=True)
class Award:
    points: int
    shares: tuple[Share, ...]
    eligible: int = 0  # minor units of the order that earn (and qualify for tiers)
    note: str = ""  # why an order earned nothing, when it did not
    lines: tuple[tuple[OrderLine, Fraction], ...] = ()  # the order's eligible lines and their eligible amounts

    @property
    def reason(self) -> str:
        if not self.shares:
            return self.note
        return "; ".join(f"{s.points:+,} {s.reason}" for s in self.shares)


@dataclass(frozen=True, slots=True)
class Member:
    tier: str
    birth_month: int | None = None
    #: the segments the member's profile is in (campaigns aimed at segments apply to their members only)
    segments: frozenset[str] = frozenset()


#: (rule name, period) -> points the member already has from that rule in the period holding the award.
Usage = Callable[[str, Period], int]


@dataclass(slots=True)
class Limits:
    usage: Usage = field(default=lambda _rule, _period: 0)
    budgets: Mapping[str, int] = field(default_factory=dict)  # campaign name -> points left


def eligible_lines(version: Version, order: Order) -> tuple[int, list[tuple[OrderLine, Fraction]]]:
    """The eligible amount (minor units) and each eligible line's share of it (discount spread pro rata)."""
    rule = version.spend
    base = order.total
    if "shipping" in rule.exclude:
        base -= order.shipping
    if "tax" in rule.exclude:
        base -= order.tax
    base = max(base, 0)
    subtotal = sum(line.amount for line in order.lines)
    if not order.lines or subtotal <= 0:
        return base, []
    kept = [
        (line, Fraction(line.amount * base, subtotal))
        for line in order.lines
        if line.sku not in rule.exclude_skus and line.category not in rule.exclude_categories
    ]
    # The shares have one denominator: their sum's floor is an integer division (no Fraction arithmetic per line).
    return sum(line.amount for line, _ in kept) * base // subtotal, kept


def earn_for_order(
    program: Program, order: Order, member: Member, zone: ZoneInfo, limits: Limits | None = None
) -> Award:
    """The award for ``order`` under the version in effect on its local date."""
    limits = limits or Limits()
    day = local_date(order.at, zone)
    version = program.version_at(day)
    if version is None:
        return Award(0, (), note=f"the program starts on {program.versions[0].effective_from.isoformat()}")
    if order.currency != program.currency:
        return Award(0, (), note=f"orders in {order.currency} do not earn (the program counts {program.currency})")
    eligible, lines = eligible_lines(version, order)
    minimum = version.spend.min_order * 10 ** exponent(program.currency)
    if eligible < minimum or eligible <= 0:
        why = f"below the {format_money(minimum, program.currency)} minimum" if eligible > 0 else "nothing eligible"
        return Award(0, (), eligible=eligible, note=f"order {order.order_id}: {why}", lines=tuple(lines))
    per_minor = version.spend.per * 10 ** exponent(program.currency)
    rate = Fraction(version.spend.points, per_minor)

    parts: list[tuple[str, Fraction, str, Caps | None]] = []
    spend_reason = (
        f"{_points(version.spend.points)} per {format_money(per_minor, program.currency)} "
        f"on {format_money(eligible, program.currency)}{_excluded(version, order, eligible)}"
    )
    parts.append((SPEND_RULE, eligible * rate, spend_reason, version.spend.caps))

    # Line multipliers: the largest factor per line wins; the extra goes to the rule that gave it.
    extras: dict[str, tuple[Fraction, Fraction, str, Caps | None]] = {}
    factor_of: dict[str, Fraction] = {}
    candidates = _line_rules(version, day, member)
    for line, amount in lines or [(OrderLine(None, None, 1, eligible), Fraction(eligible))]:
        best: tuple[Fraction, str, str, Caps | None] | None = None
        for factor, name, what, caps, applies in candidates:
            if applies(line) and (best is None or factor > best[0]):
                best = (factor, name, what, caps)
        if best is None or best[0] == 1:
            continue
        factor, name, what, caps = best
        extra, covered, _, _ = extras.get(name, (Fraction(0), Fraction(0), what, caps))
        extras[name] = (extra + amount * rate * (factor - 1), covered + amount, what, caps)
        factor_of[name] = factor
    for name, (extra, covered, what, caps) in extras.items():
        reason = f"{name}: x{_num(factor_of[name])} on {format_money(math.floor(covered), program.currency)}{what}"
        parts.append((name, extra, reason, caps))

    tier = program.tiers.levels[program.tiers.index(member.tier)] if _known_tier(program, member.tier) else None
    if tier is not None and tier.multiplier != 1:
        subtotal = sum((p[1] for p in parts), Fraction(0))
        parts.append((TIER_RULE, subtotal * (tier.multiplier - 1), f"{tier.name} tier x{_num(tier.multiplier)}", None))
    if version.birthday is not None and member.birth_month == day.month and version.birthday.factor != 1:
        subtotal = sum((p[1] for p in parts), Fraction(0))
        factor = version.birthday.factor
        parts.append((BIRTHDAY_RULE, subtotal * (factor - 1), f"birthday month x{_num(factor)}", None))

    limited = [_limit(share, caps, limits, version) for share, caps in _round(parts, version.rounding)]
    kept = tuple(s for s in limited if s.points > 0 or s.capped_from)
    return Award(sum(s.points for s in kept), kept, eligible=eligible, lines=tuple(lines))


def earn_for_event(
    program: Program, event: str, at: dt.datetime, zone: ZoneInfo, limits: Limits | None = None
) -> Award | None:
    """The award for a tracked event that an event rule pays for; None when no rule does."""
    limits = limits or Limits()
    version = program.version_at(local_date(at, zone))
    if version is None:
        return None
    rule = next((r for r in version.events if r.event == event), None)
    if rule is None:
        return None
    share = _limit(Share(rule.name, rule.points, _event_reason(rule)), rule.caps, limits, version)
    return Award(share.points, (share,))


def referral_award(program: Program, at: dt.datetime, zone: ZoneInfo, referee: str) -> Award | None:
    version = program.version_at(local_date(at, zone))
    if version is None or version.referral is None:
        return None
    points = version.referral.points
    return Award(points, (Share(REFERRAL_RULE, points, f"referral bonus: {referee} placed a first order"),))


def _event_reason(rule: EventRule) -> str:
    return f"{rule.name} ({rule.event})"


Applies = Callable[[OrderLine], bool]


def _line_rules(
    version: Version, day: dt.date, member: Member
) -> list[tuple[Fraction, str, str, Caps | None, Applies]]:
    rules: list[tuple[Fraction, str, str, Caps | None, Applies]] = []
    for m in version.multipliers:
        if _in_window(day, m.starts, m.ends):
            rules.append((m.factor, m.name, _of(m), None, _matcher(m)))
    for c in version.campaigns:
        aimed = (not c.tiers or member.tier in c.tiers) and (not c.segments or bool(member.segments & set(c.segments)))
        if _in_window(day, c.starts, c.ends) and aimed:
            rules.append((c.factor, c.name, _of(c), c.caps, _matcher(c)))
    return rules


def _matcher(rule: Multiplier | Campaign) -> Applies:
    skus = set(rule.skus) if isinstance(rule, Multiplier) else set()
    categories = set(rule.categories)
    if not skus and not categories:
        return lambda _line: True
    return lambda line: line.sku in skus or line.category in categories


def _of(rule: Multiplier | Campaign) -> str:
    names = [*rule.categories, *(rule.skus if isinstance(rule, Multiplier) else [])]
    return f" of {', '.join(names)}" if names else ""


def _in_window(day: dt.date, starts: dt.date | None, ends: dt.date | None) -> bool:
    return (starts is None or starts <= day) and (ends is None or day <= ends)


def _known_tier(program: Program, name: str) -> bool:
    return any(t.name == name for t in program.tiers.levels)


def _round(parts: list[tuple[str, Fraction, str, Caps | None]], rounding: str) -> list[tuple[Share, Caps | None]]:
    out: list[tuple[Share, Caps | None]] = []
    running, shown = Fraction(0), 0
    for rule, exact, reason, caps in parts:
        if rounding == "floor_each":
            points = math.floor(exact)
        else:
            running += exact
            points = math.floor(running) - shown
            shown += points
        out.append((Share(rule, points, reason), caps))
    return out


def _limit(share: Share, caps: Caps | None, limits: Limits, version: Version) -> Share:
    allowed = share.points
    why = ""
    if caps is not None:
        for period, limit in caps.items():
            left = max(limit - limits.usage(share.rule, period), 0)
            if left < allowed:
                allowed = left
                why = f" (capped at {limit:,} points per {period})" if period != "lifetime" else f" (at most {limit:,})"
    budget = limits.budgets.get(share.rule)
    if budget is not None and budget < allowed:
        allowed = max(budget, 0)
        why = " (campaign budget used up)"
    if allowed == share.points:
        return share
    return Share(share.rule, allowed, share.reason + why, capped_from=share.points)


def _excluded(version: Version, order: Order, eligible: int) -> str:
    left_out: list[str] = [
        part for part in ("shipping", "tax") if part in version.spend.exclude and getattr(order, part)
    ]
    if any(
        line.sku in version.spend.exclude_skus or line.category in version.spend.exclude_categories
        for line in order.lines
    ):
        left_out.append("excluded products")
    return f" ({', '.join(left_out)} not counted)" if left_out else ""


def _points(n: int) -> str:
    return "1 point" if n == 1 else f"{n:,} points"


def _num(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):g}"
