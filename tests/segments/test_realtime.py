"""Real-time membership: the event processor decides per event the segments that can be decided per event, the
entries and exits go to the history and the outbox, and a batch build at the same instant finds the same members
(nothing to enter, nothing to leave). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from c360.segments import realtime as rt
from c360.segments.definition import Catalog, parse_definition
from c360.services import segments
from c360.services.processing import processor_for
from c360.services.segments_realtime import SegmentsHandler
from c360.store.schema import segment_changes, segment_memberships
from c360.workspace import Workspace
from tests.identity.support import T0, at, send

NOW = T0 + dt.timedelta(days=2)

REPEAT_BUYERS = {
    "name": "repeat_buyers",
    "where": {"event": "Order Completed", "at_least": 2, "within_days": 30,
              "where": [{"property": "total", "op": ">=", "value": 100_000}]},
}  # fmt: skip
IN_HANOI = {"name": "in_hanoi", "where": {"trait": "province", "op": "=", "value": "Hà Nội"}}
HANOI_REPEAT = {
    "name": "hanoi_repeat",
    "where": {
        "all": [{"segment": "repeat_buyers"}, {"segment": "in_hanoi"}, {"not": {"trait": "vip", "op": "is set"}}]
    },
}
BIG_SPENDERS = {  # a sum: left to the batch build
    "name": "big_spenders",
    "where": {"event": "Order Completed", "sum": "total", "op": ">=", "value": 1_000_000, "within_days": 30},
}


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", store_url=store_url)
    try:
        yield workspace
    finally:
        workspace.close()


def order(message_id: str, minutes: int, total: int, **ids: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Order Completed", "messageId": message_id, "timestamp": at(minutes), **ids,
            "properties": {"order_id": message_id, "total": total, "currency": "VND"}}  # fmt: skip


def identify(message_id: str, minutes: int, traits: dict[str, Any], **ids: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": message_id, "timestamp": at(minutes), **ids, "traits": traits}


def process(ws: Workspace) -> None:
    processor = processor_for(ws)
    for handler in processor.handlers:
        if isinstance(handler, SegmentsHandler):
            handler.clock = lambda: NOW
    processor.run_until_idle()


def members(ws: Workspace) -> dict[str, set[str]]:
    with ws.store.read() as conn:
        rows = conn.execute(
            select(segment_memberships.c.segment, segment_memberships.c.profile_id).where(
                segment_memberships.c.exited_at.is_(None)
            )
        ).all()
    out: dict[str, set[str]] = {}
    for segment, profile_id in rows:
        out.setdefault(segment, set()).add(profile_id)
    return out


def changes(ws: Workspace) -> list[tuple[str, str, str]]:
    with ws.store.read() as conn:
        c = segment_changes.c
        rows = conn.execute(select(c.segment, c.change, c.origin).order_by(c.id)).all()
    return [(s, change, o) for s, change, o in rows]


def profile(ws: Workspace, user_id: str) -> str:
    from c360.services.profiles import lookup

    return str(lookup(ws.store, ws.settings, user_id=user_id)["profiles"][0]["profile_id"])


def save_all(ws: Workspace) -> None:
    # The events and traits must be known to the catalog before a definition may name them.
    send(ws, "web", identify("seed", 0, {"province": "Hà Nội", "vip": True}, userId="seed"),
         order("seed-o", 0, 1, userId="seed"))  # fmt: skip
    process(ws)
    for definition in (REPEAT_BUYERS, IN_HANOI, HANOI_REPEAT, BIG_SPENDERS):
        segments.save(ws, definition)
    # A new segment gets its first members from a build; the stream keeps it current from then on.
    segments.build(ws, as_of=NOW)


def test_which_definitions_are_decided_per_event() -> None:
    catalog = Catalog(
        traits={"province": "string", "vip": "boolean", "birthday": "date"},
        computed={"orders_90d": "number"},
        events={"Order Completed": {"total": "number"}},
        segments=frozenset({"repeat_buyers", "in_hanoi", "big_spenders", "birthdays"}),
    )
    birthdays = {"name": "birthdays", "where": {"trait": "birthday", "op": "birthday within days", "value": 7}}
    computed = {"name": "frequent", "where": {"trait": "orders_90d", "op": ">=", "value": 3}}
    mixed = {"name": "mixed", "where": {"any": [{"segment": "in_hanoi"}, {"segment": "big_spenders"}]}}
    defs = [parse_definition(d, catalog) for d in (REPEAT_BUYERS, IN_HANOI, BIG_SPENDERS, birthdays, computed, mixed)]
    assert rt.realtime_names(defs) == {"repeat_buyers", "in_hanoi"}


def test_members_enter_as_events_arrive_and_a_build_at_the_same_instant_changes_nothing(ws: Workspace) -> None:
    save_all(ws)
    send(ws, "web", identify("i1", 10, {"province": "Hà Nội"}, userId="u1"), order("o1", 20, 150_000, userId="u1"))
    process(ws)
    assert "repeat_buyers" not in members(ws)
    assert members(ws)["in_hanoi"] == {profile(ws, "seed"), profile(ws, "u1")}

    # The second qualifying order within 30 days: in, and so in the segment built on it (u1 is not a VIP).
    send(ws, "web", order("o2", 30, 120_000, userId="u1"), order("o-small", 31, 50_000, userId="u1"))
    process(ws)
    now = members(ws)
    assert now["repeat_buyers"] == {profile(ws, "u1")}
    assert now["hanoi_repeat"] == {profile(ws, "u1")}
    assert "big_spenders" not in now  # not real-time: waits for a build

    # u1 moves: leaves in_hanoi and hanoi_repeat at once; the outbox has every step in order.
    send(ws, "web", identify("i2", 40, {"province": "Đà Nẵng"}, userId="u1"))
    process(ws)
    assert profile(ws, "u1") not in members(ws)["in_hanoi"]
    assert ("hanoi_repeat", "exited", "realtime") in changes(ws)
    assert changes(ws).index(("hanoi_repeat", "entered", "realtime")) < changes(ws).index(
        ("hanoi_repeat", "exited", "realtime")
    )

    realtime_before = {k: v for k, v in members(ws).items() if k in {"repeat_buyers", "in_hanoi", "hanoi_repeat"}}
    result = segments.build(ws, as_of=NOW)
    for name in ("repeat_buyers", "in_hanoi", "hanoi_repeat"):
        assert result.segments[name]["entered"] == 0, name
        assert result.segments[name]["exited"] == 0, name
    assert {k: v for k, v in members(ws).items() if k in realtime_before} == realtime_before
    assert result.segments["big_spenders"]["entered"] == 0  # 270,000 VND in 30 days


def test_a_restarted_processor_goes_on_from_history_the_build_gave_it(ws: Workspace) -> None:
    save_all(ws)
    # One qualifying order, then a build (which hands the real-time counters the lake's events) ...
    send(ws, "web", order("o1", 20, 150_000, userId="u2"))
    process(ws)
    segments.build(ws, as_of=NOW)
    with ws.store.write() as conn:  # ... and counters lost since: the build's backfill must bring them back
        from c360.store.schema import segment_event_times

        conn.execute(segment_event_times.delete())
    segments.build(ws, as_of=NOW)
    # A new processor (a restart) sees the second order: two within 30 days.
    send(ws, "web", order("o2", 25, 150_000, userId="u2"))
    process(ws)
    assert members(ws)["repeat_buyers"] == {profile(ws, "u2")}
    again = segments.build(ws, as_of=NOW)
    assert again.segments["repeat_buyers"] == {"entered": 0, "exited": 0, "members": 1}


def test_a_merge_moves_counts_to_the_survivor_and_the_merged_profile_leaves(ws: Workspace) -> None:
    save_all(ws)
    # Two profiles, one order each; then an identify joins the anonymous visitor to u3.
    send(ws, "web", order("o1", 20, 150_000, anonymousId="anon-3"), order("o2", 21, 150_000, userId="u3"))
    process(ws)
    assert "repeat_buyers" not in members(ws)
    send(ws, "web", identify("i1", 30, {"email": "u3@example.vn"}, userId="u3", anonymousId="anon-3"))
    process(ws)
    assert members(ws)["repeat_buyers"] == {profile(ws, "u3")}
    result = segments.build(ws, as_of=NOW)
    assert result.segments["repeat_buyers"]["entered"] == 0
    assert result.segments["repeat_buyers"]["exited"] == 0


def test_arriving_events_update_counts_sums_and_times_as_a_build_would(ws: Workspace) -> None:
    save_all(ws)
    send(ws, "web", identify("i1", 10, {"province": "Hà Nội"}, userId="u4"), order("o1", 20, 150_000, userId="u4"))
    process(ws)
    segments.build(ws, as_of=NOW)
    # Two more orders and an email arrive after the build: the stream adds them to the computed traits.
    send(ws, "web", order("o2", 60, 250_000, userId="u4"), order("o3", 61, 100_000, userId="u4"))
    process(ws)
    with ws.store.read() as conn:
        from c360.store.schema import computed_traits

        doc = conn.execute(
            select(computed_traits.c.traits).where(computed_traits.c.profile_id == profile(ws, "u4"))
        ).scalar_one()
    import orjson

    traits = orjson.loads(doc)
    assert traits["orders_365d"] == 3
    assert traits["orders_90d"] == 3
    assert traits["total_spend_365d"] == 500_000
    assert traits["aov_365d"] == round(500_000 / 3, 6)
    assert traits["first_order_at"] == at(20).replace(".000", "")
    assert traits["last_order_at"] == at(61)
    assert traits["days_since_last_order"] == 2
    # A build at the same instant computes what the stream wrote; only RFM, which ranks everyone, is its own.
    segments.build(ws, as_of=NOW)
    with ws.store.read() as conn:
        rebuilt = orjson.loads(
            conn.execute(
                select(computed_traits.c.traits).where(computed_traits.c.profile_id == profile(ws, "u4"))
            ).scalar_one()
        )

    def without_rfm(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if not k.startswith("rfm_")}

    assert without_rfm(rebuilt) == without_rfm(traits)
    assert rebuilt["rfm_frequency"] == 3


def test_a_segment_that_no_longer_reads_stops_the_build_by_name_but_not_the_stream(ws: Workspace) -> None:
    from c360.errors import InvalidInput

    save_all(ws)
    traits_file = ws.path / segments.TRAITS_FILE
    traits_file.write_text(
        "computed_traits:\n  - {name: card_orders, aggregate: count, event: Order Completed}\n", encoding="utf-8"
    )
    segments.save(ws, {"name": "card_buyers", "where": {"trait": "card_orders", "op": ">=", "value": 1}})
    traits_file.unlink()  # the trait it names is gone
    with pytest.raises(InvalidInput, match="card_buyers"):
        segments.build(ws, as_of=NOW)
    # The processor leaves it out and goes on deciding the others.
    send(ws, "web", order("o1", 20, 150_000, userId="u5"), order("o2", 21, 150_000, userId="u5"))
    process(ws)
    assert profile(ws, "u5") in members(ws)["repeat_buyers"]
