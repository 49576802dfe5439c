"""`c360 loyalty ...`: the loyalty program of a workspace — its program file, members, points, rewards, vouchers,
the daily schedule and the program's report.

MEMBER arguments take a member id, a profile id, or an identifier as ``type:value`` (``email:lan@example.vn``,
``phone:0912 345 678``, ``user_id:u-1``) looked up through the identity map. Amounts on the command line are in
major units of the currency (``1280000`` VND, ``12.50`` USD). Errors print one line and exit non-zero: 2 for a
wrong value, 5 for an unknown member, order, reward or voucher, 6 for an action the member's state refuses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from c360.cli.common import JsonOpt, WorkspaceOpt, open_workspace
from c360.cli.output import out, print_json, progress_bar
from c360.domain.money import format_money, to_minor
from c360.errors import InvalidInput, NotFound
from c360.loyalty.program import PROGRAM_FILE, Program, ProgramError, load_program
from c360.store.types import utcnow

if TYPE_CHECKING:
    from c360.services.loyalty import Loyalty, Result
    from c360.workspace import Workspace

app = typer.Typer(
    help="The loyalty program: its program file, members and points, rewards and vouchers, the schedule, reports.",
    no_args_is_help=True,
)

MemberArg = Annotated[
    str,
    typer.Argument(
        help="A member or profile id, or an identifier type:value (email:..., phone:..., user_id:...).",
        show_default=False,
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="Idempotency key: running again with the same key does nothing twice."),
]


def now() -> dt.datetime:
    """The CLI's clock (tests replace it to move time on)."""
    return utcnow()


def _clock() -> dt.datetime:
    return now()


# --- helpers -----------------------------------------------------------------------------------------------------
def _example_text() -> str:
    return resources.files("c360.loyalty").joinpath("example.yaml").read_text(encoding="utf-8")


def _loyalty(ws: Workspace) -> Loyalty:
    from c360.services.loyalty import Loyalty, program_path

    path = program_path(ws)
    if not path.exists():
        raise ProgramError(f"no loyalty program at {path}: create one with `c360 loyalty init`")
    return Loyalty.for_workspace(ws, clock=_clock)


def _profile_id(ws: Workspace, identifier: str) -> str:
    """The profile an enrol or an order means: ``type:value`` through the identity map; a plain id as the identity
    map knows it (a merged-away id answers as its survivor), or as given when it is no profile there."""
    from c360.services.loyalty.members import profile_for

    text = identifier.strip()
    if ":" in text:
        return profile_for(ws.store, ws.settings, text)
    if not text:
        raise InvalidInput("is empty: give a member or profile id or type:value (email:..., phone:...)", field="member")
    try:
        return profile_for(ws.store, ws.settings, text)
    except NotFound:
        return text


def _member_id(ws: Workspace, loyalty: Loyalty, identifier: str) -> str:
    """The member id MEMBER names; NotFound when it names no member."""
    from c360.services.loyalty.members import profile_for

    text = identifier.strip()
    if ":" in text:
        return loyalty.member_id_for(profile_for(ws.store, ws.settings, text))
    if not text:
        raise InvalidInput("is empty: give a member or profile id or type:value (email:..., phone:...)", field="member")
    try:
        return loyalty.member_id_for(text)
    except NotFound as first:
        try:
            survivor = profile_for(ws.store, ws.settings, text)
        except NotFound:
            raise first from None
        if survivor == text:
            raise
        return loyalty.member_id_for(survivor)


def _minor(value: str, currency: str, field: str) -> int:
    try:
        minor = to_minor(value.strip(), currency)
    except ValueError:
        raise InvalidInput(f"{value!r} is not an amount", field=field) from None
    if minor < 0:
        raise InvalidInput(f"{value!r} must not be negative", field=field)
    return minor


def _time(value: str | None, zone: ZoneInfo, field: str) -> dt.datetime | None:
    """An ISO date or time; one without an offset is the workspace's wall-clock time."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{value!r} is not an ISO date or time (2026-03-10T14:30:00+07:00)", field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


def _local(value: str | None, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).astimezone(zone).strftime(fmt)


def _count(value: str, field: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a whole number", field=field) from None
    if number < 1:
        raise InvalidInput(f"{value!r} must be at least 1", field=field)
    return number


def _order_lines(items: list[str], currency: str) -> tuple[Any, ...]:
    from c360.loyalty.rules import OrderLine

    lines = []
    for item in items:
        sku, sep, rest = item.partition(":")
        parts = rest.rsplit(":", 2)
        if not sep or len(parts) != 3 or not sku.strip():
            raise InvalidInput(
                f"{item!r}: write sku:category:quantity:unit_price (category may be empty)", field="item"
            )
        category, quantity, price = parts
        count = _count(quantity, "item")
        lines.append(OrderLine(sku.strip(), category.strip() or None, count, count * _minor(price, currency, "item")))
    return tuple(lines)


def _refund_lines(items: list[str]) -> list[Any]:
    from c360.services.loyalty import RefundLine

    lines = []
    for item in items:
        sku, sep, quantity = item.rpartition(":")
        if not sep or not sku.strip():
            raise InvalidInput(f"{item!r}: write sku:quantity", field="item")
        lines.append(RefundLine(sku.strip(), _count(quantity, "item")))
    return lines


def _result_json(result: Result) -> dict[str, Any]:
    return dataclasses.asdict(result)


def _print_result(what: str, result: Result) -> None:
    again = " (already recorded: nothing changed)" if result.duplicate else ""
    out.print(f"{what}{again}", soft_wrap=True)
    if result.reason:
        out.print(f"  why: {result.reason}", soft_wrap=True)


def _program_summary(program: Program) -> dict[str, Any]:
    return {
        "name": program.name,
        "currency": program.currency,
        "auto_enrol": program.auto_enrol,
        "transfers": program.transfers,
        "versions": [
            {
                "effective_from": v.effective_from.isoformat(),
                "spend": {"points": v.spend.points, "per": v.spend.per, "min_order": v.spend.min_order},
                "multipliers": [m.name for m in v.multipliers],
                "campaigns": [c.name for c in v.campaigns],
                "events": [e.name for e in v.events],
                "pending_days": v.pending_days,
                "expiry_months": v.expiry.months if v.expiry else None,
            }
            for v in program.versions
        ],
        "tiers": [
            {"name": t.name, "min_spend": t.min_spend, "multiplier": str(t.multiplier)} for t in program.tiers.levels
        ],
        "rewards": [
            {
                "id": r.id,
                "name": r.name,
                "points": r.points,
                "voucher_value": r.voucher.value if r.voucher else None,
                "stock": r.stock,
                "per_member": r.per_member,
            }
            for r in program.rewards
        ],
    }


def _print_program(path: Path, program: Program) -> None:
    money = program.currency
    out.print(f"{path}: {program.name} ({program.currency}) is valid", soft_wrap=True)
    versions = Table(title="Versions", title_justify="left")
    for column in ("from", "spend", "multipliers", "campaigns", "events", "pending", "expiry"):
        versions.add_column(column)
    for v in program.versions:
        versions.add_row(
            v.effective_from.isoformat(),
            f"{v.spend.points} per {v.spend.per:,} {money}",
            str(len(v.multipliers)),
            str(len(v.campaigns)),
            str(len(v.events)),
            f"{v.pending_days} days",
            f"{v.expiry.months} months" if v.expiry else "never",
        )
    out.print(versions)
    tiers = Table(title="Tiers", title_justify="left")
    for column in ("tier", "qualifying spend", "multiplier"):
        tiers.add_column(column)
    for t in program.tiers.levels:
        tiers.add_row(t.name, f"{t.min_spend:,} {money}", f"x{t.multiplier.numerator / t.multiplier.denominator:g}")
    out.print(tiers)
    table = Table(title="Rewards", title_justify="left")
    for column in ("id", "name", "points", "voucher", "stock", "per member"):
        table.add_column(column, justify="right" if column in ("points", "stock", "per member") else "left")
    for r in program.rewards:
        table.add_row(
            r.id,
            r.name,
            f"{r.points:,}",
            f"{r.voucher.value:,} {money}, {r.voucher.valid_days} days" if r.voucher else "",
            "unlimited" if r.stock is None else f"{r.stock:,}",
            str(r.per_member or ""),
        )
    out.print(table)


# --- the program file ---------------------------------------------------------------------------------------------
@app.command("init")
def init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing loyalty.yaml.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the documented example program (Sen Vàng Rewards) to <workspace>/loyalty.yaml, to edit from there."""
    with open_workspace(workspace) as ws:
        path = ws.path / PROGRAM_FILE
        if path.exists() and not force:
            raise InvalidInput(f"{path} already exists: edit it, or use --force to replace it with the example")
        path.write_text(_example_text(), encoding="utf-8")
        program = load_program(path)
    if as_json:
        print_json({"program": str(path), "name": program.name})
    else:
        out.print(f"Wrote the example program {program.name} to {path}; check it with `c360 loyalty check`")


@app.command("check")
def check(
    file: Annotated[
        Path | None, typer.Argument(help="A program file to check (default: the workspace's loyalty.yaml).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a program file and summarise its versions, tiers and rewards; a bad file exits 2 naming the key."""
    if file is None:
        with open_workspace(workspace) as ws:
            file = ws.path / PROGRAM_FILE
    program = load_program(file)
    if as_json:
        print_json({"program": str(file), "valid": True, **_program_summary(program)})
    else:
        _print_program(file, program)


@app.command("rewards")
def rewards(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The rewards catalogue: points each costs, voucher value, stock left and the per-member limit."""
    from c360.services.loyalty.books import Books

    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        program = loyalty.program
        with ws.store.read() as conn:
            books = Books(conn)
            used = {r.id: books.counter(f"reward:{r.id}") for r in program.rewards if r.stock is not None}
    currency = program.currency
    items: list[dict[str, Any]] = [
        {
            "reward_id": r.id,
            "name": r.name,
            "points": r.points,
            "voucher": (
                {"value": to_minor(r.voucher.value, currency), "currency": currency, "valid_days": r.voucher.valid_days}
                if r.voucher
                else None
            ),
            "stock": r.stock,
            "stock_left": None if r.stock is None else max(r.stock - used.get(r.id, 0), 0),
            "per_member": r.per_member,
        }
        for r in program.rewards
    ]
    if as_json:
        print_json({"currency": currency, "rewards": items})
        return
    table = Table(title=f"Rewards of {program.name}", title_justify="left")
    for column in ("id", "name", "points", "voucher", "stock left", "per member"):
        table.add_column(column, justify="right" if column in ("points", "stock left", "per member") else "left")
    for item in items:
        voucher = item["voucher"]
        table.add_row(
            item["reward_id"],
            item["name"],
            f"{item['points']:,}",
            f"{format_money(voucher['value'], currency)}, {voucher['valid_days']} days" if voucher else "",
            "unlimited" if item["stock_left"] is None else f"{item['stock_left']:,}",
            str(item["per_member"] or ""),
        )
    out.print(table)


# --- members -------------------------------------------------------------------------------------------------------
@app.command("enrol")
def enrol(
    member: MemberArg,
    birth_month: Annotated[
        int | None, typer.Option("--birth-month", help="Month of birth, 1-12 (the birthday bonus).")
    ] = None,
    referral_code: Annotated[
        str | None, typer.Option("--referral-code", help="The referring member's code (they earn a bonus).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrol a profile in the program (enrolling a member again changes nothing) and print its member id.

    An identifier that no profile holds yet (a new customer's phone) is enrolled through the event log, as the API
    does it: the enrolment is logged, the log applied (`c360 process`), and the identifier's new profile enrolled."""
    from c360.services.loyalty.enrolment import enrol_later, enrols_later
    from c360.services.processing import processor_for

    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        try:
            profile_id = _profile_id(ws, member)
        except NotFound:
            if not enrols_later(member):
                raise
            enrol_later(ws, member, birth_month=birth_month, referral_code=referral_code)
            processor_for(ws).run_until_idle()
            profile_id = _profile_id(ws, member)
        member_id = loyalty.enrol(profile_id, birth_month=birth_month, referral_code=referral_code)
        state = loyalty.state(member_id, history=0)
    if as_json:
        print_json({"member_id": member_id, "profile_id": profile_id, "referral_code": state["referral_code"]})
    else:
        out.print(
            f"Member {member_id} (profile {profile_id}), tier {state['tier']['name']}, "
            f"referral code {state['referral_code']}",
            soft_wrap=True,
        )


@app.command("show")
def show(
    member: MemberArg,
    history: Annotated[int, typer.Option("--history", min=0, help="Show this many of the latest entries.")] = 20,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A member's points by state, tier and spend to the next one, points expiring soon, history with reasons."""
    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        state = loyalty.state(_member_id(ws, loyalty, member), history=history)
        zone = ws.settings.zone
    if as_json:
        print_json(state)
        return
    tier = state["tier"]
    currency = tier["currency"]
    summary = Table(title=f"Member {state['member_id']}", show_header=False, title_justify="left")
    summary.add_column("field", style="bold")
    summary.add_column("value")
    summary.add_row("profile", state["profile_id"])
    summary.add_row("enrolled", _local(state["enrolled_at"], zone))
    summary.add_row("referral code", state["referral_code"] or "")
    summary.add_row("available points", f"{state['available']:,}")
    for account, points in state["points"].items():
        if account != "active":
            summary.add_row(f"  {account}", f"{points:,}")
    since = f" (since {_local(tier['since'], zone, '%Y-%m-%d')})" if tier["since"] else ""
    summary.add_row("tier", f"{tier['name']}{since}")
    summary.add_row("qualifying spend", format_money(tier["qualifying_spend"], currency))
    if tier["next"]:
        summary.add_row("to next tier", f"{format_money(tier['spend_to_next'], currency)} more for {tier['next']}")
    else:
        summary.add_row("to next tier", "top tier")
    if tier["downgrade_at"]:
        summary.add_row("downgrade on", _local(tier["downgrade_at"], zone, "%Y-%m-%d"))
    for window, points in state["expiring"].items():
        summary.add_row(f"expiring in {window.removesuffix('d')} days", f"{points:,}")
    out.print(summary)
    if state["history"]:
        table = Table(title="History", title_justify="left")
        for column in ("at", "kind", "points", "why"):
            table.add_column(column, justify="right" if column == "points" else "left")
        for entry in state["history"]:
            table.add_row(_local(entry["at"], zone), entry["kind"], f"{entry['points']:,}", entry["reason"])
        out.print(table)
    if state["redemptions"]:
        table = Table(title="Redemptions", title_justify="left")
        for column in ("id", "reward", "points", "status", "voucher", "valid until"):
            table.add_column(column)
        for r in state["redemptions"]:
            table.add_row(
                str(r["redemption_id"]),
                r["reward_id"],
                f"{r['points']:,}",
                r["status"],
                r["voucher_code"] or "",
                _local(r["valid_until"], zone, "%Y-%m-%d"),
            )
        out.print(table)


# --- earning -------------------------------------------------------------------------------------------------------
@app.command("order")
def order(
    source: Annotated[str, typer.Option("--source", help="The source the order comes from (pos, web, ...).")],
    order_id: Annotated[str, typer.Option("--order-id", help="The order's id in its source.")],
    member: Annotated[str, typer.Option("--member", help="Who ordered: member or profile id, or type:value.")],
    total: Annotated[str, typer.Option("--total", help="What the customer paid, in major units (1280000).")],
    currency: Annotated[
        str | None, typer.Option("--currency", help="ISO 4217 currency (default: the program's).")
    ] = None,
    shipping: Annotated[str, typer.Option("--shipping", help="Shipping within the total, in major units.")] = "0",
    tax: Annotated[str, typer.Option("--tax", help="Tax within the total, in major units.")] = "0",
    at: Annotated[
        str | None, typer.Option("--at", help="When it was placed, ISO (no offset: workspace time; default now).")
    ] = None,
    items: Annotated[
        list[str] | None,
        typer.Option("--item", help="A line sku:category:quantity:unit_price (major units); repeat per line."),
    ] = None,
    voucher: Annotated[str | None, typer.Option("--voucher", help="A voucher code paying part of the order.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record an order and award its points (once per source and order id); they are pending for the return
    window, then available."""
    from c360.loyalty.rules import Order

    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        code = (currency or loyalty.program.currency).strip().upper()
        placed = _time(at, ws.settings.zone, "at") or now()
        the_order = Order(
            order_id=order_id,
            at=placed,
            currency=code,
            total=_minor(total, code, "total"),
            shipping=_minor(shipping, code, "shipping"),
            tax=_minor(tax, code, "tax"),
            lines=_order_lines(items or [], code),
        )
        result = loyalty.order(source, the_order, _profile_id(ws, member), voucher_code=voucher)
    if as_json:
        print_json(_result_json(result))
    else:
        _print_result(f"Order {order_id} from {source}: {result.points:+,} points for {result.member_id}", result)


@app.command("refund")
def refund(
    source: Annotated[str, typer.Option("--source", help="The source of the order.")],
    order_id: Annotated[str, typer.Option("--order-id", help="The refunded order's id in its source.")],
    refund_id: Annotated[str, typer.Option("--refund-id", help="The refund's id (a refund counts once).")],
    amount: Annotated[
        str | None, typer.Option("--amount", help="Amount refunded, major units (default: the whole order).")
    ] = None,
    items: Annotated[
        list[str] | None, typer.Option("--item", help="A returned line sku:quantity; repeat per line.")
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Currency of --amount (default: the program's).")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When it was refunded, ISO (no offset: workspace time; default now).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take back the refunded share of an order's points (pending first, then available; the rest is a debt)."""
    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        code = (currency or loyalty.program.currency).strip().upper()
        result = loyalty.refund(
            source,
            order_id,
            refund_id,
            amount=_minor(amount, code, "amount") if amount is not None else None,
            lines=_refund_lines(items or []),
            at=_time(at, ws.settings.zone, "at"),
        )
    if as_json:
        print_json(_result_json(result))
    else:
        _print_result(f"Refund {refund_id} of order {order_id}: {-result.points:+,} points", result)


# ignore_unknown_options: a negative POINTS (-50) is a number, not an unknown option
@app.command("adjust", context_settings={"ignore_unknown_options": True})
def adjust(
    member: MemberArg,
    points: Annotated[
        int,
        typer.Argument(help="Points to add, or to remove when negative (-50)."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why: the member sees it in their history.")],
    key: KeyOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct a member's points by hand, with a reason (added points are available at once)."""
    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        result = loyalty.adjust(_member_id(ws, loyalty, member), points, reason, key=key)
    if as_json:
        print_json(_result_json(result))
    else:
        _print_result(f"Adjusted {result.member_id}: {result.points:+,} points", result)


@app.command("transfer")
def transfer(
    sender: Annotated[str, typer.Argument(help="The member giving points (id or type:value).", show_default=False)],
    receiver: Annotated[str, typer.Argument(help="The member receiving them (id or type:value).", show_default=False)],
    points: Annotated[int, typer.Argument(help="Available points to move.")],
    key: KeyOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move available points from one member to another, all or nothing (when the program allows transfers)."""
    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        result = loyalty.transfer(_member_id(ws, loyalty, sender), _member_id(ws, loyalty, receiver), points, key=key)
    if as_json:
        print_json(_result_json(result))
    else:
        _print_result(f"Transferred {result.points:,} points", result)


# --- spending ------------------------------------------------------------------------------------------------------
@app.command("redeem")
def redeem(
    member: MemberArg,
    reward: Annotated[str, typer.Argument(help="The reward's id (see `c360 loyalty rewards`).")],
    quantity: Annotated[int, typer.Option("--quantity", help="How many.")] = 1,
    key: KeyOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Spend available points on a reward; a voucher reward prints its code."""
    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        result = loyalty.redeem(_member_id(ws, loyalty, member), reward, quantity=quantity, key=key)
        zone = ws.settings.zone
    if as_json:
        print_json(_result_json(result))
        return
    _print_result(f"{result.member_id}: {-result.points:+,} points", result)
    currency = loyalty.program.currency
    for item in result.detail.get("redemptions", []):
        line = f"  redemption {item['redemption_id']}"
        if item.get("voucher_code"):
            line += (
                f": voucher {item['voucher_code']} worth {format_money(int(item['value']), currency)}, "
                f"valid until {_local(item['valid_until'], zone, '%Y-%m-%d')}"
            )
        out.print(line, soft_wrap=True)


@app.command("cancel")
def cancel(
    redemption_id: Annotated[int, typer.Argument(help="The redemption's id (from `redeem` or `show`).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a redemption and give its points back (refused once its voucher is spent)."""
    with open_workspace(workspace) as ws:
        result = _loyalty(ws).cancel_redemption(redemption_id)
    if as_json:
        print_json(_result_json(result))
    else:
        _print_result(f"Cancelled redemption {redemption_id}: {result.points:+,} points back", result)


def _print_voucher(data: dict[str, Any], zone: ZoneInfo) -> None:
    value = format_money(int(data["value"]), data["currency"]) if data["value"] is not None else ""
    spent = f" on {data['spent_order']}" if data["spent_order"] else ""
    usable = "usable" if data["usable"] else "not usable"
    out.print(
        f"Voucher {data['voucher_code']} of {data['member_id']}: {value}, {data['status']}{spent}, {usable}, "
        f"valid until {_local(data['valid_until'], zone, '%Y-%m-%d')} "
        f"(redemption {data['redemption_id']} of {data['reward_id']})",
        soft_wrap=True,
    )


@app.command("voucher")
def voucher(
    code: Annotated[str, typer.Argument(help="The voucher code (case does not matter).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a voucher: its value, owner, status, validity and the order it was spent on."""
    with open_workspace(workspace) as ws:
        data = _loyalty(ws).voucher(code)
        zone = ws.settings.zone
    if as_json:
        print_json(data)
    else:
        _print_voucher(data, zone)


@app.command("voucher-spend")
def voucher_spend(
    code: Annotated[str, typer.Argument(help="The voucher code (case does not matter).")],
    order_ref: Annotated[
        str, typer.Option("--order-ref", help="The order it pays for (spending again on it is a no-op).")
    ],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark a voucher spent on an order (refused when spent elsewhere, cancelled or expired)."""
    with open_workspace(workspace) as ws:
        data = _loyalty(ws).spend_voucher(code, order_ref)
        zone = ws.settings.zone
    if as_json:
        print_json(data)
    else:
        _print_voucher(data, zone)


# --- schedule and report ------------------------------------------------------------------------------------------
@app.command("run-schedule")
def run_schedule(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """For every member: make due pending points available, expire due points and review the tier. Running it
    again changes nothing until something falls due; run it daily."""
    from sqlalchemy import func, select

    from c360.store.schema import loyalty_members

    with open_workspace(workspace) as ws:
        loyalty = _loyalty(ws)
        with ws.store.read() as conn:
            count = conn.execute(
                select(func.count()).select_from(loyalty_members).where(loyalty_members.c.status == "active")
            ).scalar_one()
        with progress_bar("Loyalty schedule", total=int(count)) as bar:
            totals = loyalty.run_schedule(progress=bar.advance)
    if as_json:
        print_json(totals)
    else:
        out.print(
            f"{totals['members']:,} members: {totals['activated']:,} points made available, "
            f"{totals['expired']:,} expired, {totals['tier_changes']:,} tier changes"
        )


@app.command("report")
def report(
    expiring_days: Annotated[
        int, typer.Option("--expiring-days", min=1, help="Count points expiring within this many days.")
    ] = 30,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many members in each list.")] = 50,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The program's health: points liability, breakage and redemption rates, tiers and their movement, and the
    points expiring soon (--json for the figures: points as integers, money in minor units, rates as fractions)."""
    from c360.services.loyalty.reports import summary

    with open_workspace(workspace) as ws:
        data = summary(_loyalty(ws), now=now(), expiring_days=expiring_days, limit=limit)
        zone = ws.settings.zone
    if as_json:
        print_json(data)
    else:
        _print_report(data, zone)


def _print_report(data: dict[str, Any], zone: ZoneInfo) -> None:
    currency = data["currency"]
    points, rates, tiers, expiring = data["points"], data["rates"], data["tiers"], data["expiring"]
    liability = data["liability"]
    out.print(f"{data['program']}, as of {_local(data['as_of'], zone)}", soft_wrap=True)
    table = Table(show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    table.add_row("active members", f"{data['members']['active']:,}")
    for name in ("issued", "outstanding", "pending", "active", "redeemed", "expired", "reversed", "debt"):
        table.add_row(f"points {name}", f"{points[name]:,}")
    amount = liability.get("amount")
    table.add_row("liability", format_money(int(amount), currency) if amount is not None else "no voucher to value")
    for name in ("breakage", "redemption"):
        rate = rates[name]
        table.add_row(f"{name} rate", "" if rate is None else f"{rate:.2%}")
    out.print(table)
    tier_table = Table(title="Tiers", title_justify="left")
    tier_table.add_column("tier")
    tier_table.add_column("members", justify="right")
    for name, count in tiers["distribution"].items():
        tier_table.add_row(name, f"{count:,}")
    out.print(tier_table)
    if tiers["movement"]:
        moves = Table(title=f"Tier changes in the last {tiers['movement_days']} days", title_justify="left")
        for column in ("from", "to", "direction", "changes", "members"):
            moves.add_column(column, justify="right" if column in ("changes", "members") else "left")
        for move in tiers["movement"]:
            moves.add_row(
                move["from"] or "", move["to"], move["direction"], f"{move['changes']:,}", f"{move['members']:,}"
            )
        out.print(moves)
    out.print(
        f"Expiring within {expiring['days']} days: {expiring['points']:,} points of "
        f"{expiring['members_count']:,} members"
    )
    if expiring["members"]:
        soon = Table(title="Expiring soonest", title_justify="left")
        for column in ("member", "points", "earliest expiry"):
            soon.add_column(column, justify="right" if column == "points" else "left")
        for row in expiring["members"]:
            soon.add_row(row["member_id"], f"{row['points']:,}", _local(row["earliest_expiry"], zone, "%Y-%m-%d"))
        out.print(soon)
