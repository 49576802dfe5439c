"""Loyalty operations inside one transaction of the operational store.

Each takes ``Books`` (the transaction) and the program context, locks the members it touches first, and is
idempotent on its key: the same order, refund, event or redemption key twice changes things once.
The public, transactional API is ``c360.services.loyalty.Loyalty``; the event processor calls these directly
inside its own transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update

from c360.domain.money import exponent, format_money
from c360.errors import C360Error, InvalidInput, NotFound
from c360.loyalty.calendar import expiry_after, period_end, period_start
from c360.loyalty.ledger import Draw, LotOrder, NotEnoughPoints, plan_expiry, plan_reversal, plan_spend, proportional
from c360.loyalty.program import Program, Reward
from c360.loyalty.rules import (
    Award,
    Limits,
    Member,
    Order,
    OrderLine,
    earn_for_event,
    earn_for_order,
    eligible_lines,
    referral_award,
)
from c360.loyalty.tiers import SpendChange, TierChange, order_spend, refund_spend, tier_history
from c360.services.loyalty.books import NEVER, Books, Posting, random_code
from c360.store.prepared import Prepared, PreparedInsert
from c360.store.schema import (
    loyalty_draws,
    loyalty_entries,
    loyalty_lots,
    loyalty_members,
    loyalty_orders,
    loyalty_redemptions,
    loyalty_spend,
    loyalty_tier_history,
    segment_memberships,
)

# Statements of every earn and redeem, compiled once per database (see books.py and c360.store.prepared).
_SPEND_OF: Final = Prepared(
    select(loyalty_spend.c.starts, loyalty_spend.c.ends, loyalty_spend.c.amount).where(
        loyalty_spend.c.member_id == bindparam("b_member_id")
    ),
    row_type=SpendChange,
)
_TIERS_RECORDED: Final = Prepared(
    select(loyalty_tier_history.c.at, loyalty_tier_history.c.tier).where(
        loyalty_tier_history.c.member_id == bindparam("b_member_id")
    )
)
_NEW_TIERS: Final = Prepared(insert(loyalty_tier_history))
_ACTIVATE_LOT: Final = Prepared(
    update(loyalty_lots).where(loyalty_lots.c.id == bindparam("b_lot_id")).values(state="active")
)
_CLOSE_SPENT_LOTS: Final = Prepared(
    update(loyalty_lots)
    .where(
        loyalty_lots.c.member_id == bindparam("b_member_id"),
        loyalty_lots.c.state == "active",
        loyalty_lots.c.expires_at <= bindparam("b_now"),
    )
    .values(state="expired")
)
_NEW_ORDER: Final = Prepared(insert(loyalty_orders))
_NEW_SPEND: Final = Prepared(insert(loyalty_spend))
_SET_DETAIL: Final = Prepared(
    update(loyalty_entries).where(loyalty_entries.c.id == bindparam("b_entry_id")).values(detail=bindparam("b_detail"))
)
_NEW_REDEMPTION: Final = PreparedInsert(loyalty_redemptions)
_MEMBER_REDEMPTIONS: Final = Prepared(
    select(func.count()).where(
        loyalty_redemptions.c.member_id == bindparam("b_member_id"),
        loyalty_redemptions.c.reward_id == bindparam("b_reward_id"),
        loyalty_redemptions.c.status != "cancelled",
    )
)


class Refused(C360Error):
    """A loyalty action the member's state does not allow (not enough points, out of stock, a spent voucher)."""

    http_status = 409
    code = "refused"
    exit_code = 6


@dataclass(frozen=True, slots=True)
class Context:
    program: Program
    zone: ZoneInfo
    lot_order: LotOrder = "soonest_expiring"


@dataclass(frozen=True, slots=True)
class Result:
    """What an operation did: its entry, the points it moved and why; ``duplicate`` when the key was seen."""

    member_id: str
    entry_id: int | None
    points: int
    reason: str
    duplicate: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


def _result_of(row: Any) -> Result:
    detail = orjson.loads(row.detail) if row.detail else {}
    return Result(row.member_id, row.id, int(row.points), row.reason, duplicate=True, detail=detail)


# --- members -------------------------------------------------------------------------------------------------------
def enrol(
    books: Books,
    ctx: Context,
    profile_id: str,
    *,
    birth_month: int | None = None,
    referral_code: str | None = None,
) -> Any:
    """The member for ``profile_id``, enrolled now if it is not one yet."""
    existing = books.member_for_profile(profile_id)
    if existing is not None:
        return existing
    referred_by = checked_enrolment(books.conn, birth_month=birth_month, referral_code=referral_code)
    return books.create_member(
        profile_id, profile_id, tier=ctx.program.tiers.levels[0].name, birth_month=birth_month, referred_by=referred_by
    )


def checked_enrolment(conn: Connection, *, birth_month: int | None, referral_code: str | None) -> str | None:
    """The referring member of an enrolment (None without a code); InvalidInput for a birth month that is not one
    or a code no member has."""
    if birth_month is not None and not 1 <= birth_month <= 12:
        raise InvalidInput("must be a month number from 1 to 12", field="birth_month")
    if not referral_code:
        return None
    referrer = conn.execute(
        select(loyalty_members.c.member_id).where(loyalty_members.c.referral_code == referral_code.strip().upper())
    ).one_or_none()
    if referrer is None:
        raise InvalidInput(f"no member has referral code {referral_code!r}", field="referral_code")
    return str(referrer.member_id)


def member_for(books: Books, ctx: Context, profile_id: str, *, enrol_if_needed: bool) -> Any:
    member = books.member_for_profile(profile_id)
    if member is not None:
        return member
    if enrol_if_needed and ctx.program.auto_enrol:
        return enrol(books, ctx, profile_id)
    raise NotFound(f"profile {profile_id} is not a loyalty member: enrol it first")


# --- settling: activation and expiry as of now --------------------------------------------------------------------
def settle(books: Books, ctx: Context, member_id: str, now: dt.datetime) -> list[Result]:
    """Activate the member's pending lots that are due and expire the active ones whose date has come."""
    due = books.settle_due(member_id)
    if due is not None and now < due:
        return []  # no lot activates or expires yet: nothing to read
    return settled(books, ctx, member_id, now)[0]


def settled(books: Books, ctx: Context, member_id: str, now: dt.datetime) -> tuple[list[Result], list[Any]]:
    """``settle``, and the member's pending and active lots as they are afterwards."""
    out: list[Result] = []
    lots = books.lots(member_id)
    due = [lot for lot in lots if lot.state == "pending" and lot.activates_at is not None and lot.activates_at <= now]
    if due:
        points = sum(int(lot.remaining) for lot in due)
        reason = f"{points:,} points are now available (the return window of {len(due)} award(s) has passed)"
        entry_id = books.entry(member_id, "activate", at=now, points=points, reason=reason)
        books.post(entry_id, [Posting(member_id, "pending", -points), Posting(member_id, "active", points)])
        _ACTIVATE_LOT.many(books.conn, [{"b_lot_id": lot.id} for lot in due])
        out.append(Result(member_id, entry_id, points, reason, detail={"kind": "activated"}))
        activated = {lot.id for lot in due}
        lots = [lot._replace(state="active") if lot.id in activated else lot for lot in lots]
    draws = plan_expiry(books.views(lots), now)
    expired = False
    if draws:
        points = sum(d.amount for d in draws)
        months = {
            lot.earned_at.astimezone(ctx.zone).strftime("%B %Y") for lot in lots if lot.id in {d.lot_id for d in draws}
        }
        reason = f"{points:,} unspent points earned in {', '.join(sorted(months))} expired"
        entry_id = books.entry(member_id, "expire", at=now, points=points, reason=reason)
        books.post(entry_id, books.draw(entry_id, member_id, draws, "expired"))
        out.append(Result(member_id, entry_id, points, reason, detail={"kind": "expired"}))
        expired = True
    # Lots spent to nothing whose date has come: closed, so later runs skip them. (The expiry above drew them to
    # zero; which they are is known from the lots read, so the UPDATE runs only when there are some.)
    if any(lot.state == "active" and lot.expires_at is not None and lot.expires_at <= now for lot in lots):
        _CLOSE_SPENT_LOTS.execute(books.conn, {"b_member_id": member_id, "b_now": now})
        expired = True
    lots = books.lots(member_id) if expired else lots
    books.set_settle_due(member_id, _next_due(lots))
    return out, lots


def _next_due(lots: Sequence[Any]) -> dt.datetime:
    """When the first of these pending and active lots activates or expires."""
    times = [lot.activates_at for lot in lots if lot.state == "pending" and lot.activates_at is not None]
    times += [lot.expires_at for lot in lots if lot.state == "active" and lot.expires_at is not None]
    return min(times, default=NEVER)


# --- tiers ---------------------------------------------------------------------------------------------------------
def spend_changes(books: Books, member_id: str) -> list[SpendChange]:
    changes: list[SpendChange] = _SPEND_OF.rows(books.conn, {"b_member_id": member_id})
    return changes


def tier_at(ctx: Context, changes: list[SpendChange], at: dt.datetime) -> str:
    history = tier_history(ctx.program, changes, at, ctx.zone)
    return history[-1].tier if history else ctx.program.tiers.levels[0].name


def review_tier(
    books: Books,
    ctx: Context,
    member_id: str,
    now: dt.datetime,
    *,
    member: Any | None = None,
    changes: list[SpendChange] | None = None,
    sets: dict[str, Any] | None = None,
) -> str:
    """Bring the member's stored tier and tier history up to ``now``; returns the tier.

    ``member`` (its locked row, whose tier this transaction has not changed since) and ``changes`` (all of its
    spend changes) spare reading them again when the caller has them. ``sets``: the member row's changed columns
    go there, for the caller's own UPDATE of the row, instead of into one of their own."""
    member = member if member is not None else books.member(member_id)
    changes = changes if changes is not None else spend_changes(books, member_id)
    history = tier_history(ctx.program, changes, now, ctx.zone)
    digest = _tier_digest(history)
    # The last review recorded every change of the history it computed: the same history again has none new.
    new: list[TierChange] = []
    if digest != member.tier_digest:
        recorded = {(r.at, r.tier) for r in _TIERS_RECORDED.rows(books.conn, {"b_member_id": member_id})}
        new = [change for change in history if (change.at, change.tier) not in recorded]
    if new:
        _NEW_TIERS.many(
            books.conn,
            [
                {
                    "member_id": member_id,
                    "at": c.at,
                    "tier": c.tier,
                    "previous": c.previous,
                    "reason": c.reason,
                    "recorded_at": books.now,
                }
                for c in new
            ],
        )
    tier = history[-1].tier if history else ctx.program.tiers.levels[0].name
    since = history[-1].at if history else None
    if tier != member.tier or since != member.tier_since or digest != member.tier_digest:
        changed = {"tier": tier, "tier_since": since, "tier_digest": digest}
        if sets is not None:
            sets.update(changed)
        else:
            books.update_member(member_id, {}, changed)
    return tier


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND: Final = dt.timedelta(microseconds=1)


def _tier_digest(history: Sequence[TierChange]) -> str:
    # Instants as whole microseconds since the epoch: the same text for the same instant in any zone.
    text = "|".join(f"{(change.at - _EPOCH) // _MICROSECOND} {change.tier}" for change in history)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# --- earning -------------------------------------------------------------------------------------------------------
def _limits(books: Books, ctx: Context, member_id: str, at: dt.datetime) -> Limits:
    def usage(rule: str, period: Any) -> int:
        return books.used(member_id, rule, period_start(at, period, ctx.zone), period_end(at, period, ctx.zone))

    day = at.astimezone(ctx.zone).date()
    version = ctx.program.version_at(day)
    budgets: dict[str, int] = {}
    if version is not None:
        for campaign in version.campaigns:
            # Only a campaign running on the order's day takes its (shared, locked) budget row.
            if campaign.budget is not None and campaign.starts <= day <= campaign.ends:
                budgets[campaign.name] = campaign.budget - books.counter(f"campaign:{campaign.name}")
    return Limits(usage=usage, budgets=budgets)


def _award(
    books: Books,
    ctx: Context,
    member_id: str,
    award: Award,
    *,
    kind: str,
    key: str,
    at: dt.datetime,
    now: dt.datetime,
    detail: dict[str, Any],
    member: Any | None = None,
    sets: dict[str, Any] | None = None,
) -> tuple[int, int | None]:
    """Post an award: a pending lot (repaying any debt first), its shares and budget use. (entry id, lot id).

    ``member``: the member's locked row, when the caller has it and this transaction has not changed its debt.
    ``sets``: other columns of the member's row to write, with its balances (one UPDATE of the row)."""
    sets = {} if sets is None else sets
    version = ctx.program.version_at(at.astimezone(ctx.zone).date())
    detail = {**detail, "shares": [{"rule": s.rule, "points": s.points, "reason": s.reason} for s in award.shares]}
    if award.note:
        detail["note"] = award.note
    entry_id = books.entry(member_id, kind, at=at, points=award.points, reason=award.reason, key=key, detail=detail)
    books.shares(entry_id, member_id, at, [(s.rule, s.points) for s in award.shares])
    if version is not None:
        for campaign in version.campaigns:
            used = sum(s.points for s in award.shares if s.rule == campaign.name)
            if campaign.budget is not None and used:
                books.count(f"campaign:{campaign.name}", used)
    if award.points <= 0:
        books.update_member(member_id, {}, sets)
        return entry_id, None
    # Read (and locked) before the new lot defers a lower settle_due into ``sets``: a read after it would take the
    # row's older value for the one this transaction knows.
    member = member if member is not None else books.member(member_id)
    pending_days = version.pending_days if version is not None else 0
    expiry_months = version.expiry.months if version is not None and version.expiry is not None else None
    lot_id = books.new_lot(
        member_id,
        entry_id,
        points=award.points,
        state="pending",
        earned_at=at,
        activates_at=at + dt.timedelta(days=pending_days),
        expires_at=expiry_after(at, expiry_months, ctx.zone) if expiry_months else None,
        sets=sets,
    )
    postings = [Posting(member_id, "program.issued", -award.points), Posting(member_id, "pending", award.points)]
    debt = -int(member.debt)
    if debt > 0:
        # Points a refund could not take back are repaid first from what the member earns next.
        repay = min(debt, award.points)
        books.post(entry_id, postings)
        postings = books.draw(entry_id, member_id, [Draw(lot_id, "pending", repay)], "debt")
    books.post(entry_id, postings, sets={member_id: sets})
    return entry_id, lot_id


def record_order(
    books: Books,
    ctx: Context,
    source: str,
    order: Order,
    profile_id: str,
    *,
    voucher_code: str | None = None,
    now: dt.datetime,
) -> Result:
    key = f"order:{source}:{order.order_id}"
    if (seen := books.existing(key)) is not None:
        return _result_of(seen)  # a replay: answered before enrolling anyone, so it changes nothing
    member = member_for(books, ctx, profile_id, enrol_if_needed=True)
    member_id = member.member_id
    # On PostgreSQL another transaction may have recorded the order while this one waited for the member's lock;
    # SQLite's write transaction has held the whole database since before the first look.
    if books.conn.dialect.name == "postgresql" and (seen := books.existing(key)) is not None:
        return _result_of(seen)
    changes = spend_changes(books, member_id)
    tier = tier_at(ctx, changes, order.at)
    segments = _segments_of(books, profile_id) if _aims_at_segments(ctx) else frozenset()
    award = earn_for_order(
        ctx.program, order, Member(tier, member.birth_month, segments), ctx.zone,
        _limits(books, ctx, member_id, order.at),
    )  # fmt: skip
    lines = _eligible_lines(ctx, order, award)
    detail: dict[str, Any] = {"source": source, "order_id": order.order_id, "tier": tier, "eligible": award.eligible}
    voucher_note = ""
    if voucher_code:
        voucher = spend_voucher(books, ctx, voucher_code, f"{source}:{order.order_id}", now=now, member_id=member_id)
        voucher_note = (
            f"; voucher {voucher.voucher_code} paid {format_money(int(voucher.value or 0), ctx.program.currency)}"
        )
        detail["voucher_code"] = voucher.voucher_code
    change = None
    if award.eligible > 0 and order.currency == ctx.program.currency:
        change = order_spend(ctx.program, order.at, award.eligible, ctx.zone)
        changes = [*changes, change]
    # The member row's first order, tier and balances change with one UPDATE (with the award's posting).
    sets: dict[str, Any] = {}
    first_order = member.first_order_at is None or order.at < member.first_order_at
    if first_order:
        sets["first_order_at"] = order.at
    review_tier(books, ctx, member_id, now, member=member, changes=changes, sets=sets)
    entry_id, lot_id = _award(
        books, ctx, member_id, award, kind="earn", key=key, at=order.at, now=now, detail=detail, member=member,
        sets=sets,
    )  # fmt: skip
    _NEW_ORDER.execute(
        books.conn,
        {
            "source": source,
            "order_id": order.order_id,
            "member_id": member_id,
            "entry_id": entry_id,
            "lot_id": lot_id,
            "at": order.at,
            "currency": order.currency,
            "total": order.total,
            "eligible": award.eligible,
            "points": award.points,
            "refunded": 0,
            "reversed_points": 0,
            "lines": orjson.dumps(lines).decode() if lines else None,
            "voucher_code": voucher_code.strip().upper() if voucher_code else None,
        },
    )
    if change is not None:
        _NEW_SPEND.execute(
            books.conn,
            {
                "member_id": member_id,
                "origin_member_id": member_id,
                "starts": change.starts,
                "ends": change.ends,
                "amount": change.amount,
                "entry_id": entry_id,
            },
        )
    if first_order and member.first_order_at is None and member.referred_by:
        _referral(books, ctx, member.referred_by, member_id, order.at, now)
    settle(books, ctx, member_id, now)
    return Result(member_id, entry_id, award.points, award.reason + voucher_note, detail=detail)


def _eligible_lines(ctx: Context, order: Order, award: Award) -> list[dict[str, Any]]:
    """The order's eligible lines as the order row keeps them (a refund of some lines takes back their share)."""
    lines: Sequence[tuple[OrderLine, Fraction]] = award.lines
    if order.currency != ctx.program.currency:  # the award did not look at the lines; a refund may
        version = ctx.program.version_at(order.at.astimezone(ctx.zone).date())
        lines = eligible_lines(version, order)[1] if version is not None else []
    return [
        {"sku": line.sku, "category": line.category, "quantity": line.quantity, "eligible": math.floor(amount)}
        for line, amount in lines
    ]


def _referral(books: Books, ctx: Context, referrer_id: str, referee_id: str, at: dt.datetime, now: dt.datetime) -> None:
    award = referral_award(ctx.program, at, ctx.zone, referee_id)
    if award is None:
        return
    referrer = books.member(referrer_id)
    key = f"referral:{referee_id}"
    if books.existing(key) is None:
        _award(
            books,
            ctx,
            referrer.member_id,
            award,
            kind="referral",
            key=key,
            at=at,
            now=now,
            detail={"referee": referee_id},
        )


def record_event(
    books: Books,
    ctx: Context,
    source: str,
    message_id: str,
    event: str,
    profile_id: str,
    at: dt.datetime,
    now: dt.datetime,
) -> Result | None:
    """Points for an event an event rule pays for; None when no rule does (or the profile is not a member)."""
    version = ctx.program.version_at(at.astimezone(ctx.zone).date())
    if version is None or not any(rule.event == event for rule in version.events):
        return None
    key = f"event:{source}:{message_id}"
    if (seen := books.existing(key)) is not None:
        return _result_of(seen)  # a replay: answered before enrolling anyone, so it changes nothing
    member = books.member_for_profile(profile_id)
    if member is None:
        if not ctx.program.auto_enrol:
            return None
        member = enrol(books, ctx, profile_id)
    if (seen := books.existing(key)) is not None:
        return _result_of(seen)
    award = earn_for_event(ctx.program, event, at, ctx.zone, _limits(books, ctx, member.member_id, at))
    if award is None:
        return None
    detail = {"source": source, "message_id": message_id, "event": event}
    entry_id, _ = _award(
        books, ctx, member.member_id, award, kind="event", key=key, at=at, now=now, detail=detail, member=member
    )
    settle(books, ctx, member.member_id, now)
    return Result(member.member_id, entry_id, award.points, award.reason, detail=detail)


# --- refunds -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RefundLine:
    sku: str
    quantity: int


def record_refund(
    books: Books,
    ctx: Context,
    source: str,
    order_id: str,
    refund_id: str,
    *,
    amount: int | None,
    lines: Sequence[RefundLine] = (),
    at: dt.datetime,
    now: dt.datetime,
) -> Result:
    """Take back the refunded share of an order's points: pending first, then active; the rest becomes debt."""
    row = books.conn.execute(
        select(loyalty_orders).where(loyalty_orders.c.source == source, loyalty_orders.c.order_id == order_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"no order {order_id!r} from source {source!r} earned points")
    member = books.member(row.member_id)
    member_id = member.member_id
    key = f"refund:{source}:{order_id}:{refund_id}"
    if (seen := books.existing(key)) is not None:
        return _result_of(seen)
    eligible = int(row.eligible)
    share = _refund_share(row, amount, lines)
    refunded = min(int(row.refunded) + share, eligible)
    target = proportional(int(row.points), refunded, eligible)
    reverse = max(target - int(row.reversed_points), 0)
    what = (
        format_money(amount, row.currency)
        if amount is not None
        else ("the returned items" if lines else "the whole order")
    )
    parts = [f"refund of {what} on order {order_id}: {reverse:,} of its {int(row.points):,} points taken back"]
    entry_id = books.entry(member_id, "reverse", at=at, points=reverse, reason="", key=key, ref=int(row.entry_id))
    postings: list[Posting] = []
    debt = 0
    if reverse:
        draws, debt = plan_reversal(
            books.views(books.lots(member_id)), reverse, own_lot=row.lot_id, order=ctx.lot_order
        )
        postings = books.draw(entry_id, member_id, draws, "reversed")
        if debt:
            postings += [Posting(member_id, "reversed", debt), Posting(member_id, "debt", -debt)]
            parts.append(f"{debt:,} points were already spent: a debt that the next points earned repay first")
    if row.voucher_code:
        if refunded >= eligible:
            parts.append(_reinstate_voucher(books, row.voucher_code, f"{source}:{order_id}", now))
        else:
            parts.append(f"voucher {row.voucher_code} paid part of this order and stays spent")
    books.post(entry_id, postings)
    reason = "; ".join(parts)
    detail = {"source": source, "order_id": order_id, "refund_id": refund_id, "refunded": share, "debt": debt}
    books.conn.execute(
        update(loyalty_entries)
        .where(loyalty_entries.c.id == entry_id)
        .values(reason=reason, detail=orjson.dumps(detail).decode())
    )
    books.conn.execute(
        update(loyalty_orders)
        .where(loyalty_orders.c.source == source, loyalty_orders.c.order_id == order_id)
        .values(refunded=refunded, reversed_points=int(row.reversed_points) + reverse)
    )
    change = refund_spend(ctx.program, row.at, at, refunded - int(row.refunded), ctx.zone)
    if change is not None:
        books.conn.execute(
            insert(loyalty_spend).values(
                member_id=member_id,
                origin_member_id=row.member_id,
                starts=change.starts,
                ends=change.ends,
                amount=change.amount,
                entry_id=entry_id,
            )
        )
    review_tier(books, ctx, member_id, now)
    settle(books, ctx, member_id, now)
    return Result(member_id, entry_id, reverse, reason, detail=detail)


def _refund_share(row: Any, amount: int | None, lines: Sequence[RefundLine]) -> int:
    """The eligible minor units a refund gives back: by the returned lines when the order has its lines, else
    by the refunded amount's share of the order total; neither given means the whole order."""
    eligible, total = int(row.eligible), int(row.total)
    if lines and row.lines:
        ordered = orjson.loads(row.lines)
        share = 0
        for line in lines:
            for o in ordered:
                if o["sku"] == line.sku and o["quantity"] > 0:
                    share += o["eligible"] * min(line.quantity, o["quantity"]) // o["quantity"]
                    break
        return share
    if amount is not None:
        return eligible if total <= 0 else eligible * min(max(amount, 0), total) // total
    return eligible


# --- spending ------------------------------------------------------------------------------------------------------
def _voucher_code() -> str:
    return "V-" + random_code(10)


def redeem(
    books: Books,
    ctx: Context,
    member_id: str,
    reward_id: str,
    *,
    quantity: int = 1,
    key: str | None,
    now: dt.datetime,
) -> Result:
    reward = ctx.program.reward(reward_id)
    if reward is None:
        known = ", ".join(r.id for r in ctx.program.rewards) or "none"
        raise NotFound(f"no reward {reward_id!r} in the catalogue (rewards: {known})")
    if quantity < 1:
        raise InvalidInput("must be at least 1", field="quantity")
    member = books.member(member_id)
    member_id = member.member_id
    if key is not None and (seen := books.existing(f"redeem:{key}")) is not None:
        return _result_of(seen)
    _, lots = settled(books, ctx, member_id, now)
    if reward.per_member is not None:
        taken = _member_redemptions(books, member_id, reward.id)
        if taken + quantity > reward.per_member:
            raise Refused(f"reward {reward.id}: at most {reward.per_member} per member ({taken} already redeemed)")
    if reward.stock is not None:
        issued = books.counter(f"reward:{reward.id}")
        if issued + quantity > reward.stock:
            raise Refused(f"reward {reward.id} is out of stock ({max(reward.stock - issued, 0)} left)")
    points = reward.points * quantity
    try:
        draws = plan_spend(books.views(lots), points, ctx.lot_order)
    except NotEnoughPoints as exc:
        pending = int(books.member(member_id).pending)
        extra = f" ({pending:,} more are pending and not yet spendable)" if pending else ""
        raise Refused(f"not enough points for {reward.name}: {exc}{extra}") from None
    reason = f"redeemed {quantity} x {reward.name}" if quantity > 1 else f"redeemed {reward.name}"
    detail: dict[str, Any] = {"reward_id": reward.id, "quantity": quantity}
    entry_id = books.entry(
        member_id, "redeem", at=now, points=points, reason=reason, key=f"redeem:{key}" if key else None, detail=detail
    )
    books.post(entry_id, books.draw(entry_id, member_id, draws, "redeemed"))
    if reward.stock is not None:
        books.count(f"reward:{reward.id}", quantity)
    codes = _issue(books, ctx, reward, member_id, entry_id, points, quantity, now)
    detail["redemptions"] = codes
    _SET_DETAIL.execute(books.conn, {"b_entry_id": entry_id, "b_detail": orjson.dumps(detail).decode()})
    return Result(member_id, entry_id, points, reason, detail=detail)


def _member_redemptions(books: Books, member_id: str, reward_id: str) -> int:
    return int(_MEMBER_REDEMPTIONS.scalar(books.conn, {"b_member_id": member_id, "b_reward_id": reward_id}) or 0)


def _issue(
    books: Books,
    ctx: Context,
    reward: Reward,
    member_id: str,
    entry_id: int,
    points: int,
    quantity: int,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    out = []
    for _ in range(quantity):
        code = _voucher_code() if reward.voucher else None
        value = reward.voucher.value * 10 ** exponent(ctx.program.currency) if reward.voucher else None
        valid_until = now + dt.timedelta(days=reward.voucher.valid_days) if reward.voucher else None
        redemption_id = _NEW_REDEMPTION.new_id(
            books.conn,
            {
                "member_id": member_id,
                "reward_id": reward.id,
                "points": points // quantity,
                "entry_id": entry_id,
                "status": "issued",
                "voucher_code": code,
                "value": value,
                "currency": ctx.program.currency if reward.voucher else None,
                "valid_until": valid_until,
                "created_at": now,
            },
        )
        out.append(
            {
                "redemption_id": redemption_id,
                "voucher_code": code,
                "value": value,
                "valid_until": valid_until.isoformat() if valid_until else None,
            }
        )
    return out


def cancel_redemption(books: Books, ctx: Context, redemption_id: int, *, now: dt.datetime) -> Result:
    """Give the points of an unspent redemption back, into the lots they came from."""
    row = books.conn.execute(select(loyalty_redemptions).where(loyalty_redemptions.c.id == redemption_id)).one_or_none()
    if row is None:
        raise NotFound(f"no redemption {redemption_id}")
    member = books.member(row.member_id)
    member_id = member.member_id
    row = books.conn.execute(select(loyalty_redemptions).where(loyalty_redemptions.c.id == redemption_id)).one()
    key = f"cancel:{redemption_id}"
    if (seen := books.existing(key)) is not None:
        return _result_of(seen)
    if row.status == "spent":
        raise Refused(f"redemption {redemption_id}: voucher {row.voucher_code} was already spent ({row.spent_order})")
    points = int(row.points)
    reason = f"cancelled redemption {redemption_id} ({row.reward_id}): {points:,} points given back"
    entry_id = books.entry(member_id, "cancel", at=now, points=points, reason=reason, key=key, ref=int(row.entry_id))
    # Back into the lots the redemption drew from, the soonest-expiring last (they were drawn first).
    left = points
    draws = sorted(books.draws_of(int(row.entry_id)), key=lambda d: -d.id)
    restored = []
    already = _restored(books, int(row.entry_id))
    for d in draws:
        room = int(d.amount) - already.get(int(d.lot_id), 0)
        take = min(room, left)
        if take > 0:
            restored.append(Draw(int(d.lot_id), "redeemed", take))
            left -= take
        if left == 0:
            break
    for back in restored:
        books.conn.execute(
            update(loyalty_lots)
            .where(loyalty_lots.c.id == back.lot_id)
            .values(remaining=loyalty_lots.c.remaining + back.amount)
        )
        lot = books.conn.execute(select(loyalty_lots.c.state).where(loyalty_lots.c.id == back.lot_id)).one()
        if lot.state == "expired":
            # Expired while redeemed: the points come back active and the settle below expires them again.
            books.conn.execute(update(loyalty_lots).where(loyalty_lots.c.id == back.lot_id).values(state="active"))
    books.forget_settle_due(member_id)  # restored lots may be active again, and due
    if restored:
        books.conn.execute(
            insert(loyalty_draws),
            [{"entry_id": entry_id, "lot_id": r.lot_id, "account": "active", "amount": -r.amount} for r in restored],
        )
    postings = [Posting(member_id, "redeemed", -points), Posting(member_id, "active", points)]
    books.post(entry_id, postings)
    books.conn.execute(
        update(loyalty_redemptions)
        .where(loyalty_redemptions.c.id == redemption_id)
        .values(status="cancelled", cancelled_at=now)
    )
    reward = ctx.program.reward(row.reward_id)
    if reward is not None and reward.stock is not None:
        books.counter(f"reward:{reward.id}")
        books.count(f"reward:{reward.id}", -1)
    settle(books, ctx, member_id, now)
    return Result(member_id, entry_id, points, reason, detail={"redemption_id": redemption_id})


def _restored(books: Books, redeem_entry_id: int) -> dict[int, int]:
    """Points already put back per lot by earlier cancellations of the same redemption entry's units."""
    cancels = books.conn.execute(
        select(loyalty_entries.c.id).where(
            loyalty_entries.c.kind == "cancel", loyalty_entries.c.ref_entry_id == redeem_entry_id
        )
    ).scalars()
    out: dict[int, int] = {}
    for cancel_id in cancels:
        for d in books.draws_of(int(cancel_id)):
            out[int(d.lot_id)] = out.get(int(d.lot_id), 0) - int(d.amount)
    return out


def voucher(books: Books, code: str) -> Any:
    row = books.conn.execute(
        select(loyalty_redemptions).where(loyalty_redemptions.c.voucher_code == code.strip().upper())
    ).one_or_none()
    if row is None:
        raise NotFound(f"no voucher {code!r}")
    return row


def spend_voucher(
    books: Books, ctx: Context, code: str, order_ref: str, *, now: dt.datetime, member_id: str | None = None
) -> Any:
    row = voucher(books, code)
    books.member(row.member_id)  # lock the owner: a cancel and a spend of one voucher never both succeed
    row = voucher(books, code)
    if row.status == "spent":
        if row.spent_order == order_ref:
            return row
        raise Refused(f"voucher {row.voucher_code} was already spent on {row.spent_order}")
    if row.status == "cancelled":
        raise Refused(f"voucher {row.voucher_code} was cancelled")
    if row.valid_until is not None and row.valid_until < now:
        raise Refused(f"voucher {row.voucher_code} expired on {row.valid_until.date().isoformat()}")
    if member_id is not None and books.member(row.member_id).member_id != books.member(member_id).member_id:
        raise Refused(f"voucher {row.voucher_code} belongs to another member")
    books.conn.execute(
        update(loyalty_redemptions)
        .where(loyalty_redemptions.c.id == row.id)
        .values(status="spent", spent_at=now, spent_order=order_ref)
    )
    return voucher(books, code)


def _reinstate_voucher(books: Books, code: str, order_ref: str, now: dt.datetime) -> str:
    row = voucher(books, code)
    if row.status != "spent" or row.spent_order != order_ref:
        # Given back by an earlier refund of this order (and maybe spent again since): not this refund's to give.
        return f"voucher {code} paid part of this order and was already given back"
    if row.valid_until is not None and row.valid_until < now:
        return f"voucher {code} paid part of this order; it has expired and is not given back"
    books.conn.execute(
        update(loyalty_redemptions)
        .where(loyalty_redemptions.c.id == row.id)
        .values(status="issued", spent_at=None, spent_order=None)
    )
    return f"voucher {code} paid part of this order and can be used again"


def adjust(
    books: Books, ctx: Context, member_id: str, points: int, reason: str, *, key: str | None, now: dt.datetime
) -> Result:
    """A manual correction with a reason: added points are active at once; removed points leave active ones."""
    if not reason.strip():
        raise InvalidInput("an adjustment needs a reason", field="reason")
    if points == 0:
        raise InvalidInput("must not be 0", field="points")
    member = books.member(member_id)
    member_id = member.member_id
    full_key = f"adjust:{key}" if key else None
    if full_key and (seen := books.existing(full_key)) is not None:
        return _result_of(seen)
    settle(books, ctx, member_id, now)
    text = f"manual adjustment: {reason.strip()}"
    if points > 0:
        entry_id = books.entry(member_id, "adjust", at=now, points=points, reason=text, key=full_key)
        version = ctx.program.version_at(now.astimezone(ctx.zone).date())
        months = version.expiry.months if version is not None and version.expiry is not None else None
        books.new_lot(
            member_id,
            entry_id,
            points=points,
            state="active",
            earned_at=now,
            activates_at=None,
            expires_at=expiry_after(now, months, ctx.zone) if months else None,
        )
        books.post(entry_id, [Posting(member_id, "program.adjustments", -points), Posting(member_id, "active", points)])
        return Result(member_id, entry_id, points, text)
    try:
        draws = plan_spend(books.views(books.lots(member_id)), -points, ctx.lot_order)
    except NotEnoughPoints as exc:
        raise Refused(f"cannot remove {-points:,} points: {exc}") from None
    entry_id = books.entry(member_id, "adjust", at=now, points=points, reason=text, key=full_key)
    books.post(entry_id, books.draw(entry_id, member_id, draws, "reversed"))
    return Result(member_id, entry_id, points, text)


def transfer(
    books: Books, ctx: Context, sender: str, receiver: str, points: int, *, key: str | None, now: dt.datetime
) -> Result:
    """Move active points between members, all or nothing; the lots keep their expiry dates."""
    if not ctx.program.transfers:
        raise Refused("member-to-member transfers are off in this program (transfers: true turns them on)")
    if points <= 0:
        raise InvalidInput("must be a positive number of points", field="points")
    books.lock_members([sender, receiver])
    sender_id, receiver_id = books.member(sender).member_id, books.member(receiver).member_id
    if sender_id == receiver_id:
        raise InvalidInput("a member cannot transfer points to itself", field="to")
    full_key = f"transfer:{key}" if key else None
    if full_key and (seen := books.existing(full_key)) is not None:
        return _result_of(seen)
    settle(books, ctx, sender_id, now)
    lots = books.lots(sender_id)
    try:
        draws = plan_spend(books.views(lots), points, ctx.lot_order)
    except NotEnoughPoints as exc:
        raise Refused(f"cannot transfer {points:,} points: {exc}") from None
    reason = f"transfer of {points:,} points from {sender_id} to {receiver_id}"
    entry_id = books.entry(
        sender_id, "transfer", at=now, points=points, reason=reason, key=full_key, detail={"to": receiver_id}
    )
    postings = books.draw(entry_id, sender_id, draws, "active")
    # The sender's active -> active posting nets to nothing on its own side; the points move to the receiver.
    postings = [p for p in postings if p.account != "active" or p.amount < 0]
    postings.append(Posting(receiver_id, "active", points))
    by_id = {lot.id: lot for lot in lots}
    for d in draws:
        lot = by_id[d.lot_id]
        books.new_lot(
            receiver_id,
            entry_id,
            points=d.amount,
            state="active",
            earned_at=lot.earned_at,
            activates_at=None,
            expires_at=lot.expires_at,
        )
    books.post(entry_id, postings)
    return Result(sender_id, entry_id, points, reason, detail={"to": receiver_id})


# --- identity merges -----------------------------------------------------------------------------------------------
def merge_members(
    books: Books, ctx: Context, survivor: str, merged: str, *, now: dt.datetime, why: str
) -> Result | None:
    """Fold ``merged``'s account into ``survivor``'s: balances by postings, lots keep their dates and origin."""
    books.lock_members([survivor, merged])
    a, b = books.member(survivor), books.member(merged)
    if a.member_id == b.member_id:
        return None
    balances = {
        acct: int(b._mapping[acct]) for acct in ("pending", "active", "redeemed", "expired", "reversed", "debt")
    }
    reason = f"account {b.member_id} merged into {a.member_id}: {why}"
    entry_id = books.entry(
        a.member_id,
        "merge",
        at=now,
        points=balances["pending"] + balances["active"],
        reason=reason,
        key=f"merge:{b.member_id}",
        detail={"merged": b.member_id, "balances": balances},
    )
    postings = []
    for acct, amount in balances.items():
        postings += [Posting(b.member_id, acct, -amount), Posting(a.member_id, acct, amount)]
    books.post(entry_id, postings)
    for table in (loyalty_lots, loyalty_spend, loyalty_orders, loyalty_redemptions):
        books.conn.execute(update(table).where(table.c.member_id == b.member_id).values(member_id=a.member_id))
    books.forget_settle_due(a.member_id)
    books.conn.execute(
        update(loyalty_members)
        .where(loyalty_members.c.member_id == b.member_id)
        .values(status="merged", merged_into=a.member_id, updated_at=now)
    )
    first = [x for x in (a.first_order_at, b.first_order_at) if x is not None]
    books.conn.execute(
        update(loyalty_members)
        .where(loyalty_members.c.member_id == a.member_id)
        .values(first_order_at=min(first) if first else None, birth_month=a.birth_month or b.birth_month)
    )
    review_tier(books, ctx, a.member_id, now)
    settle(books, ctx, a.member_id, now)
    return Result(a.member_id, entry_id, balances["pending"] + balances["active"], reason)


def unmerge_members(books: Books, ctx: Context, survivor: str, split: str, *, now: dt.datetime) -> Result | None:
    """Give ``split`` back its lots (by their origin) with their remaining points; the rest stays."""
    row = books.conn.execute(select(loyalty_members).where(loyalty_members.c.member_id == split)).one_or_none()
    if row is None or row.status != "merged":
        return None
    a = books.member(survivor)
    books.conn.execute(
        update(loyalty_members).where(loyalty_members.c.member_id == split).values(status="active", merged_into=None)
    )
    lots = list(
        books.conn.execute(
            select(loyalty_lots).where(
                loyalty_lots.c.member_id == a.member_id, loyalty_lots.c.origin_member_id == split
            )
        )
    )
    moved = {"pending": 0, "active": 0}
    for lot in lots:
        if lot.state in moved:
            moved[lot.state] += int(lot.remaining)
    reason = (
        f"account {split} split from {a.member_id}: its own lots go back with {sum(moved.values()):,} unspent points"
    )
    entry_id = books.entry(
        split, "unmerge", at=now, points=sum(moved.values()), reason=reason, detail={"from": a.member_id}
    )
    postings = []
    for acct, amount in moved.items():
        postings += [Posting(a.member_id, acct, -amount), Posting(split, acct, amount)]
    books.post(entry_id, postings)
    books.conn.execute(
        update(loyalty_lots)
        .where(loyalty_lots.c.member_id == a.member_id, loyalty_lots.c.origin_member_id == split)
        .values(member_id=split)
    )
    books.forget_settle_due(a.member_id, split)
    for table in (loyalty_spend,):
        books.conn.execute(
            update(table)
            .where(table.c.member_id == a.member_id, table.c.origin_member_id == split)
            .values(member_id=split)
        )
    books.conn.execute(
        update(loyalty_orders)
        .where(
            loyalty_orders.c.member_id == a.member_id,
            loyalty_orders.c.entry_id.in_(select(loyalty_entries.c.id).where(loyalty_entries.c.member_id == split)),
        )
        .values(member_id=split)
    )
    for member_id in (a.member_id, split):
        review_tier(books, ctx, member_id, now)
    return Result(split, entry_id, sum(moved.values()), reason)


def expiring(books: Books, member_id: str, now: dt.datetime, days: int) -> int:
    until = now + dt.timedelta(days=days)
    query = select(func.coalesce(func.sum(loyalty_lots.c.remaining), 0)).where(
        loyalty_lots.c.member_id == member_id,
        loyalty_lots.c.state.in_(("pending", "active")),
        loyalty_lots.c.expires_at <= until,
    )
    return int(books.conn.execute(query).scalar_one())


def _aims_at_segments(ctx: Context) -> bool:
    return any(c.segments for version in ctx.program.versions for c in version.campaigns)


def _segments_of(books: Books, profile_id: str) -> frozenset[str]:
    """The segments the profile is in now (built, or decided in real time)."""
    query = select(segment_memberships.c.segment).where(
        segment_memberships.c.profile_id == profile_id, segment_memberships.c.exited_at.is_(None)
    )
    return frozenset(books.conn.execute(query).scalars())
