"""`c360 resolve` end to end on a workspace: events in the log -> the store's identity tables, on SQLite and
PostgreSQL (the batch engine is DuckDB)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from c360.services.identity import resolve
from c360.store.schema import identity_edges, identity_merges, identity_nodes, identity_profiles, identity_review
from c360.workspace import Workspace
from tests.identity.support import at, crm_row, send


def nodes_of(ws: Workspace) -> dict[tuple[str, str], dict[str, Any]]:
    with ws.store.read() as conn:
        rows = conn.execute(select(identity_nodes)).mappings().all()
    return {(row["id_type"], row["id_value"]): dict(row) for row in rows}


def profile(ws: Workspace, profile_id: str) -> dict[str, Any]:
    with ws.store.read() as conn:
        row = conn.execute(select(identity_profiles).where(identity_profiles.c.profile_id == profile_id)).mappings()
        return dict(row.one())


def test_resolve_builds_profiles_and_records_later_merges(ws: Workspace) -> None:
    send(
        ws,
        "web",
        {"type": "page", "anonymousId": "anon-a", "messageId": "w1", "timestamp": at(0), "name": "Home"},
        {"type": "identify", "anonymousId": "anon-a", "userId": "u-a", "messageId": "w2", "timestamp": at(1),
         "traits": {"email": "Lan.Tran@Gmail.com", "name": "Trần Thị Lan"}},
        {"type": "page", "anonymousId": "anon-b", "messageId": "w3", "timestamp": at(2), "name": "Home"},
    )  # fmt: skip
    send(
        ws,
        "crm",
        crm_row("C1", 3, email="lantran@gmail.com", phone="0912 345 678", name="Tran Thi Lan", birthday="1990-05-01"),
        crm_row("C2", 4, email="hung@example.vn", phone="0987654321", name="Lê Văn Hùng"),
        crm_row("C3", 5, email="mai@example.vn", phone="0987654321", name="Phạm Thị Mai"),
    )
    first = resolve(ws)
    nodes = nodes_of(ws)
    lan = nodes[("user_id", "u-a")]["profile_id"]
    same_person = [("anonymous_id", "anon-a"), ("external_id", "crm:C1"), ("phone", "+84912345678"),
                   ("email", "lantran@gmail.com")]  # fmt: skip
    assert {nodes[key]["profile_id"] for key in same_person} == {lan}
    # The shared phone of C2 and C3 is held and waits in the review queue; they stay two people.
    assert nodes[("phone", "+84987654321")]["profile_id"] is None
    assert nodes[("external_id", "crm:C2")]["profile_id"] != nodes[("external_id", "crm:C3")]["profile_id"]
    assert (first.profiles, first.review_items, first.merges) == (4, 1, 0)

    # Traits by precedence: the newest message first (the CRM row), a blank never erases; the oldest message
    # (the page view) names the profile.
    row = profile(ws, lan)
    assert row["first_message_id"] == "w1"
    assert row["name"] == "Tran Thi Lan"
    assert (row["email"], row["phone"]) == ("lantran@gmail.com", "+84912345678")
    assert json.loads(row["traits"])["birthday"] == "1990-05-01"
    assert "tran thi lan" in row["search_text"]
    assert "0912345678" in row["search_text"]

    # A later login on the other device joins its profile into Lan's: the oldest survives, the merge is recorded.
    visitor = nodes[("anonymous_id", "anon-b")]["profile_id"]
    send(ws, "web", {"type": "identify", "anonymousId": "anon-b", "userId": "u-a", "messageId": "w4",
                     "timestamp": at(10), "traits": {}})  # fmt: skip
    second = resolve(ws)
    nodes = nodes_of(ws)
    assert nodes[("anonymous_id", "anon-b")]["profile_id"] == lan
    assert (second.merges, second.review_items, second.profiles) == (1, 0, 3)
    with ws.store.read() as conn:
        merges = conn.execute(select(identity_merges)).mappings().all()
        edges = conn.execute(select(identity_edges).where(identity_edges.c.b_value == "anon-b")).mappings().all()
        reviews = conn.execute(select(identity_review)).mappings().all()
    assert [(m["survivor_id"], m["merged_id"], m["run"]) for m in merges] == [(lan, visitor, "batch")]
    assert json.loads(merges[0]["evidence"])["via"] == "anonymous_id:anon-b"
    assert [(e["a_type"], e["a_value"], e["message_id"], e["kind"]) for e in edges] == [
        ("user_id", "u-a", "w4", "deterministic")
    ]
    assert [r["id_value"] for r in reviews] == ["+84987654321"]

    # Nothing new: the same profiles, no merge, nothing asked twice.
    third = resolve(ws)
    assert (third.profiles, third.merges, third.review_items) == (3, 0, 0)
    assert nodes_of(ws) == nodes
