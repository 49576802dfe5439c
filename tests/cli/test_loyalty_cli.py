"""`c360 loyalty ...` through the real entry point, against a workspace holding the example program.

The CLI's clock is ``c360.cli.loyalty.now``: the tests pin it (and move it on) to make activation and expiry
happen on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from c360.cli import loyalty as loyalty_cli
from c360.workspace import Workspace
from tests.cli.conftest import Invoke

WIDE = {"COLUMNS": "250"}
START = dt.datetime(2026, 4, 10, 5, 0, tzinfo=dt.UTC)  # 12:00 in Ho Chi Minh City
A1_REASON = "+125 1 point per 10,000 VND on 1,250,000 VND (shipping not counted)"
EXAMPLE = Path(loyalty_cli.__file__).parents[1] / "loyalty" / "example.yaml"

Clock = Callable[[dt.datetime], None]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Pins the CLI's clock at START; call it with a time to move it."""
    current = [START]
    monkeypatch.setattr(loyalty_cli, "now", lambda: current[0])

    def move(to: dt.datetime) -> None:
        current[0] = to

    return move


@pytest.fixture
def ws(workspace: Workspace, run_main: Invoke, clock: Clock) -> Workspace:
    """A workspace with the example program."""
    result = run_main("loyalty", "init", "-w", str(workspace.path))
    assert result.exit_code == 0, result.stderr
    return workspace


@pytest.fixture
def loyalty(run_main: Invoke, ws: Workspace) -> Invoke:
    """``c360 loyalty <args> -w <ws>``."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        return run_main("loyalty", *args, "-w", str(ws.path), env=env or WIDE)

    return invoke


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _order_a1(loyalty: Invoke, *extra: str) -> Any:
    return loyalty(
        "order",
        "--source",
        "pos",
        "--order-id",
        "A1",
        "--member",
        "prof_a",
        "--total",
        "1280000",
        "--shipping",
        "30000",
        "--at",
        "2026-04-10T10:00",
        *extra,
    )


def _state(loyalty: Invoke, member: str = "prof_a") -> Any:
    return _json(loyalty("show", member, "--json"))


# --- the program file ----------------------------------------------------------------------------------------------
def test_init_writes_the_example_once(run_main: Invoke, workspace: Workspace) -> None:
    path = workspace.path / "loyalty.yaml"
    w = ["-w", str(workspace.path)]
    first = run_main("loyalty", "init", *w, env=WIDE)
    assert first.exit_code == 0, first.stderr
    assert path.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")
    assert "Sen Vàng Rewards" in first.stdout

    path.write_text(path.read_text(encoding="utf-8").replace("Sen Vàng Rewards", "Mine"), encoding="utf-8")
    again = run_main("loyalty", "init", *w, env=WIDE)
    assert again.exit_code == 2
    assert (
        again.stderr.strip() == f"error: {path} already exists: edit it, or use --force to replace it with the example"
    )
    assert "name: Mine" in path.read_text(encoding="utf-8")  # untouched

    forced = run_main("loyalty", "init", "--force", *w)
    assert forced.exit_code == 0, forced.stderr
    assert path.read_text(encoding="utf-8") == EXAMPLE.read_text(encoding="utf-8")


def test_check_summarises_the_program(loyalty: Invoke) -> None:
    human = loyalty("check")
    assert human.exit_code == 0, human.stderr
    assert "Sen Vàng Rewards (VND) is valid" in human.stdout
    for text in ("2024-01-01", "1 per 10,000 VND", "Diamond", "40,000,000 VND", "x1.2", "voucher-500k", "tote-bag"):
        assert text in human.stdout
    data = _json(loyalty("check", "--json"))
    assert data["valid"] is True
    assert [v["effective_from"] for v in data["versions"]] == ["2024-01-01"]
    assert data["versions"][0]["spend"] == {"points": 1, "per": 10000, "min_order": 50000}
    assert [t["name"] for t in data["tiers"]] == ["Member", "Silver", "Gold", "Diamond"]
    assert [(r["id"], r["points"]) for r in data["rewards"]] == [
        ("voucher-100k", 2000),
        ("voucher-500k", 9000),
        ("tote-bag", 1500),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("per: 10000 ", "per: 0 "), "versions.0.spend.per: Input should be greater than 0"),
        (("    pending_days: 14", "    pending_days: 14\n    colour: red"), "versions.0.colour: unknown key"),
        (("  - {name: Member, min_spend: 0", "  - {name: Member, min_spend: 10"), "tiers: the first tier must"),
        (("name: Sen Vàng Rewards", "name: [unclosed"), "is not valid YAML (line"),
    ],
)
def test_check_names_the_bad_key(
    run_main: Invoke, workspace: Workspace, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert change[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    result = run_main("loyalty", "check", str(bad), env=WIDE)  # a FILE needs no workspace
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


def test_check_of_the_workspace_file_when_it_is_broken(loyalty: Invoke, ws: Workspace) -> None:
    path = ws.path / "loyalty.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("points: 2000", "points: -1"), encoding="utf-8")
    result = loyalty("check")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: rewards.0.points: Input should be greater than 0"


def test_commands_without_a_program_say_how_to_make_one(run_main: Invoke, workspace: Workspace, clock: Clock) -> None:
    result = run_main("loyalty", "show", "prof_a", "-w", str(workspace.path), env=WIDE)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: no loyalty program at {workspace.path / 'loyalty.yaml'}: create one with `c360 loyalty init`"
    )


def test_rewards_catalogue(loyalty: Invoke) -> None:
    human = loyalty("rewards")
    assert human.exit_code == 0, human.stderr
    assert "Túi tote Sen Vàng" in human.stdout
    assert "100,000 VND, 90 days" in human.stdout
    data = _json(loyalty("rewards", "--json"))
    tote = data["rewards"][2]
    assert (tote["reward_id"], tote["stock"], tote["stock_left"], tote["per_member"]) == ("tote-bag", 200, 200, 1)
    assert data["rewards"][0]["voucher"] == {"value": 100000, "currency": "VND", "valid_days": 90}


# --- members and orders --------------------------------------------------------------------------------------------
def test_enrol(loyalty: Invoke) -> None:
    data = _json(loyalty("enrol", "prof_a", "--birth-month", "5", "--json"))
    assert (data["member_id"], data["profile_id"]) == ("prof_a", "prof_a")
    assert data["referral_code"]
    assert _json(loyalty("enrol", "prof_a", "--json")) == data  # enrolling again changes nothing
    referred = loyalty("enrol", "prof_b", "--referral-code", data["referral_code"])
    assert referred.exit_code == 0, referred.stderr
    assert referred.stdout.startswith("Member prof_b (profile prof_b), tier Member, referral code ")

    bad = loyalty("enrol", "prof_c", "--birth-month", "13")
    assert (bad.exit_code, bad.stderr.strip()) == (2, "error: birth_month: must be a month number from 1 to 12")
    unknown = loyalty("enrol", "prof_c", "--referral-code", "NOPE")
    assert (unknown.exit_code, unknown.stderr.strip()) == (
        2,
        "error: referral_code: no member has referral code 'NOPE'",
    )


def test_order_then_show(loyalty: Invoke) -> None:
    result = _order_a1(loyalty)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["Order A1 from pos: +125 points for prof_a", f"  why: {A1_REASON}"]

    state = _state(loyalty)
    assert state["points"]["pending"] == 125
    assert state["available"] == 0
    assert state["tier"]["name"] == "Member"
    assert (state["tier"]["qualifying_spend"], state["tier"]["next"]) == (1_250_000, "Silver")
    assert state["tier"]["spend_to_next"] == 3_750_000
    assert [(h["kind"], h["points"], h["reason"]) for h in state["history"]] == [("earn", 125, A1_REASON)]

    human = loyalty("show", "prof_a")
    assert human.exit_code == 0, human.stderr
    for text in (A1_REASON, "3,750,000 VND more for Silver", "expiring in 90 days", "2026-04-10 10:00"):
        assert text in human.stdout

    again = _order_a1(loyalty)
    assert again.exit_code == 0, again.stderr
    assert "already recorded: nothing changed" in again.stdout
    assert _state(loyalty)["points"]["pending"] == 125


def test_order_lines_earn_a_category_multiplier(loyalty: Invoke) -> None:
    data = _json(
        loyalty(
            "order",
            "--source",
            "web",
            "--order-id",
            "W1",
            "--member",
            "prof_a",
            "--total",
            "1280000",
            "--shipping",
            "30000",
            "--at",
            "2026-03-10T11:00:00+07:00",
            "--item",
            "CS1:Chăm sóc da:1:500000",
            "--item",
            "AT1:Áo thun:2:375000",
            "--json",
        )
    )
    assert data["points"] == 175
    assert data["reason"] == f"{A1_REASON}; +50 Skincare month: x2 on 500,000 VND of Chăm sóc da"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--total", "abc"], "error: total: 'abc' is not an amount"),
        (["--total", "-5"], "error: total: '-5' must not be negative"),
        (["--total", "100000", "--at", "yesterday"], "error: at: 'yesterday' is not an ISO date or time"),
        (["--total", "100000", "--item", "CS1:2"], "error: item: 'CS1:2': write sku:category:quantity:unit_price"),
        (["--total", "100000", "--item", "CS1:x:0:5"], "error: item: '0' must be at least 1"),
    ],
)
def test_order_input_errors(loyalty: Invoke, args: list[str], message: str) -> None:
    result = loyalty("order", "--source", "pos", "--order-id", "X", "--member", "prof_a", *args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.strip().startswith(message)


def test_refund(loyalty: Invoke) -> None:
    assert _order_a1(loyalty).exit_code == 0
    half = _json(
        loyalty("refund", "--source", "pos", "--order-id", "A1", "--refund-id", "r1", "--amount", "640000", "--json")
    )
    assert half["points"] == 62
    assert half["reason"] == "refund of 640,000 VND on order A1: 62 of its 125 points taken back"
    assert _state(loyalty)["points"]["pending"] == 63

    rest = loyalty("refund", "--source", "pos", "--order-id", "A1", "--refund-id", "r2")
    assert rest.exit_code == 0, rest.stderr
    assert rest.stdout.splitlines()[0] == "Refund r2 of order A1: -63 points"
    assert "refund of the whole order on order A1: 63 of its 125 points taken back" in rest.stdout
    state = _state(loyalty)
    assert (state["points"]["pending"], state["points"]["reversed"], state["tier"]["qualifying_spend"]) == (0, 125, 0)

    unknown = loyalty("refund", "--source", "pos", "--order-id", "NOPE", "--refund-id", "r1")
    assert (unknown.exit_code, unknown.stderr.strip()) == (5, "error: no order 'NOPE' from source 'pos' earned points")


def test_refund_by_returned_items(loyalty: Invoke) -> None:
    order = loyalty(
        "order",
        "--source",
        "pos",
        "--order-id",
        "B1",
        "--member",
        "prof_a",
        "--total",
        "1000000",
        "--at",
        "2026-04-10T10:00",
        "--item",
        "AT1:Áo thun:4:250000",
    )
    assert order.exit_code == 0, order.stderr
    data = _json(
        loyalty("refund", "--source", "pos", "--order-id", "B1", "--refund-id", "r1", "--item", "AT1:1", "--json")
    )
    assert (data["points"], data["detail"]["refunded"]) == (25, 250_000)


# --- spending ------------------------------------------------------------------------------------------------------
def test_adjust_redeem_voucher_spend_then_cancel_is_refused(loyalty: Invoke) -> None:
    assert loyalty("enrol", "prof_a").exit_code == 0
    adjusted = loyalty("adjust", "prof_a", "2500", "--reason", "goodwill", "--key", "g1")
    assert adjusted.exit_code == 0, adjusted.stderr
    assert adjusted.stdout.splitlines() == ["Adjusted prof_a: +2,500 points", "  why: manual adjustment: goodwill"]
    assert "already recorded" in loyalty("adjust", "prof_a", "2500", "--reason", "goodwill", "--key", "g1").stdout
    assert _state(loyalty)["available"] == 2500
    removed = loyalty("adjust", "prof_a", "--reason", "typo", "-100")
    assert removed.exit_code == 0, removed.stderr
    assert _state(loyalty)["available"] == 2400

    redeemed = _json(loyalty("redeem", "prof_a", "voucher-100k", "--key", "k1", "--json"))
    assert (redeemed["points"], redeemed["reason"]) == (2000, "redeemed Voucher 100.000 ₫")
    (item,) = redeemed["detail"]["redemptions"]
    code, redemption_id = item["voucher_code"], item["redemption_id"]
    assert item["value"] == 100_000
    assert _state(loyalty)["available"] == 400

    shown = _json(loyalty("voucher", code.lower(), "--json"))
    assert (shown["status"], shown["usable"], shown["member_id"], shown["value"]) == ("issued", True, "prof_a", 100_000)
    human = loyalty("voucher", code)
    assert f"Voucher {code} of prof_a: 100,000 VND, issued, usable" in human.stdout

    spent = _json(loyalty("voucher-spend", code, "--order-ref", "pos:B9", "--json"))
    assert (spent["status"], spent["spent_order"], spent["usable"]) == ("spent", "pos:B9", False)
    assert _json(loyalty("voucher-spend", code, "--order-ref", "pos:B9", "--json"))["status"] == "spent"  # same order
    elsewhere = loyalty("voucher-spend", code, "--order-ref", "pos:C1")
    assert (elsewhere.exit_code, elsewhere.stderr.strip()) == (6, f"error: voucher {code} was already spent on pos:B9")

    before = _state(loyalty)
    cancel = loyalty("cancel", str(redemption_id))
    assert (cancel.exit_code, cancel.stdout) == (6, "")
    assert cancel.stderr.strip() == f"error: redemption {redemption_id}: voucher {code} was already spent (pos:B9)"
    assert _state(loyalty) == before


def test_cancel_gives_the_points_back(loyalty: Invoke) -> None:
    assert loyalty("enrol", "prof_a").exit_code == 0
    assert loyalty("adjust", "prof_a", "2000", "--reason", "goodwill").exit_code == 0
    redemption_id = _json(loyalty("redeem", "prof_a", "tote-bag", "--json"))["detail"]["redemptions"][0][
        "redemption_id"
    ]
    assert _json(loyalty("rewards", "--json"))["rewards"][2]["stock_left"] == 199
    cancelled = _json(loyalty("cancel", str(redemption_id), "--json"))
    assert cancelled["points"] == 1500
    state = _state(loyalty)
    assert state["available"] == 2000
    assert state["redemptions"][0]["status"] == "cancelled"
    missing = loyalty("cancel", "999")
    assert (missing.exit_code, missing.stderr.strip()) == (5, "error: no redemption 999")


def test_not_enough_points_is_refused_and_changes_nothing(loyalty: Invoke) -> None:
    assert _order_a1(loyalty).exit_code == 0
    assert loyalty("adjust", "prof_a", "1000", "--reason", "welcome").exit_code == 0
    before = _state(loyalty)
    result = loyalty("redeem", "prof_a", "voucher-500k")
    assert (result.exit_code, result.stdout) == (6, "")
    assert result.stderr.strip() == (
        "error: not enough points for Voucher 500.000 ₫: 9,000 points needed, 1,000 available "
        "(125 more are pending and not yet spendable)"
    )
    assert _state(loyalty) == before
    too_much = loyalty("adjust", "prof_a", "--reason", "oops", "-5000")
    assert too_much.exit_code == 6
    assert too_much.stderr.startswith("error: cannot remove 5,000 points: ")
    assert _state(loyalty) == before


def test_unknown_reward_member_and_voucher(loyalty: Invoke) -> None:
    assert loyalty("enrol", "prof_a").exit_code == 0
    reward = loyalty("redeem", "prof_a", "nope")
    assert (reward.exit_code, reward.stderr.strip()) == (
        5,
        "error: no reward 'nope' in the catalogue (rewards: voucher-100k, voucher-500k, tote-bag)",
    )
    member = loyalty("show", "prof_nobody")
    assert (member.exit_code, member.stderr.strip()) == (5, "error: profile prof_nobody is not a loyalty member")
    assert loyalty("redeem", "prof_nobody", "tote-bag").exit_code == 5
    voucher = loyalty("voucher", "V-NOPE")
    assert (voucher.exit_code, voucher.stderr.strip()) == (5, "error: no voucher 'V-NOPE'")
    kind = loyalty("show", "fax:123")
    assert kind.exit_code == 2
    assert kind.stderr.startswith("error: member: unknown identifier type 'fax'")


def test_transfer_is_refused_when_the_program_turns_it_off(loyalty: Invoke) -> None:
    for member in ("prof_a", "prof_b"):
        assert loyalty("adjust", member, "100", "--reason", "x").exit_code == 5  # not members yet
        assert loyalty("enrol", member).exit_code == 0
    assert loyalty("adjust", "prof_a", "100", "--reason", "gift").exit_code == 0
    result = loyalty("transfer", "prof_a", "prof_b", "50")
    assert result.exit_code == 6
    assert result.stderr.strip() == (
        "error: member-to-member transfers are off in this program (transfers: true turns them on)"
    )


def test_transfer_when_allowed(loyalty: Invoke, ws: Workspace) -> None:
    path = ws.path / "loyalty.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("transfers: false", "transfers: true"), encoding="utf-8")
    for member in ("prof_a", "prof_b"):
        assert loyalty("enrol", member).exit_code == 0
    assert loyalty("adjust", "prof_a", "100", "--reason", "gift").exit_code == 0
    moved = _json(loyalty("transfer", "prof_a", "prof_b", "60", "--key", "t1", "--json"))
    assert (moved["points"], moved["reason"]) == (60, "transfer of 60 points from prof_a to prof_b")
    assert (_state(loyalty)["available"], _state(loyalty, "prof_b")["available"]) == (40, 60)


# --- schedule and report -------------------------------------------------------------------------------------------
def test_run_schedule_activates_expires_and_is_idempotent(loyalty: Invoke, clock: Clock) -> None:
    order = loyalty(
        "order",
        "--source",
        "pos",
        "--order-id",
        "N1",
        "--member",
        "prof_a",
        "--total",
        "1280000",
        "--shipping",
        "30000",
    )  # placed now: pending for the 14-day return window
    assert order.exit_code == 0, order.stderr
    assert _json(loyalty("run-schedule", "--json")) == {"members": 1, "activated": 0, "expired": 0, "tier_changes": 0}

    clock(START + dt.timedelta(days=15))
    first = loyalty("run-schedule")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip() == "1 members: 125 points made available, 0 expired, 0 tier changes"
    assert _json(loyalty("run-schedule", "--json")) == {"members": 1, "activated": 0, "expired": 0, "tier_changes": 0}
    state = _state(loyalty)
    assert (state["available"], state["points"]["pending"]) == (125, 0)

    clock(dt.datetime(2027, 4, 20, tzinfo=dt.UTC))
    assert _state(loyalty)["expiring"] == {"30d": 125, "60d": 125, "90d": 125}  # April 2026 + 12 months

    clock(dt.datetime(2027, 5, 2, tzinfo=dt.UTC))
    expired = _json(loyalty("run-schedule", "--json"))
    assert (expired["activated"], expired["expired"]) == (0, 125)
    assert _json(loyalty("run-schedule", "--json")) == {"members": 1, "activated": 0, "expired": 0, "tier_changes": 0}
    state = _state(loyalty)
    assert (state["available"], state["points"]["expired"]) == (0, 125)


def test_report_json_numbers(loyalty: Invoke) -> None:
    assert _order_a1(loyalty).exit_code == 0  # 125 points, pending
    assert loyalty("adjust", "prof_a", "3000", "--reason", "goodwill").exit_code == 0
    assert loyalty("redeem", "prof_a", "voucher-100k").exit_code == 0
    assert loyalty("enrol", "prof_b").exit_code == 0
    data = _json(loyalty("report", "--json", "--expiring-days", "400"))
    assert data["members"] == {"active": 2, "merged": 0}
    points = data["points"]
    assert (points["issued"], points["issued_by_earning"], points["issued_by_adjustment"]) == (3125, 125, 3000)
    assert (points["pending"], points["active"], points["outstanding"], points["redeemed"]) == (125, 1000, 1125, 2000)
    assert data["rates"]["redemption"] == round(2000 / 3125, 4)
    assert data["rates"]["breakage"] == 0
    assert data["tiers"]["distribution"] == {"Member": 2, "Silver": 0, "Gold": 0, "Diamond": 0}
    assert (data["expiring"]["days"], data["expiring"]["points"], data["expiring"]["members_count"]) == (400, 1125, 1)

    human = loyalty("report")
    assert human.exit_code == 0, human.stderr
    for text in ("Sen Vàng Rewards, as of 2026-04-10 12:00", "points outstanding", "1,125", "64.00%", "Diamond"):
        assert text in human.stdout


# --- identifiers ---------------------------------------------------------------------------------------------------
def test_members_by_identifier(loyalty: Invoke, ws: Workspace) -> None:
    from tests.identity_rows import AN, AN_OLD, populate

    populate(ws)
    enrolled = _json(loyalty("enrol", "email:AN.NGUYEN@gmail.com", "--json"))
    assert enrolled["member_id"] == AN
    assert _state(loyalty, "phone:0912 345 678")["member_id"] == AN
    assert _state(loyalty, AN_OLD)["member_id"] == AN  # a merged-away profile id answers as its survivor
    order = loyalty(
        "order", "--source", "pos", "--order-id", "I1", "--member", "user_id:u-an", "--total", "100000", "--json"
    )
    assert _json(order)["member_id"] == AN
    nobody = loyalty("show", "email:nobody@example.vn")
    assert (nobody.exit_code, nobody.stderr.strip()) == (5, "error: no profile has email nobody@example.vn")


def test_a_new_customer_enrols_by_an_identifier_no_profile_has(loyalty: Invoke, ws: Workspace) -> None:
    """The enrolment goes through the event log and the processor; the member is the identifier's new profile."""
    from tests.identity_rows import node_profile

    enrolled = _json(loyalty("enrol", "phone:0933 456 789", "--birth-month", "4", "--json"))
    profile_id = node_profile(ws.store, "phone", "+84933456789")
    assert enrolled["profile_id"] == profile_id
    assert _state(loyalty, "phone:+84 933 456 789")["member_id"] == enrolled["member_id"]
    assert _json(loyalty("enrol", "phone:0933456789", "--json")) == enrolled  # again: nothing changes
    bad = loyalty("enrol", "email:new@example.vn", "--referral-code", "NOPE")
    assert bad.exit_code == 2
    assert "referral_code" in bad.stderr
    unknown = loyalty("enrol", "email:new@example.vn", "--birth-month", "13")
    assert unknown.exit_code == 2
    assert "birth_month" in unknown.stderr


def test_every_loyalty_command_explains_itself(run_main: Invoke) -> None:
    result = run_main("loyalty", "--help", env=WIDE)
    assert result.exit_code == 0
    for name in ("init", "check", "enrol", "show", "order", "refund", "redeem", "cancel", "voucher", "voucher-spend"):
        assert name in result.stdout
    for name in ("adjust", "transfer", "rewards", "run-schedule", "report"):
        assert name in result.stdout
