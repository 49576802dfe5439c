"""The event processor's loyalty handler: orders earn, refunds reverse, event rules pay, enrolments of new
customers (``Loyalty Member Enrolled``, services.loyalty.enrolment) enrol, identity merges fold accounts
together — inside the processor's transaction, after the identity handler has stitched the batch.

An order's member is the profile its identifiers belong to once stitched (user id first, then email, phone ...).
Money arrives in major units as Segment clients send it (``total: 1250000`` VND, ``19.99`` USD) and is turned
into minor units here. An event that cannot earn (no order id, no identifiable customer, a refund of an order
that earned nothing) is skipped: the stream never stalls on loyalty.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, exists, select

from c360.domain.money import to_minor
from c360.errors import InvalidInput, NotFound
from c360.identity.extract import Extractor
from c360.loyalty.rules import Order, OrderLine
from c360.services.loyalty import operations as ops
from c360.services.loyalty.books import Books
from c360.services.loyalty.enrolment import ENROLLED
from c360.services.loyalty.operations import Context, RefundLine
from c360.services.profiles import current_profile_id
from c360.store.schema import identity_merges, identity_nodes, identity_profiles, loyalty_members

if TYPE_CHECKING:
    from c360.processor.processor import ProcessedEvent

log = logging.getLogger(__name__)

ORDER_COMPLETED = "Order Completed"
ORDER_REFUNDED = "Order Refunded"


class LoyaltyHandler:
    name = "loyalty"

    def __init__(self, ctx: Context, extractor: Extractor, default_currency: str) -> None:
        self.ctx = ctx
        self.extractor = extractor
        self.default_currency = default_currency
        self.rule_events = {rule.event for version in ctx.program.versions for rule in version.events}

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        self.handle_batch(conn, [event])

    def handle_batch(self, conn: Connection, events: Sequence[ProcessedEvent]) -> None:
        books = Books(conn)
        follow_identity(books, self.ctx)
        for event in events:
            if event.type != "track":
                continue
            message = event.message
            name = message.get("event")
            if name == ORDER_COMPLETED:
                self._order(books, event)
            elif name == ORDER_REFUNDED:
                self._refund(books, event)
            elif name == ENROLLED:
                self._enrol(books, event)
            elif name in self.rule_events:
                profile_id = self._profile(conn, message)
                if profile_id is not None:
                    ops.record_event(
                        books, self.ctx, event.source, event.raw.message_id, str(name), profile_id, event.timestamp,
                        books.now,
                    )  # fmt: skip

    def _profile(self, conn: Connection, message: dict[str, Any], *, skip: tuple[str, ...] = ()) -> str | None:
        for occurrence in self.extractor(message).occurrences:
            if occurrence.id_type in skip:
                continue
            row = conn.execute(
                select(identity_nodes.c.profile_id).where(
                    identity_nodes.c.id_type == occurrence.id_type,
                    identity_nodes.c.id_value == occurrence.id_value,
                    identity_nodes.c.held_reason.is_(None),
                )
            ).first()
            if row is not None and row.profile_id is not None:
                return str(row.profile_id)
        return None

    def _enrol(self, books: Books, event: ProcessedEvent) -> None:
        """An enrolment by an identifier no profile held when it was asked for (services.loyalty.enrolment):
        stitched by now, so its profile is the identifier's (not the one-off anonymous id the event carries)."""
        profile_id = self._profile(books.conn, event.message, skip=("anonymous_id",))
        if profile_id is None:  # its identifier is held back (a shared phone): no one person to enrol
            log.info("enrolment %s names no single profile: skipped", event.raw.message_id)
            return
        props = event.message.get("properties") or {}
        month = props.get("birthMonth")
        birth_month = month if isinstance(month, int) and 1 <= month <= 12 else None
        code = props.get("referralCode") if isinstance(props.get("referralCode"), str) else None
        try:
            ops.enrol(books, self.ctx, profile_id, birth_month=birth_month, referral_code=code or None)
        except InvalidInput:  # the referral code was checked when asked; should its member be gone, enrol alone
            ops.enrol(books, self.ctx, profile_id, birth_month=birth_month)

    def _order(self, books: Books, event: ProcessedEvent) -> None:
        props = event.message.get("properties") or {}
        order = self._parse_order(props, event)
        if order is None:
            return
        profile_id = self._profile(books.conn, event.message)
        if profile_id is None:
            return
        # NotFound: not a member, and the program does not enrol automatically
        with contextlib.suppress(NotFound):
            ops.record_order(books, self.ctx, event.source, order, profile_id, now=books.now)

    def _parse_order(self, props: dict[str, Any], event: ProcessedEvent) -> Order | None:
        order_id = props.get("order_id")
        currency = str(props.get("currency") or self.default_currency).upper()
        amount = props.get("total", props.get("revenue"))
        if not order_id or amount is None:
            return None
        try:
            lines = tuple(
                OrderLine(
                    str(p.get("sku") or p.get("product_id") or ""),
                    p.get("category"),
                    int(p.get("quantity") or 1),
                    to_minor(p.get("price") or 0, currency) * int(p.get("quantity") or 1),
                )
                for p in props.get("products") or []
                if isinstance(p, dict)
            )
            return Order(
                str(order_id),
                event.timestamp,
                currency,
                to_minor(amount, currency),
                shipping=to_minor(props.get("shipping") or 0, currency),
                tax=to_minor(props.get("tax") or 0, currency),
                lines=lines,
            )
        except (ValueError, TypeError):
            log.info("order %s in message %s has unreadable amounts: skipped", order_id, event.raw.message_id)
            return None

    def _refund(self, books: Books, event: ProcessedEvent) -> None:
        props = event.message.get("properties") or {}
        order_id = props.get("order_id")
        if not order_id:
            return
        currency = str(props.get("currency") or self.default_currency).upper()
        try:
            amount = to_minor(props["total"], currency) if props.get("total") is not None else None
            lines = [
                RefundLine(str(p.get("sku") or p.get("product_id")), int(p.get("quantity") or 1))
                for p in props.get("products") or []
                if isinstance(p, dict) and (p.get("sku") or p.get("product_id"))
            ]
            at = event.timestamp
        except (ValueError, TypeError):
            return
        # NotFound: the order earned nothing here (placed before the program, or by an unknown customer)
        with contextlib.suppress(NotFound):
            ops.record_refund(
                books, self.ctx, event.source, str(order_id), event.raw.message_id, amount=amount, lines=lines,
                at=at, now=books.now,
            )  # fmt: skip


def follow_identity(books: Books, ctx: Context) -> None:
    """Members whose profile was merged away join the survivor's account (or move to the survivor's profile);
    a member merged away whose own profile is live again (an unmerge) gets its lots back."""
    conn = books.conn
    moved = conn.execute(
        select(loyalty_members.c.member_id, loyalty_members.c.profile_id).where(
            loyalty_members.c.status == "active",
            ~exists().where(identity_profiles.c.profile_id == loyalty_members.c.profile_id),
            exists().where(identity_merges.c.merged_id == loyalty_members.c.profile_id),
        )
    ).all()
    for member_id, profile_id in moved:
        current = current_profile_id(conn, profile_id)
        if current is None or current == profile_id:
            continue
        survivor = books.member_for_profile(current)
        if survivor is None:
            books.conn.execute(
                loyalty_members.update().where(loyalty_members.c.member_id == member_id).values(profile_id=current)
            )
        else:
            ops.merge_members(books, ctx, survivor.member_id, member_id, now=books.now, why="their profiles merged")
    revived = conn.execute(
        select(loyalty_members.c.member_id, loyalty_members.c.merged_into).where(
            and_(
                loyalty_members.c.status == "merged",
                exists().where(identity_profiles.c.profile_id == loyalty_members.c.member_id),
            )
        )
    ).all()
    for member_id, survivor in revived:
        ops.unmerge_members(books, ctx, survivor, member_id, now=books.now)
