"""The review queue and unmerge: decisions become rules that later runs honour, batch and incremental."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from c360.errors import InvalidInput, NotFound
from c360.services import review
from c360.services.identity import resolve
from c360.services.processing import processor_for
from c360.store.schema import identity_nodes
from c360.workspace import Workspace
from tests.identity.support import at, crm_row, send


def profiles_of(ws: Workspace) -> dict[tuple[str, str], str | None]:
    with ws.store.read() as conn:
        return {(r.id_type, r.id_value): r.profile_id for r in conn.execute(select(identity_nodes))}


def household(ws: Workspace) -> None:
    send(
        ws,
        "crm",
        crm_row("C2", 1, email="hung@example.vn", phone="0987654321", name="Lê Văn Hùng"),
        crm_row("C3", 2, email="mai@example.vn", phone="0987654321", name="Phạm Thị Mai"),
    )


def test_accepting_a_held_value_lets_it_join_from_the_next_run(ws: Workspace) -> None:
    household(ws)
    resolve(ws)
    [item] = review.list_review(ws.store)
    assert (item["kind"], item["id_value"], item["status"]) == ("held_value", "+84987654321", "open")
    decided = review.decide(ws.store, item["id"], "accept", actor="test")
    assert decided["status"] == "accepted"
    assert review.list_review(ws.store) == []
    resolve(ws)
    found = profiles_of(ws)
    assert found[("external_id", "crm:C2")] == found[("external_id", "crm:C3")] == found[("phone", "+84987654321")]
    with pytest.raises(InvalidInput, match="already accepted"):
        review.decide(ws.store, item["id"], "reject")
    with pytest.raises(NotFound):
        review.decide(ws.store, 999, "reject")


def test_rejecting_a_held_value_keeps_it_held(ws: Workspace) -> None:
    household(ws)
    resolve(ws)
    [item] = review.list_review(ws.store)
    review.decide(ws.store, item["id"], "reject")
    resolve(ws)
    found = profiles_of(ws)
    assert found[("phone", "+84987654321")] is None
    assert found[("external_id", "crm:C2")] != found[("external_id", "crm:C3")]
    assert review.list_review(ws.store, status="rejected")[0]["id"] == item["id"]


def test_unmerge_splits_now_and_later_runs_keep_it_split(ws: Workspace) -> None:
    # One profile glued by a shared email that really belongs to two people (a couple's old shared address).
    send(
        ws,
        "web",
        {"type": "identify", "anonymousId": "anon-a", "userId": "u-a", "messageId": "w1", "timestamp": at(0),
         "traits": {"email": "nha@example.vn"}},
        {"type": "identify", "anonymousId": "anon-b", "messageId": "w2", "timestamp": at(5),
         "traits": {"email": "nha@example.vn", "phone": "0912345678"}},
    )  # fmt: skip
    processor_for(ws).run_until_idle()
    before = profiles_of(ws)
    profile = before[("user_id", "u-a")]
    assert profile is not None
    assert before[("anonymous_id", "anon-b")] == profile

    result = review.unmerge(
        ws.store, profile, [("anonymous_id", "anon-b"), ("phone", "+84912345678")], reason="two people"
    )
    after = profiles_of(ws)
    assert len(result["profiles"]) == 2
    assert result["rules"] >= 2
    assert after[("anonymous_id", "anon-b")] == after[("phone", "+84912345678")]
    assert after[("anonymous_id", "anon-b")] != after[("user_id", "u-a")]
    assert after[("user_id", "u-a")] == after[("email", "nha@example.vn")] == profile  # the oldest part keeps the id

    # The same pair arriving again after the unmerge joins nothing, on the incremental path...
    send(
        ws,
        "web",
        {"type": "identify", "anonymousId": "anon-b", "messageId": "w3", "timestamp": at(30),
         "traits": {"email": "nha@example.vn"}},
        replay=False,
    )  # fmt: skip
    processor_for(ws).run_until_idle()
    incremental = profiles_of(ws)
    assert incremental[("anonymous_id", "anon-b")] != incremental[("user_id", "u-a")]
    # ... and a batch run over everything keeps the split too, and agrees with the incremental path.
    resolve(ws)
    assert profiles_of(ws) == incremental


def test_unmerge_refuses_what_it_cannot_do(ws: Workspace) -> None:
    send(ws, "web", {"type": "identify", "anonymousId": "a", "userId": "u", "messageId": "w1", "timestamp": at(0)})
    resolve(ws)
    profile = profiles_of(ws)[("user_id", "u")]
    assert profile is not None
    with pytest.raises(InvalidInput, match="not in profile"):
        review.unmerge(ws.store, profile, [("phone", "+84900000000")], reason="x")
    with pytest.raises(InvalidInput, match="whole profile"):
        review.unmerge(ws.store, profile, [("user_id", "u"), ("anonymous_id", "a")], reason="x")
    with pytest.raises(NotFound):
        review.unmerge(ws.store, "prof_nope", [("user_id", "u")], reason="x")
    with pytest.raises(InvalidInput, match="type:value"):
        review.parse_identifier("justtext")
