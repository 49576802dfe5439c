"""The loyalty API: members, orders and refunds from a till, redemptions and vouchers, corrections, reports.

Scopes: reading needs `read`; recording orders, refunds, enrolments, redemptions and voucher use needs `write`;
adjustments, transfers and running the schedule need `admin`. A member may be named by a profile id, a member id
or an identifier such as `email:lan@example.vn` (URL-encoded in a path). Amounts in requests are in major units,
as Segment clients send them (`12.5` USD, `1250000` VND); amounts in answers are integer minor units with their
currency. Business refusals (not enough points, out of stock, a spent voucher) answer 409; unknown members,
rewards and vouchers 404; a missing or invalid `loyalty.yaml` answers 500 `config_error` naming the key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from threading import Lock
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from c360.api.deps import AdminKey, ReadKey, WorkspaceDep, quick_read, require
from c360.domain.money import to_minor
from c360.errors import ConfigError, InvalidInput, NotFound
from c360.loyalty.program import Program, ProgramError, load_program
from c360.loyalty.rules import Order, OrderLine
from c360.services.keys import ApiKey
from c360.services.loyalty import Loyalty, RefundLine, Result, program_path, reports
from c360.services.loyalty.enrolment import enrol_later, enrols_later
from c360.services.loyalty.members import profile_for
from c360.store.schema import loyalty_orders
from c360.store.types import utcnow
from c360.workspace import Workspace

router = APIRouter(prefix="/v1/loyalty", tags=["loyalty"])

WriteKey = Annotated[ApiKey, require("write")]

# --- the program, per request, parsed again only when the file changes ---------------------------------------------
_programs: dict[Path, tuple[tuple[int, int], Program]] = {}
_programs_lock = Lock()


def _program(ws: Workspace) -> Program:
    path = program_path(ws)
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    with _programs_lock:
        cached = _programs.get(path)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
    try:
        program = load_program(path)
    except ProgramError as exc:
        # The file is the operator's configuration, not the caller's input: a 500 that names the key.
        raise ConfigError(f"the loyalty program cannot be used: {exc.message}") from None
    if stamp is not None:
        with _programs_lock:
            _programs[path] = (stamp, program)
    return program


async def get_loyalty(request: Request, workspace: WorkspaceDep) -> Loyalty:
    """The workspace's loyalty service. Tests may set ``app.state.loyalty_clock`` to move time.

    async: a plain def dependency is handed to the thread pool and back, which costs more than a stat of the
    program file and building the service."""
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "loyalty_clock", utcnow)
    settings = workspace.settings
    return Loyalty(
        workspace.store, _program(workspace), settings.zone, lot_order=settings.loyalty_lot_order, clock=clock
    )


LoyaltyDep = Annotated[Loyalty, Depends(get_loyalty)]


# --- naming members --------------------------------------------------------------------------------------------------
def _profile_id(loyalty: Loyalty, ws: Workspace, member: str, *, field: str = "member") -> str:
    """The profile an order or an enrolment is for: a member's profile, a profile id, or an identifier's."""
    text = member.strip()
    if ":" not in text and text:
        row = loyalty.member_named(text)
        if row is not None:
            return str(row.profile_id)
    return profile_for(ws.store, ws.settings, text, field=field)


def _member_id(loyalty: Loyalty, ws: Workspace, member: str, *, field: str = "member") -> str:
    """The (surviving) member id that ``member`` names; NotFound when it names no member."""
    text = member.strip()
    if ":" not in text and text:
        try:
            return loyalty.member_id_for(text)
        except NotFound:
            pass
    return loyalty.member_id_for(profile_for(ws.store, ws.settings, text, field=field))


def _result(result: Result) -> dict[str, Any]:
    return {
        "member_id": result.member_id,
        "entry_id": result.entry_id,
        "points": result.points,
        "reason": result.reason,
        "duplicate": result.duplicate,
        "detail": result.detail,
    }


# --- bodies ----------------------------------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Member = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        description="A profile id, a member id, or `type:value` (`email:lan@example.vn`, `phone:0912345678`, "
        "`user_id:u-1`, `anonymous_id:...`, `loyalty_card:SV1`).",
    ),
]
Key = Annotated[str, Field(min_length=1, max_length=200, description="The same key twice changes things once.")]
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, description="Major units: 12.5 USD, 1250000 VND.")]


class Enrol(_Body):
    member: Member
    birth_month: Annotated[int, Field(ge=1, le=12)] | None = None
    referral_code: Annotated[str, Field(min_length=1, max_length=20)] | None = None


class Product(_Body):
    sku: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    category: Annotated[str, Field(max_length=200)] | None = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    price: Amount = Field(description="The unit price in major units.")


class PosOrder(_Body):
    source: Annotated[str, Field(min_length=1, max_length=100)]
    order_id: Annotated[str, Field(min_length=1, max_length=200)]
    member: Member
    timestamp: AwareDatetime = Field(description="When the order was placed, with its UTC offset.")
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    total: Amount = Field(description="What the customer paid, with shipping and tax, after discounts.")
    shipping: Amount = Decimal(0)
    tax: Amount = Decimal(0)
    products: list[Product] = []
    voucher_code: Annotated[str, Field(min_length=1, max_length=40)] | None = None


class ReturnedProduct(_Body):
    sku: Annotated[str, Field(min_length=1, max_length=200)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


class Refund(_Body):
    source: Annotated[str, Field(min_length=1, max_length=100)]
    order_id: Annotated[str, Field(min_length=1, max_length=200)]
    refund_id: Annotated[str, Field(min_length=1, max_length=200)]
    amount: Amount | None = Field(default=None, description="Refunded amount (major units); none: the whole order.")
    products: list[ReturnedProduct] = []
    timestamp: AwareDatetime | None = None


class Redeem(_Body):
    member: Member
    reward_id: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=100)] = 1
    idempotency_key: Key | None = None


class Spend(_Body):
    order_ref: Annotated[str, Field(min_length=1, max_length=300)]


class Adjustment(_Body):
    member: Member
    points: Annotated[int, Field(ge=-10_000_000_000, le=10_000_000_000)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    idempotency_key: Key | None = None


class Transfer(_Body):
    sender: Member = Field(alias="from")
    receiver: Member = Field(alias="to")
    points: Annotated[int, Field(gt=0, le=10_000_000_000)]
    idempotency_key: Key | None = None


# --- members ---------------------------------------------------------------------------------------------------------
@router.post("/members", status_code=201)
def enrol(
    body: Enrol, response: Response, workspace: WorkspaceDep, _key: WriteKey, loyalty: LoyaltyDep
) -> dict[str, Any]:
    """Enrol a profile (201); one that is a member already answers 200 with its state, unchanged. An identifier
    that no profile holds yet (`phone:0912...` of a new customer at a till) answers 202: the enrolment is logged
    durably and the event processor enrols the profile the identity graph gives it, usually within a second."""
    try:
        profile_id = _profile_id(loyalty, workspace, body.member)
    except NotFound:
        if not enrols_later(body.member):
            raise
        pending = enrol_later(workspace, body.member, birth_month=body.birth_month, referral_code=body.referral_code)
        response.status_code = 202
        return {
            "status": "pending",
            "message_id": pending.message_id,
            "identifier": {"type": pending.id_type, "value": pending.id_value},
            "detail": f"no profile had {pending.id_type} {pending.id_value}: the enrolment is logged and completes "
            "when the event processor has stitched it",
        }
    try:
        loyalty.member_id_for(profile_id)
        response.status_code = 200
    except NotFound:
        pass
    member_id = loyalty.enrol(profile_id, birth_month=body.birth_month, referral_code=body.referral_code)
    return loyalty.state(member_id)


@router.get("/members/{member:path}")
def member_state(
    member: str,
    workspace: WorkspaceDep,
    _key: ReadKey,
    loyalty: LoyaltyDep,
    limit: Annotated[int, Query(ge=1, le=500, description="History entries per page.")] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Points by state, the available balance, tier and the spend to the next one, points expiring within 30, 60
    and 90 days, and the history (newest first) with the reason of every change."""
    return loyalty.state(_member_id(loyalty, workspace, member), history=limit, offset=offset)


# --- orders and refunds ----------------------------------------------------------------------------------------------
def _minor(amount: Decimal, currency: str, field: str) -> int:
    try:
        return to_minor(amount, currency)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None


@router.post("/orders")
async def record_order(body: PosOrder, workspace: WorkspaceDep, _key: WriteKey, loyalty: LoyaltyDep) -> dict[str, Any]:
    """Points for an order from a till or a shop (the member is enrolled first when the program auto-enrols).
    The same `source` and `order_id` twice earn once: the second answer has `duplicate` true."""
    # async, like the redemption below: the member is named by a few quick reads, and the order waits for its
    # group commit without holding a thread (a till's order is the API's most frequent write).
    currency = body.currency.upper()
    lines = tuple(
        OrderLine(
            p.sku,
            p.category,
            p.quantity,
            _minor(p.price, currency, f"products.{i}.price") * p.quantity,
        )
        for i, p in enumerate(body.products)
    )
    order = Order(
        body.order_id,
        body.timestamp.astimezone(dt.UTC),
        currency,
        _minor(body.total, currency, "total"),
        shipping=_minor(body.shipping, currency, "shipping"),
        tax=_minor(body.tax, currency, "tax"),
        lines=lines,
    )
    profile_id = await quick_read(workspace, _profile_id, loyalty, workspace, body.member)
    return _result(await loyalty.order_async(body.source, order, profile_id, voucher_code=body.voucher_code))


@router.post("/refunds")
def record_refund(body: Refund, _key: WriteKey, loyalty: LoyaltyDep) -> dict[str, Any]:
    """Take back the refunded share of an order's points: by the returned products when given, else by the
    amount's share of the order total, else the whole order. Idempotent on `refund_id`."""
    amount = None
    if body.amount is not None:
        with loyalty.store.read() as conn:
            currency = conn.execute(
                select(loyalty_orders.c.currency).where(
                    loyalty_orders.c.source == body.source, loyalty_orders.c.order_id == body.order_id
                )
            ).scalar_one_or_none()
        amount = _minor(body.amount, currency or loyalty.program.currency, "amount")
    return _result(
        loyalty.refund(
            body.source,
            body.order_id,
            body.refund_id,
            amount=amount,
            lines=[RefundLine(p.sku, p.quantity) for p in body.products],
            at=body.timestamp.astimezone(dt.UTC) if body.timestamp else None,
        )
    )


# --- rewards, redemptions and vouchers -------------------------------------------------------------------------------
@router.get("/rewards")
def rewards(_key: ReadKey, loyalty: LoyaltyDep) -> dict[str, Any]:
    """The catalogue: each reward's price in points, voucher value (minor units) and the stock left."""
    return {"currency": loyalty.program.currency, "rewards": reports.catalogue(loyalty)}


@router.post("/redemptions", status_code=201)
async def redeem(
    body: Redeem, response: Response, workspace: WorkspaceDep, _key: WriteKey, loyalty: LoyaltyDep
) -> dict[str, Any]:
    """Spend active points on a reward (201 with the voucher codes). Repeating an `idempotency_key` answers the
    first redemption again (200, `duplicate` true)."""
    member_id = await quick_read(workspace, _member_id, loyalty, workspace, body.member)
    result = await loyalty.redeem_async(member_id, body.reward_id, quantity=body.quantity, key=body.idempotency_key)
    if result.duplicate:
        response.status_code = 200
    return {**_result(result), "redemptions": result.detail.get("redemptions", [])}


@router.post("/redemptions/{redemption_id}/cancel")
def cancel_redemption(
    redemption_id: Annotated[int, PathParam(ge=1)], _key: WriteKey, loyalty: LoyaltyDep
) -> dict[str, Any]:
    """Give an unspent redemption's points back (409 when its voucher was spent). Cancelling twice changes once."""
    return _result(loyalty.cancel_redemption(redemption_id))


@router.get("/vouchers/{code}")
def voucher(code: str, _key: ReadKey, loyalty: LoyaltyDep) -> dict[str, Any]:
    """A voucher: its owner, value, status, validity and whether it can be used now."""
    return loyalty.voucher(code)


@router.post("/vouchers/{code}/spend")
def spend_voucher(code: str, body: Spend, _key: WriteKey, loyalty: LoyaltyDep) -> dict[str, Any]:
    """Mark a voucher used on an order (409 when it was spent on another order, cancelled or expired; the same
    order twice is fine)."""
    return loyalty.spend_voucher(code, body.order_ref)


# --- corrections (admin) ---------------------------------------------------------------------------------------------
@router.post("/adjustments")
def adjust(body: Adjustment, workspace: WorkspaceDep, _key: AdminKey, loyalty: LoyaltyDep) -> dict[str, Any]:
    """A manual correction with a reason: added points are active at once, removed ones leave active points."""
    member_id = _member_id(loyalty, workspace, body.member)
    return _result(loyalty.adjust(member_id, body.points, body.reason, key=body.idempotency_key))


@router.post("/transfers")
def transfer(body: Transfer, workspace: WorkspaceDep, _key: AdminKey, loyalty: LoyaltyDep) -> dict[str, Any]:
    """Move active points from one member to another, all or nothing (when the program allows transfers)."""
    sender = _member_id(loyalty, workspace, body.sender, field="from")
    receiver = _member_id(loyalty, workspace, body.receiver, field="to")
    return _result(loyalty.transfer(sender, receiver, body.points, key=body.idempotency_key))


@router.post("/run-schedule")
def run_schedule(_key: AdminKey, loyalty: LoyaltyDep) -> dict[str, int]:
    """Activate due points, expire due points and review tiers for every member, now. Safe to repeat."""
    return loyalty.run_schedule()


# --- reports ---------------------------------------------------------------------------------------------------------
@router.get("/reports/summary")
def summary(
    _key: ReadKey,
    loyalty: LoyaltyDep,
    expiring_days: Annotated[int, Query(ge=1, le=3650)] = 30,
    limit: Annotated[int, Query(ge=1, le=1000, description="Members listed as expiring, at most.")] = 50,
) -> dict[str, Any]:
    """Points outstanding and their liability in money, issued / redeemed / expired / reversed, breakage and
    redemption rates, tier distribution and movement, and the members whose points expire soon."""
    return reports.summary(loyalty, expiring_days=expiring_days, limit=limit)
