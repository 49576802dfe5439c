"""The profile read side over real stores (SQLite and PostgreSQL), a real log and a real lake.

The identity rows come from ``tests.identity_rows`` (what the resolver would write for a few people); the events
went through the ingest path, part of them compacted into the lake and the rest left in the log.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from c360.errors import InvalidInput, NotFound
from c360.services import profiles
from c360.services.compaction import compact
from c360.settings import load_settings
from c360.store.schema import identity_merges, identity_nodes, identity_profiles
from c360.workspace import Workspace
from tests.identity_rows import (
    AN,
    AN_OLD,
    AN_OLDER,
    ANH,
    ANH2,
    BICH,
    HELD_PHONE,
    HELD_REASON,
    RECEIVED,
    an_message_ids,
    populate,
)


@pytest.fixture
def ws(store_url: str, tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", store_url=store_url)
    try:
        populate(workspace)
        yield workspace
    finally:
        workspace.close()


def _ids(answer: dict[str, Any]) -> list[str]:
    return [p["profile_id"] for p in answer["profiles"]]


# --- search_text -------------------------------------------------------------------------------------------------
def test_search_text_holds_both_name_orders_emails_and_phone_digits() -> None:
    text = profiles.search_text("Nguyễn Văn An", ["An.Nguyen@Gmail.com", "an.nguyen@gmail.com"], ["+84912345678"])
    assert text == "nguyen van an an nguyen van an.nguyen@gmail.com 84912345678 0912345678"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Đức", "duc duc"),  # one word: the same word in both orders
        ("  TRẦN   thị  BÍCH ", "tran thi bich bich tran thi"),
        (None, ""),
        ("Khách lẻ", ""),  # a placeholder is no name
    ],
)
def test_search_text_of_names(name: str | None, expected: str) -> None:
    assert profiles.search_text(name, [], []) == expected


def test_search_text_skips_empty_values_and_reads_any_phone_writing() -> None:
    assert profiles.search_text(None, ["", " "], ["0912 345 678", ""]) == "84912345678 0912345678"


# --- get_profile ---------------------------------------------------------------------------------------------------
def test_get_profile_has_identifiers_and_parsed_traits(ws: Workspace) -> None:
    profile = profiles.get_profile(ws.store, AN)
    assert (profile["profile_id"], profile["merged_from"], profile["name"]) == (AN, None, "Nguyễn Văn An")
    assert profile["traits"]["birthday"] == "1990-05-17"
    assert profile["updated_at"] == "2026-03-01T12:00:00.000Z"
    # strongest type first; the device still filed under a merged profile is his too
    assert [(i["type"], i["value"]) for i in profile["identifiers"]] == [
        ("user_id", "u-an"),
        ("email", "annguyen@gmail.com"),
        ("phone", "+84912345678"),
        ("loyalty_card", "VIP-0001"),
        ("external_id", "crm:C0000001"),
        ("anonymous_id", "anon-an-1"),
        ("anonymous_id", "anon-an-2"),
    ]
    first = profile["identifiers"][0]
    assert first == {
        "type": "user_id",
        "value": "u-an",
        "source": "web",
        "first_seen_at": "2026-01-10T09:00:00.000Z",
        "first_message_id": "first-user_id-u-an",
        "records": 14,
        "held": False,
        "held_reason": None,
    }


@pytest.mark.parametrize("asked", [AN_OLD, AN_OLDER])
def test_a_merged_id_answers_with_its_survivor(ws: Workspace, asked: str) -> None:
    profile = profiles.get_profile(ws.store, asked)
    assert (profile["profile_id"], profile["merged_from"]) == (AN, asked)
    assert profile["identifiers"] == profiles.get_profile(ws.store, AN)["identifiers"]


def test_an_unknown_profile_is_not_found_by_name(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="no profile 'prof_nobody'"):
        profiles.get_profile(ws.store, "prof_nobody")


# --- lookup --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("phone", "0912 345 678", "+84912345678"),
        ("phone", "+84-912-345-678", "+84912345678"),
        ("phone", "84912345678", "+84912345678"),
        ("email", "  AnNguyen@Gmail.COM ", "annguyen@gmail.com"),
        ("email", "an.nguyen+shop@googlemail.com", "annguyen@gmail.com"),  # Gmail's rules are on by default
        ("user_id", " u-an ", "u-an"),
        ("anonymous_id", "anon-an-1", "anon-an-1"),
        ("anonymous_id", "crm:C0000001", "crm:C0000001"),  # an imported record's anonymousId: an external id
        ("loyalty_card", "VIP-0001", "VIP-0001"),
    ],
)
def test_lookup_compares_normalised_identifiers(ws: Workspace, field: str, value: str, expected: str) -> None:
    found = profiles.lookup(ws.store, ws.settings, **{field: value})
    assert (found["field"], found["value"], found["held"]) == (field, expected, None)
    assert _ids(found) == [AN]
    assert found["profiles"][0] == profiles.get_profile(ws.store, AN)


def test_lookup_through_a_node_of_a_merged_profile_says_so(ws: Workspace) -> None:
    found = profiles.lookup(ws.store, ws.settings, anonymous_id="anon-an-2")
    assert _ids(found) == [AN]
    assert found["profiles"][0]["merged_from"] == AN_OLD


def _file_node(ws: Workspace, id_type: str, id_value: str, profile_id: str) -> None:
    with ws.store.write() as conn:
        conn.execute(
            insert(identity_nodes).values(
                id_type=id_type,
                id_value=id_value,
                profile_id=profile_id,
                source="web",
                first_seen_at=RECEIVED,
                first_message_id=f"first-{id_value}",
                records=1,
                held_reason=None,
            )
        )


def test_a_node_of_a_profile_merged_two_merges_ago_is_the_survivors(ws: Workspace) -> None:
    """AN_OLDER went into AN_OLD, which went into AN: a node still filed under AN_OLDER is An's."""
    _file_node(ws, "anonymous_id", "anon-an-3", AN_OLDER)
    found = profiles.lookup(ws.store, ws.settings, anonymous_id="anon-an-3")
    assert (_ids(found), found["profiles"][0]["merged_from"]) == ([AN], AN_OLDER)
    identifiers = [i["value"] for i in profiles.get_profile(ws.store, AN)["identifiers"]]
    assert identifiers.count("anon-an-3") == 1
    assert found["profiles"][0]["identifiers"] == profiles.get_profile(ws.store, AN)["identifiers"]


def test_a_loop_of_merges_written_by_mistake_ends(ws: Workspace) -> None:
    """AN into AN_OLDER closes the loop AN -> AN_OLD -> AN_OLDER -> AN: each profile's nodes are read once."""
    with ws.store.write() as conn:
        conn.execute(
            insert(identity_merges).values(
                merged_at=RECEIVED, survivor_id=AN_OLDER, merged_id=AN, run="batch", evidence="{}"
            )
        )
    identifiers = [i["value"] for i in profiles.get_profile(ws.store, AN)["identifiers"]]
    assert sorted(identifiers) == sorted(set(identifiers))
    assert "anon-an-2" in identifiers  # filed under AN_OLD
    assert _ids(profiles.lookup(ws.store, ws.settings, email="annguyen@gmail.com")) == [AN]


def test_the_next_lookup_sees_what_the_resolver_changed(ws: Workspace) -> None:
    before = profiles.lookup(ws.store, ws.settings, phone="0912345678")
    assert (_ids(before), before["profiles"][0]["name"]) == ([AN], "Nguyễn Văn An")
    with ws.store.write() as conn:
        conn.execute(update(identity_profiles).where(identity_profiles.c.profile_id == AN).values(name="An Nguyễn"))
    assert profiles.lookup(ws.store, ws.settings, phone="0912345678")["profiles"][0]["name"] == "An Nguyễn"
    with ws.store.write() as conn:  # the phone moves to Bích
        conn.execute(
            update(identity_nodes)
            .where((identity_nodes.c.id_type == "phone") & (identity_nodes.c.id_value == "+84912345678"))
            .values(profile_id=BICH)
        )
    after = profiles.lookup(ws.store, ws.settings, phone="0912345678")
    assert (_ids(after), after["profiles"][0]["merged_from"]) == ([BICH], None)
    assert "+84912345678" in [i["value"] for i in after["profiles"][0]["identifiers"]]


def test_without_gmail_rules_dots_matter(ws: Workspace) -> None:
    settings = load_settings(workspace=ws.path, identity_gmail_rules=False)
    assert _ids(profiles.lookup(ws.store, settings, email="an.nguyen@gmail.com")) == []
    assert _ids(profiles.lookup(ws.store, settings, email="AnNguyen@gmail.com")) == [AN]


def test_an_unknown_identifier_finds_nobody(ws: Workspace) -> None:
    assert profiles.lookup(ws.store, ws.settings, email="nobody@example.vn") == {
        "field": "email",
        "value": "nobody@example.vn",
        "profiles": [],
        "held": None,
    }


def test_a_held_phone_answers_the_reason_and_the_profiles_that_carry_it(ws: Workspace) -> None:
    found = profiles.lookup(ws.store, ws.settings, phone="0909 123 123")
    assert (found["value"], found["held"]) == (HELD_PHONE, HELD_REASON)
    assert _ids(found) == [AN, BICH]
    assert all(HELD_PHONE not in [i["value"] for i in p["identifiers"]] for p in found["profiles"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"email": "an.nguyen"}, "email: 'an.nguyen' is not an email address"),
        ({"email": ""}, "email: '' is not an email address"),
        ({"phone": "12345"}, "phone: '12345' is not a valid phone number"),
        ({"phone": "call me"}, "phone: 'call me' is not a valid phone number"),
        ({"email": "Test@Test.com"}, "email: 'Test@Test.com' is a blocked value, which never identifies anyone"),
        ({"user_id": "null"}, "user_id: 'null' is a blocked value"),
        ({"anonymous_id": "  "}, "anonymous_id: '  ' is a blocked value"),
        ({}, r"give exactly one of email, phone, user_id, anonymous_id, loyalty_card \(got none\)"),
        ({"email": "a@b.vn", "phone": "0912345678"}, r"\(got email and phone\)"),
    ],
)
def test_lookup_refuses_what_cannot_identify_anyone(ws: Workspace, args: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        profiles.lookup(ws.store, ws.settings, **args)


def test_a_blocked_phone_of_the_settings_is_refused_however_written(ws: Workspace) -> None:
    settings = load_settings(workspace=ws.path, identity_blocked_values=["0283 812 3456"])
    with pytest.raises(InvalidInput, match=r"phone: .* is a blocked value"):
        profiles.lookup(ws.store, settings, phone="+84 28 3812 3456")


# --- search --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("nguyen van an", [AN, ANH2, ANH]),  # exact name first; `an` also starts `anh`
        ("Nguyễn Văn An", [AN, ANH2, ANH]),
        ("an nguyen van", [AN, ANH2, ANH]),  # given name first: still the exact name
        ("NGUYEN VAN ANH", [ANH2, ANH]),  # the same folded name: the one with more records first
        ("nguyen", [AN, ANH2, ANH]),  # none exact: the shorter name first, then records
        ("van an", [AN, ANH2, ANH]),
        ("bich", [BICH]),
        ("tran bich", [BICH]),
        ("345678", [AN]),
        ("0912 345", [AN]),
        ("+84 912 345 678", [AN]),
        ("0902", [ANH2]),
        ("bich.tran", [BICH]),
        ("@example.vn", [BICH, ANH]),  # no exact one: the shorter name first
        ("gmail.com", [AN]),
        ("guyen", []),  # a name word must start a word
        ("%", []),  # LIKE's wildcards are plain characters here
        ("_", []),
    ],
)
def test_search_finds_and_ranks(ws: Workspace, q: str, expected: list[str]) -> None:
    assert _ids(profiles.search(ws.store, q)) == expected


def test_search_marks_exact_matches_and_counts_records(ws: Workspace) -> None:
    found = profiles.search(ws.store, "nguyen van an")["profiles"]
    assert [(p["exact"], p["records"]) for p in found] == [(True, 30), (False, 10), (False, 3)]
    assert found[0] == {
        "profile_id": AN,
        "name": "Nguyễn Văn An",
        "email": "annguyen@gmail.com",
        "phone": "+84912345678",
        "records": 30,
        "exact": True,
    }
    assert [p["exact"] for p in profiles.search(ws.store, "0912345678")["profiles"]] == [True]
    assert [p["exact"] for p in profiles.search(ws.store, "912345")["profiles"]] == [False]


def test_search_limits(ws: Workspace) -> None:
    assert _ids(profiles.search(ws.store, "nguyen", limit=2)) == [AN, ANH2]
    assert len(profiles.search(ws.store, "84", limit=10_000)["profiles"]) == 4  # capped at 100, not refused
    with pytest.raises(InvalidInput, match="limit: must be at least 1"):
        profiles.search(ws.store, "an", limit=0)
    with pytest.raises(InvalidInput, match="q: give a name"):
        profiles.search(ws.store, "   ")
    with pytest.raises(InvalidInput, match="q: is longer than 200"):
        profiles.search(ws.store, "a" * 201)


# --- explain -------------------------------------------------------------------------------------------------------
def test_identity_explains_edges_merges_held_values_and_review(ws: Workspace) -> None:
    data = profiles.identity(ws.store, AN_OLD)
    assert (data["profile_id"], data["merged_from"]) == (AN, AN_OLD)
    assert [(e["a"]["value"], e["b"]["value"], e["kind"], e["live"]) for e in data["edges"]] == [
        ("u-an", "annguyen@gmail.com", "deterministic", True),
        ("u-an", "anon-an-1", "deterministic", True),
        ("annguyen@gmail.com", "crm:C0000001", "probabilistic", True),
        ("u-an", HELD_PHONE, "deterministic", False),  # kept to explain the held phone
    ]
    probabilistic = data["edges"][2]
    assert probabilistic["match_probability"] == pytest.approx(0.991)
    assert probabilistic["evidence"] == {"name": "exact without diacritics", "birth_date": "exact"}
    # the merge into the merged profile counts too: history follows the survivor
    assert [(m["survivor_id"], m["merged_id"], m["run"]) for m in data["merges"]] == [
        (AN_OLD, AN_OLDER, "batch"),
        (AN, AN_OLD, "incremental"),
    ]
    assert data["merges"][1]["evidence"]["message_id"] == "an-login"
    assert [(h["type"], h["value"], h["held"], h["held_reason"]) for h in data["held"]] == [
        ("phone", HELD_PHONE, True, HELD_REASON)
    ]
    review_id = data["held"][0]["review"][0]["id"]
    assert data["held"][0]["review"] == [{"id": review_id, "status": "open"}]
    # the review item about the held phone names no profile, yet it touches his records
    assert [(r["id"], r["kind"], r["status"], r["id_value"]) for r in data["review"]] == [
        (review_id, "held_value", "open", HELD_PHONE)
    ]
    assert data["review"][0]["evidence"]["names"][0] == "Nguyễn Văn An"
    assert [h["value"] for h in profiles.identity(ws.store, BICH)["held"]] == [HELD_PHONE]


def test_identity_leaves_out_decided_review_items(ws: Workspace) -> None:
    data = profiles.identity(ws.store, ANH)
    assert (data["edges"], data["merges"], data["held"], data["review"]) == ([], [], [], [])
    with pytest.raises(NotFound, match="no profile 'x'"):
        profiles.identity(ws.store, "x")


# --- timeline ------------------------------------------------------------------------------------------------------
def _walk(ws: Workspace, profile_id: str, limit: int) -> list[list[dict[str, Any]]]:
    pages = []
    before = None
    while True:
        page = profiles.events(ws, profile_id, limit=limit, before=before)
        pages.append(page["events"])
        before = page["next"]
        if before is None:
            return pages
        assert len(page["events"]) == limit


@pytest.mark.parametrize("limit", [1, 4, 7, 50])
def test_the_timeline_pages_through_lake_and_log_without_gaps_or_repeats(ws: Workspace, limit: int) -> None:
    pages = _walk(ws, AN, limit)
    seen = [e["message_id"] for page in pages for e in page]
    assert len(seen) == len(set(seen))
    assert set(seen) == an_message_ids()
    times = [e["timestamp"] for page in pages for e in page]
    assert times == sorted(times, reverse=True)
    assert pages[-1]  # the last page is not an empty one


def test_the_timeline_mixes_the_lake_and_the_log_in_time_order(ws: Workspace) -> None:
    ids = [e["message_id"] for e in profiles.events(ws, AN, limit=500)["events"]]
    # an-log-* are in the log, an-web-* in the lake, interleaved in time
    assert ids.index("an-web-7") < ids.index("an-log-6") < ids.index("an-web-6")
    # one instant, three events: the later-appended first (the log's an-tie-3, then the lake's two)
    assert ids.index("an-tie-3") + 1 == ids.index("an-tie-2") == ids.index("an-tie-1") - 1
    # the merged profile's device and the CRM record are his; the walk-in with the held phone and Bích are not
    assert {"an-page-old-device", "an-crm"} <= set(ids)
    assert not {"walk-in", "bich-web-0", "bich-log-0", "bich-crm"} & set(ids)


def test_timeline_events_say_what_happened(ws: Workspace) -> None:
    events = {e["message_id"]: e for e in profiles.events(ws, AN, limit=500)["events"]}
    order = events["an-order-1"]
    assert order == {
        "message_id": "an-order-1",
        "type": "track",
        "event": "Order Completed",
        "name": None,
        "source": "web",
        "timestamp": "2026-01-10T09:55:00.000Z",
        "user_id": "u-an",
        "anonymous_id": None,
        "group_id": None,
        "previous_id": None,
        "properties": {"order_id": "A1", "total": 1250000, "currency": "VND"},
        "traits": None,
        "summary": "Order Completed A1: 1,250,000 VND",
    }
    assert events["an-web-3"]["summary"] == "Product Viewed: Áo thun 3"
    assert events["an-tie-3"]["summary"] == "Viewed page Xác nhận"
    assert events["an-crm"]["summary"] == "Identified: email, name, phone"
    assert events["an-crm"]["traits"]["phone"] == "0912 345 678"
    assert events["an-later"]["source"] == "web"


def test_the_timeline_of_a_merged_id_is_the_survivors(ws: Workspace) -> None:
    page = profiles.events(ws, AN_OLDER, limit=500)
    assert (page["profile_id"], page["merged_from"]) == (AN, AN_OLDER)
    assert {e["message_id"] for e in page["events"]} == an_message_ids()


def test_an_event_compacted_while_the_timeline_is_read_is_listed_once(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {e["message_id"] for e in profiles.events(ws, AN, limit=500)["events"]}
    old_watermark = ws.lake.watermark()
    compact(ws.log, ws.lake)  # the log's events are now in the lake too (not pruned yet)
    calls = iter([old_watermark])
    real = ws.lake.watermark
    # The timeline reads the log from the watermark it saw first; the files it lists then are newer.
    monkeypatch.setattr(ws.lake, "watermark", lambda: next(calls, None) or real())
    events = profiles.events(ws, AN, limit=500)["events"]
    assert sorted(e["message_id"] for e in events) == sorted(before)
    monkeypatch.undo()
    ws.log.prune(ws.lake.watermark())  # and once pruned, everything comes from the lake alone
    assert sorted(e["message_id"] for e in profiles.events(ws, AN, limit=500)["events"]) == sorted(before)


def test_a_profile_without_events_has_an_empty_timeline(ws: Workspace) -> None:
    assert profiles.events(ws, ANH, limit=10) == {"profile_id": ANH, "merged_from": None, "events": [], "next": None}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"before": "yesterday"}, "before: 'yesterday' is not a cursor"),
        ({"before": "12_x"}, "before: '12_x' is not a cursor"),
        ({"limit": 0}, "limit: must be at least 1"),
    ],
)
def test_timeline_refuses_bad_paging(ws: Workspace, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        profiles.events(ws, AN, **kwargs)


def test_an_unknown_profile_has_no_timeline(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="no profile 'nope'"):
        profiles.events(ws, "nope")


# --- export --------------------------------------------------------------------------------------------------------
def test_export_identities_maps_every_record_to_its_profile(ws: Workspace) -> None:
    with ws.store.write() as conn:
        conn.execute(
            insert(identity_nodes).values(
                id_type="anonymous_id",
                id_value="shared-kiosk",
                profile_id=None,
                source="pos",
                first_seen_at=RECEIVED,
                first_message_id="kiosk-1",
                records=40,
                held_reason="fan-out guard",
            )
        )
    buffer = io.StringIO()
    count = profiles.export_identities(ws.store, buffer)
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[0] == ["source", "record_id", "profile_id"]
    assert count == len(rows) - 1
    assert sorted(rows[1:]) == sorted(
        [
            ["web", "anon-an-1", AN],
            ["web", "anon-an-2", AN],  # its node names the merged profile: exported as the survivor
            ["pos", "shared-kiosk", ""],  # held: no profile
            ["crm", "C0000001", AN],
            ["crm", "C0000002", BICH],
            ["web", "u-an", AN],
            ["web", "u-anh", ANH],
            ["web", "u-anh2", ANH2],
            ["web", "u-bich", BICH],
        ]
    )
