"""Orders, refunds and events earn through the event processor, after identity has stitched them; identity
merges fold loyalty accounts together. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from c360.services.loyalty import Loyalty, balances_replayed, write_example_program
from c360.services.processing import processor_for
from c360.store.schema import loyalty_entries, loyalty_members
from c360.workspace import Workspace
from tests.identity.support import at, send

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", store_url=store_url)
    write_example_program(workspace)
    try:
        yield workspace
    finally:
        workspace.close()


def order(message_id: str, minutes: int, order_id: str, total: int, **ids: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "timestamp": at(minutes),
        **ids,
        "properties": {
            "order_id": order_id,
            "total": total,
            "shipping": 30_000,
            "currency": "VND",
            "products": [{"sku": "AT001", "category": "Áo thun", "quantity": 2, "price": (total - 30_000) / 2}],
        },
    }


def identify(message_id: str, minutes: int, **fields: Any) -> dict[str, Any]:
    traits = fields.pop("traits", {})
    return {"type": "identify", "messageId": message_id, "timestamp": at(minutes), **fields, "traits": traits}


def process(ws: Workspace) -> None:
    processor_for(ws).run_until_idle()


def state(ws: Workspace, profile_or_member: str) -> dict[str, Any]:
    loyalty = Loyalty.for_workspace(ws, clock=lambda: NOW)
    return loyalty.state(loyalty.member_id_for(profile_or_member))


def profile_of(ws: Workspace, user_id: str) -> str:
    from c360.services.profiles import lookup

    found = lookup(ws.store, ws.settings, user_id=user_id)
    assert len(found["profiles"]) == 1
    return str(found["profiles"][0]["profile_id"])


def test_an_order_earns_for_the_profile_it_was_stitched_to_and_a_replay_earns_nothing_more(ws: Workspace) -> None:
    send(ws, "web", identify("i1", 0, userId="u1", traits={"email": "lan@example.vn"}))
    send(ws, "web", order("o1", 10, "W1", 1_030_000, userId="u1"))
    # The same order sent again by a retrying client, under another messageId: (source, order id) earns once.
    send(ws, "web", order("o1-retry", 11, "W1", 1_030_000, userId="u1"))
    process(ws)
    member = state(ws, profile_of(ws, "u1"))
    assert member["points"]["pending"] + member["points"]["active"] == 100
    earns = [h for h in member["history"] if h["kind"] == "earn"]
    assert len(earns) == 1
    assert earns[0]["reason"] == "+100 1 point per 10,000 VND on 1,000,000 VND (shipping not counted)"


def test_a_refund_through_the_processor_takes_back_the_returned_share(ws: Workspace) -> None:
    send(ws, "web", order("o1", 10, "W1", 1_030_000, userId="u1"))
    refund = {
        "type": "track",
        "event": "Order Refunded",
        "messageId": "r1",
        "timestamp": at(60),
        "userId": "u1",
        "properties": {"order_id": "W1", "currency": "VND", "products": [{"sku": "AT001", "quantity": 1}]},
    }
    send(ws, "web", refund)
    process(ws)
    member = state(ws, profile_of(ws, "u1"))
    assert member["points"]["reversed"] == 50
    assert member["points"]["pending"] + member["points"]["active"] == 50
    (reverse,) = [h for h in member["history"] if h["kind"] == "reverse"]
    assert reverse["reason"] == "refund of the returned items on order W1: 50 of its 100 points taken back"


def test_an_event_rule_pays_through_the_processor_within_its_cap(ws: Workspace) -> None:
    send(ws, "web", identify("i1", 0, userId="u1"))
    reviews = [
        {"type": "track", "event": "Product Reviewed", "messageId": f"rv{i}", "timestamp": at(10 + i), "userId": "u1"}
        for i in range(7)
    ]
    send(ws, "web", *reviews)
    process(ws)
    member = state(ws, profile_of(ws, "u1"))
    # 20 points a review, at most 100 a month: five reviews pay, the sixth and seventh are capped to nothing.
    assert member["points"]["pending"] + member["points"]["active"] == 100


def test_when_identity_merges_two_profiles_their_accounts_merge(ws: Workspace) -> None:
    # Two customers as far as anyone knows: a web account and a POS phone number, each with an order.
    send(ws, "web", order("o1", 10, "W1", 530_000, userId="u1"))
    send(ws, "pos", order("o2", 20, "P1", 230_000, anonymousId="pos-1", context={"traits": {"phone": "0912345678"}}))
    process(ws)
    with ws.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(loyalty_members)).scalar_one() == 2
    # Then the web account gives its phone: one person, one account holding both orders' points.
    send(ws, "web", identify("i1", 30, userId="u1", traits={"phone": "+84 912 345 678"}))
    process(ws)
    survivor = profile_of(ws, "u1")
    member = state(ws, survivor)
    assert member["points"]["pending"] + member["points"]["active"] == 50 + 20
    with ws.store.read() as conn:
        statuses = {
            str(status): int(n)
            for status, n in conn.execute(
                select(loyalty_members.c.status, func.count()).group_by(loyalty_members.c.status)
            )
        }
        assert statuses == {"active": 1, "merged": 1}
        replayed = balances_replayed(conn)
        merged = conn.execute(select(loyalty_entries.c.reason).where(loyalty_entries.c.kind == "merge")).scalar_one()
    assert "merged into" in merged
    assert replayed[(member["member_id"], "active")] + replayed.get((member["member_id"], "pending"), 0) == 70


def test_a_workspace_without_a_program_processes_orders_without_loyalty(tmp_path: Path) -> None:
    workspace = Workspace.init(tmp_path / "plain")
    try:
        send(workspace, "web", order("o1", 10, "W1", 1_030_000, userId="u1"))
        process(workspace)
        with workspace.store.read() as conn:
            assert conn.execute(select(func.count()).select_from(loyalty_entries)).scalar_one() == 0
    finally:
        workspace.close()


def test_the_program_in_the_docs_is_a_valid_program() -> None:
    import re

    import yaml

    from c360.loyalty.program import parse_program

    text = (Path(__file__).parents[2] / "docs" / "loyalty.md").read_text(encoding="utf-8")
    block = re.findall(r"```yaml\n(.*?)```", text, re.S)[0]
    program = parse_program(yaml.safe_load(block))
    assert [t.name for t in program.tiers.levels] == ["Member", "Silver", "Gold", "Diamond"]


def test_enrolment_events_enrol_their_identifiers_profile_and_never_a_shared_phones(ws: Workspace) -> None:
    """`Loyalty Member Enrolled` (logged for a customer no profile knew): the profile its identifier is stitched
    to is enrolled; a phone held back by the fan-out guard names no one, and its event enrols nobody."""
    from c360.services.loyalty.enrolment import enrolment_message

    send(ws, "loyalty", enrolment_message("user_id", "u9", birth_month=7, referral_code=None, message_id="e1"))
    email = enrolment_message("email", "New@Example.vn", birth_month=None, referral_code=None, message_id="e2")
    email["properties"]["referralCode"] = 42  # a hand-made event: not a code, ignored
    send(ws, "loyalty", email)
    household = ["Nguyễn Văn An", "Trần Thị Bích", "Lê Văn Cường", "Phạm Thị Dung"]
    for i, name in enumerate(household):
        send(ws, "pos", identify(f"h{i}", i, userId=f"h{i}", traits={"phone": "0901 111 222", "name": name}))
    send(ws, "loyalty", enrolment_message("phone", "0901111222", birth_month=None, referral_code=None, message_id="e3"))
    process(ws)
    with ws.store.read() as conn:
        members = {r.profile_id: r.birth_month for r in conn.execute(select(loyalty_members))}
    from c360.services.profiles import lookup

    by_email = lookup(ws.store, ws.settings, email="new@example.vn")["profiles"]
    assert members == {profile_of(ws, "u9"): 7, by_email[0]["profile_id"]: None}
