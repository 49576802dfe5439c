"""The segments service over a real workspace: events go in through the log, `resolve` builds the profiles, then
save / build / preview / members / explain / overlap / history, on SQLite and (where cheap) PostgreSQL, with the
batch engine on DuckDB. Every build has a fixed ``as_of``.

The workspace zone is Asia/Ho_Chi_Minh. AS_OF is 2026-03-01T17:30Z (00:30 on 2 March locally).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from c360.engines import Engine
from c360.errors import InvalidInput, NotFound
from c360.segments.definition import DefinitionError
from c360.services import segments
from c360.services.identity import resolve
from c360.services.ingest import append_messages
from c360.store.schema import computed_traits, identity_nodes, segment_builds, segment_memberships
from c360.workspace import Workspace

AS_OF = dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.UTC)
LATER = AS_OF + dt.timedelta(days=40)
_ids = itertools.count(1)


def iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def days_before(days: float, of: dt.datetime = AS_OF) -> str:
    return iso(of - dt.timedelta(days=days))


def identify(user: str, at: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "messageId": f"id-{next(_ids)}", "timestamp": at, "traits": traits}


def order(user: str, at: str, total: int, payment: str = "cod") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": user,
        "messageId": f"order-{next(_ids)}",
        "timestamp": at,
        "properties": {"order_id": f"o{next(_ids)}", "total": total, "currency": "VND", "payment_method": payment},
    }


def send(ws: Workspace, *messages: dict[str, Any]) -> None:
    result = append_messages(ws.log, list(messages), source="web", replay=True)
    assert result.rejected == 0, result.errors


FIRST = [
    identify("u-an", days_before(300), name="Nguyễn Văn An", email="an@example.vn", city="Hà Nội",
             birthday="1990-03-02"),
    identify("u-binh", days_before(200), name="Trần Thị Bình", email="binh@example.vn", city="Huế"),
    identify("u-chi", days_before(100), name="Lê Chi", email="chi@example.vn", city="Hà Nội"),
    order("u-an", days_before(120), 700_000),
    order("u-an", days_before(10), 800_000, "card"),
    order("u-binh", days_before(5), 200_000),
    order("u-binh", days_before(3), 300_000),
]  # fmt: skip

SAVED = {
    "big_spenders": {"trait": "total_spend_365d", "op": ">=", "value": 1_000_000},
    "hanoi": {"trait": "city", "op": "=", "value": "Hà Nội"},
    "recent_buyers": {"event": "Order Completed", "within_days": 30},
    "hanoi_big": {"all": [{"segment": "big_spenders"}, {"segment": "hanoi"}]},
}


def make_workspace(path: Path, store_url: str | None = None) -> Workspace:
    values: dict[str, Any] = {"identity_matching": False}
    if store_url is not None:
        values["store_url"] = store_url
    return Workspace.init(path, **values)


def start(ws: Workspace) -> dict[str, str]:
    """The first events, resolved, the saved segments; returns user id -> profile id."""
    send(ws, *FIRST)
    resolve(ws)
    for name, where in SAVED.items():
        segments.save(ws, {"name": name, "where": where})
    return profiles_of(ws)


def profiles_of(ws: Workspace) -> dict[str, str]:
    with ws.store.read() as conn:
        rows = conn.execute(
            select(identity_nodes.c.id_value, identity_nodes.c.profile_id).where(identity_nodes.c.id_type == "user_id")
        ).all()
    return {user: str(profile) for user, profile in rows}


def members_of(ws: Workspace, name: str, people: dict[str, str]) -> set[str]:
    by_profile = {p: u for u, p in people.items()}
    page = segments.members(ws, name, limit=1000)
    assert page["next"] is None
    assert page["total"] == len(page["members"])
    return {by_profile[m["profile_id"]] for m in page["members"]}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on SQLite with the first events, profiles and saved segments."""
    workspace = make_workspace(tmp_path / "ws")
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture
def people(ws: Workspace) -> dict[str, str]:
    return start(ws)


@pytest.fixture
def built(ws: Workspace, people: dict[str, str]) -> dict[str, str]:
    segments.build(ws, as_of=AS_OF)
    return people


# --- a build, a build that changes nothing, and a build after new events ------------------------------------------


def test_builds_write_memberships_then_only_changes(tmp_path: Path, store_url: str) -> None:
    ws = make_workspace(tmp_path / "ws", store_url)
    try:
        people = start(ws)
        first = segments.build(ws, as_of=AS_OF)
        assert first.as_of == AS_OF
        assert first.engine == "duckdb"
        assert first.profiles == 3
        expected = {
            "big_spenders": {"u-an"},
            "hanoi": {"u-an", "u-chi"},
            "recent_buyers": {"u-an", "u-binh"},
            "hanoi_big": {"u-an"},
        }
        for name, users in expected.items():
            assert members_of(ws, name, people) == users, name
            assert first.segments[name] == {"entered": len(users), "exited": 0, "members": len(users)}
        # RFM over the two buyers (two orders each): an spent more (M 5) but longer ago (R 1): Lost; binh R 5 F 1: New
        assert members_of(ws, "rfm_lost", people) == {"u-an"}
        assert members_of(ws, "rfm_new", people) == {"u-binh"}
        assert members_of(ws, "rfm_champions", people) == set()
        assert first.traits_written == 3
        with ws.store.read() as conn:
            assert conn.execute(select(func.count()).select_from(computed_traits)).scalar_one() == 3
            assert conn.execute(select(func.count()).select_from(segment_builds)).scalar_one() == 1
        listed = {s["name"]: s for s in segments.list_segments(ws)}
        assert {n: listed[n]["members"] for n in expected} == {n: len(u) for n, u in expected.items()}
        assert segments.get(ws, "hanoi")["members"] == 2
        with ws.store.read() as conn:
            view = segments.profile_view(conn, people["u-an"])
        assert view["computed_traits"]["total_spend_365d"] == 1_500_000
        assert view["computed_traits"]["orders_365d"] == 2
        assert view["computed_traits"]["days_since_last_order"] == 10
        assert {"big_spenders", "hanoi", "recent_buyers", "hanoi_big"} <= set(view["segments"])

        # the same data at the same as_of: nothing to write but the build's own row
        again = segments.build(ws, as_of=AS_OF)
        assert again.traits_written == 0
        assert all(change["entered"] == change["exited"] == 0 for change in again.segments.values())
        with ws.store.read() as conn:
            assert conn.execute(select(func.count()).select_from(segment_memberships)).scalar_one() == sum(
                c["members"] for c in again.segments.values()
            )

        # 40 days later: an's last order is 50 days old, binh ordered big, chi ordered for the first time
        send(ws, order("u-binh", days_before(2, LATER), 900_000), order("u-chi", days_before(1, LATER), 100_000))
        later = segments.build(ws, as_of=LATER)
        assert members_of(ws, "recent_buyers", people) == {"u-binh", "u-chi"}
        assert members_of(ws, "big_spenders", people) == {"u-an", "u-binh"}
        assert later.segments["recent_buyers"] == {"entered": 1, "exited": 1, "members": 2}
        assert later.segments["big_spenders"] == {"entered": 1, "exited": 0, "members": 2}
        assert later.segments["hanoi"] == {"entered": 0, "exited": 0, "members": 2}
        assert later.traits_written == 3  # everyone's days since or spend moved

        stays = segments.history(ws, people["u-an"])
        recent = [s for s in stays if s["segment"] == "recent_buyers"]
        assert len(recent) == 1
        assert recent[0]["exited_at"] is not None
        assert recent[0]["entered_at"] <= recent[0]["exited_at"]
        assert {s["segment"] for s in stays if s["exited_at"] is None} >= {"big_spenders", "hanoi", "hanoi_big"}
        binh = {s["segment"]: s for s in segments.history(ws, people["u-binh"])}
        assert binh["big_spenders"]["exited_at"] is None
        assert binh["recent_buyers"]["exited_at"] is None
    finally:
        ws.close()


def test_rfm_grid_counts_the_scored_profiles(built: dict[str, str], ws: Workspace) -> None:
    grid = segments.rfm_grid(ws)
    assert grid["scored"] == 2  # chi has no order
    assert sum(g["profiles"] for g in grid["groups"]) == 2
    assert sum(g["monetary"] for g in grid["groups"]) == 2_000_000
    assert sum(sum(row) for row in grid["grid"]["counts"]) == 2
    assert grid["as_of"] == AS_OF.isoformat()


# --- preview, explain, overlap ----------------------------------------------------------------------------------


def test_a_preview_holds_as_many_as_the_saved_and_built_segment(built: dict[str, str], ws: Workspace) -> None:
    draft = {
        "any": [
            {"trait": "total_spend_365d", "op": ">=", "value": 500_000},
            {"all": [{"trait": "city", "op": "=", "value": "Hà Nội"}, {"not": {"segment": "big_spenders"}}]},
        ]
    }
    preview = segments.preview(ws, {"where": draft})
    assert preview == {"size": 3, "profiles": 3, "as_of": AS_OF.isoformat()}  # the last build's instant
    with pytest.raises(NotFound):
        segments.get(ws, "draft")  # nothing saved
    segments.save(ws, {"name": "saved_draft", "where": draft})
    result = segments.build(ws, as_of=AS_OF)
    assert result.segments["saved_draft"]["members"] == preview["size"]


def test_a_preview_before_any_build_computes_the_traits(people: dict[str, str], ws: Workspace) -> None:
    preview = segments.preview(ws, {"where": {"trait": "city", "op": "=", "value": "Hà Nội"}})
    assert (preview["size"], preview["profiles"]) == (2, 3)


def _leaves(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "children" in node:
        for child in node["children"]:
            yield from _leaves(child)
    else:
        yield node


@pytest.mark.parametrize("user", ["u-an", "u-binh", "u-chi"])
def test_explain_agrees_with_the_membership(built: dict[str, str], ws: Workspace, user: str) -> None:
    small = {"not": {"trait": "total_spend_365d", "op": ">=", "value": 400_000}}
    segments.save(ws, {"name": "hanoi_or_not_big", "where": {"any": [{"segment": "hanoi_big"}, small]}})
    segments.build(ws, as_of=AS_OF)
    profile = built[user]
    for name in ("hanoi_big", "hanoi_or_not_big", "big_spenders", "hanoi"):
        answer = segments.explain(ws, name, profile)
        member = user in members_of(ws, name, built)
        assert answer["member"] == answer["member_since_last_build"] == member, name
        assert answer["explanation"]["met"] == member
        assert [leaf["path"] for leaf in _leaves(answer["explanation"])] == answer["conditions"]
    answer = segments.explain(ws, "hanoi_big", profile)
    met = {leaf["path"]: leaf["met"] for leaf in _leaves(answer["explanation"])}
    assert met == {
        "where.all[0]": user in members_of(ws, "big_spenders", built),
        "where.all[1]": user in members_of(ws, "hanoi", built),
    }
    spend = segments.explain(ws, "big_spenders", profile)["explanation"]
    assert float(spend["observed"]) == {"u-an": 1_500_000, "u-binh": 500_000, "u-chi": 0}[user]
    assert spend["condition"] == "trait total_spend_365d >= 1000000"


def test_explain_names_an_unknown_profile_or_segment(built: dict[str, str], ws: Workspace) -> None:
    with pytest.raises(NotFound, match="no profile"):
        segments.explain(ws, "hanoi", "prof_nobody")
    with pytest.raises(NotFound, match="no segment"):
        segments.explain(ws, "nowhere", built["u-an"])


def test_preview_and_explain_of_a_time_window_agree_with_the_last_build(built: dict[str, str], ws: Workspace) -> None:
    """They read the last build's computed traits, so they count events as of its instant too."""
    answer = segments.explain(ws, "recent_buyers", built["u-an"])
    assert (answer["member"], answer["member_since_last_build"]) == (True, True)
    assert answer["as_of"] == AS_OF.isoformat()
    preview = segments.preview(ws, {"where": SAVED["recent_buyers"]})
    assert preview["size"] == segments.get(ws, "recent_buyers")["members"] == 2
    # or as of another time: 40 days later an's order is too old
    later = segments.explain(ws, "recent_buyers", built["u-an"], as_of=LATER)
    assert (later["member"], later["member_since_last_build"]) == (False, True)
    assert segments.preview(ws, {"where": SAVED["recent_buyers"]}, as_of=LATER)["size"] == 0


def test_overlap_counts_shared_members(built: dict[str, str], ws: Workspace) -> None:
    assert segments.overlap(ws, "hanoi", "recent_buyers") == {
        "a": "hanoi",
        "b": "recent_buyers",
        "a_size": 2,
        "b_size": 2,
        "both": 1,
        "only_a": 1,
        "only_b": 1,
    }
    same = segments.overlap(ws, "big_spenders", "hanoi_big")
    assert (same["both"], same["only_a"], same["only_b"]) == (1, 0, 0)
    with pytest.raises(NotFound):
        segments.overlap(ws, "hanoi", "nowhere")


def test_members_page_through_by_profile_id(built: dict[str, str], ws: Workspace) -> None:
    first = segments.members(ws, "hanoi", limit=1)
    assert (first["total"], len(first["members"])) == (2, 1)
    second = segments.members(ws, "hanoi", limit=1, after=first["next"])
    assert second["next"] is None
    ids = [first["members"][0]["profile_id"], second["members"][0]["profile_id"]]
    assert ids == sorted({built["u-an"], built["u-chi"]})
    assert {m["email"] for m in [*first["members"], *second["members"]]} == {"an@example.vn", "chi@example.vn"}
    with pytest.raises(InvalidInput):
        segments.members(ws, "hanoi", limit=0)


# --- saving: nothing bad is kept --------------------------------------------------------------------------------


def _saved_names(ws: Workspace) -> set[str]:
    return {s["name"] for s in segments.list_segments(ws) if not s["ready_made"]}


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"name": "bad", "where": {"all": [{"trait": "city", "op": "is set"}, {"trait": "colour", "op": "is set"}]}},
         "where.all[1].trait"),
        ({"name": "bad", "where": {"event": "Order Complete"}}, "where.event"),
        ({"name": "bad", "where": {"trait": "total_spend_365d", "op": "contains", "value": "1"}}, "where.op"),
        ({"name": "bad", "where": {"segment": "nowhere"}}, "where.segment"),
        ({"name": "Bad Name", "where": {"trait": "city", "op": "is set"}}, "name"),
        ({"name": "rfm_mine", "where": {"trait": "city", "op": "is set"}}, "name"),
        ({"name": "preview", "where": {"trait": "city", "op": "is set"}}, "name"),
        ({"name": "bad", "where": {"event": "Order Completed", "since_trait": "first_order_at"}},
         "where.since_trait"),
    ],
)  # fmt: skip
def test_save_refuses_a_bad_definition_and_keeps_nothing(
    people: dict[str, str], ws: Workspace, data: dict[str, Any], path: str
) -> None:
    before = _saved_names(ws)
    with pytest.raises(DefinitionError) as caught:
        segments.save(ws, data)
    assert caught.value.path == path
    assert _saved_names(ws) == before


def test_a_typo_in_a_saved_definition_is_suggested(people: dict[str, str], ws: Workspace) -> None:
    with pytest.raises(DefinitionError, match="did you mean 'city'"):
        segments.save(ws, {"name": "bad", "where": {"trait": "ctiy", "op": "is set"}})


def test_create_refuses_an_existing_name_and_update_an_unknown_one(people: dict[str, str], ws: Workspace) -> None:
    with pytest.raises(InvalidInput, match="exists"):
        segments.save(ws, {"name": "hanoi", "where": {"trait": "city", "op": "=", "value": "Huế"}})
    assert segments.get(ws, "hanoi")["definition"]["where"] == SAVED["hanoi"]
    with pytest.raises(NotFound):
        segments.save(ws, {"where": {"trait": "city", "op": "is set"}}, name="nowhere", replace=True)


def test_update_changes_the_definition_and_the_next_build_follows(built: dict[str, str], ws: Workspace) -> None:
    # big_spenders is referred to by hanoi_big: it can still be changed
    updated = segments.save(ws, {"where": {"trait": "total_spend_365d", "op": ">=", "value": 400_000}},
                            name="big_spenders", replace=True)  # fmt: skip
    assert updated["definition"]["where"]["value"] == 400_000
    result = segments.build(ws, as_of=AS_OF)
    assert members_of(ws, "big_spenders", built) == {"u-an", "u-binh"}
    assert result.segments["big_spenders"] == {"entered": 1, "exited": 0, "members": 2}
    assert members_of(ws, "hanoi_big", built) == {"u-an"}


def test_delete_is_refused_while_another_segment_refers_to_it(built: dict[str, str], ws: Workspace) -> None:
    with pytest.raises(InvalidInput, match="'hanoi_big' refers to 'big_spenders'"):
        segments.delete_segment(ws, "big_spenders")
    assert "big_spenders" in _saved_names(ws)
    segments.delete_segment(ws, "hanoi_big")
    segments.delete_segment(ws, "big_spenders")
    assert _saved_names(ws) == {"hanoi", "recent_buyers"}
    with ws.store.read() as conn:
        left = conn.execute(
            select(func.count()).where(segment_memberships.c.segment.in_(("big_spenders", "hanoi_big")))
        ).scalar_one()
    assert left == 0
    with pytest.raises(NotFound):
        segments.delete_segment(ws, "big_spenders")
    segments.build(ws, as_of=AS_OF)  # the build no longer knows them


def test_a_cycle_through_an_update_is_refused(people: dict[str, str], ws: Workspace) -> None:
    segments.save(ws, {"name": "loop_a", "where": {"trait": "city", "op": "=", "value": "Huế"}})
    segments.save(ws, {"name": "loop_b", "where": {"any": [{"segment": "loop_a"}, {"segment": "hanoi"}]}})
    with pytest.raises(DefinitionError, match="in a cycle"):
        segments.save(ws, {"where": {"not": {"segment": "loop_b"}}}, name="loop_a", replace=True)
    assert segments.get(ws, "loop_a")["definition"]["where"] == {"trait": "city", "op": "=", "value": "Huế"}
    with pytest.raises(DefinitionError):
        segments.save(ws, {"where": {"segment": "loop_a"}}, name="loop_a", replace=True)
    segments.build(ws, as_of=AS_OF)


def test_a_cycle_error_points_at_the_definition_being_written(people: dict[str, str], ws: Workspace) -> None:
    segments.save(ws, {"name": "loop_a", "where": {"trait": "city", "op": "=", "value": "Huế"}})
    segments.save(ws, {"name": "loop_b", "where": {"any": [{"segment": "loop_a"}, {"segment": "hanoi"}]}})
    with pytest.raises(DefinitionError, match="in a cycle") as caught:
        segments.save(ws, {"where": {"not": {"segment": "loop_b"}}}, name="loop_a", replace=True)
    assert caught.value.path == "where.not.segment"


@pytest.mark.parametrize("name", ["case", "select", "order", "union"])
def test_any_name_save_accepts_builds(people: dict[str, str], ws: Workspace, name: str) -> None:
    segments.save(ws, {"name": name, "where": {"trait": "city", "op": "=", "value": "Huế"}})
    segments.build(ws, as_of=AS_OF)
    assert members_of(ws, name, people) == {"u-binh"}


@pytest.mark.parametrize("name", ["profile_id", "preview", "build"])
def test_names_the_build_or_the_api_use_are_refused(ws: Workspace, name: str) -> None:
    with pytest.raises(DefinitionError, match="reserved") as caught:
        segments.save(ws, {"name": name, "where": {"trait": "city", "op": "=", "value": "Huế"}})
    assert caught.value.path == "name"


# --- traits.yaml ------------------------------------------------------------------------------------------------

TRAITS_YAML = """\
computed_traits:
  - name: card_orders
    description: Orders paid by card, ever
    aggregate: count
    event: Order Completed
    where:
      - {property: payment_method, op: "=", value: card}
  - name: biggest_order
    aggregate: max
    event: Order Completed
    column: amount_minor
  - name: last_total
    aggregate: last_value
    event: Order Completed
    property: total
    type: number
"""


def test_a_custom_computed_trait_from_traits_yaml_is_usable(people: dict[str, str], ws: Workspace) -> None:
    (ws.path / segments.TRAITS_FILE).write_text(TRAITS_YAML, encoding="utf-8")
    segments.save(ws, {"name": "card_payers", "where": {"trait": "card_orders", "op": ">=", "value": 1}})
    segments.save(ws, {"name": "big_basket", "where": {"trait": "biggest_order", "op": ">", "value": 500_000}})
    segments.save(ws, {"name": "last_big", "where": {"trait": "last_total", "op": ">=", "value": 300_000}})
    segments.build(ws, as_of=AS_OF)
    assert members_of(ws, "card_payers", people) == {"u-an"}
    assert members_of(ws, "big_basket", people) == {"u-an"}
    assert members_of(ws, "last_big", people) == {"u-an", "u-binh"}
    with ws.store.read() as conn:
        traits = segments.profile_view(conn, people["u-binh"])["computed_traits"]
    assert (traits["card_orders"], traits["biggest_order"], traits["last_total"]) == (0, 300_000, 300_000)
    assert traits["total_spend_365d"] == 500_000
    assert "card_orders" in segments.describe_catalog(ws)["computed_traits"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("computed_traits:\n  - {name: ok, aggregate: count}\n  - {name: bad, aggregate: median, property: x}\n",
         "computed_traits[1].aggregate"),
        ("computed_traits:\n  - {name: Bad Name, aggregate: count}\n", "computed_traits[0].name"),
        ("computed_traits:\n  - {name: x, aggregate: count, colour: red}\n", "computed_traits[0].colour"),
        ("traits: []\n", "traits"),
        ("computed_traits:\n  - {name: x, aggregate: count, type: number}\n", "computed_traits[0].type"),
    ],
)  # fmt: skip
def test_a_bad_traits_yaml_names_the_bad_entry(people: dict[str, str], ws: Workspace, text: str, path: str) -> None:
    (ws.path / segments.TRAITS_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        segments.load_traits(ws)
    assert caught.value.path == path
    with pytest.raises(DefinitionError):
        segments.build(ws, as_of=AS_OF)


def test_a_bad_reference_in_traits_yaml_names_the_files_entry(people: dict[str, str], ws: Workspace) -> None:
    text = "computed_traits:\n  - {name: r, kind: ratio, numerator: nope, denominator: orders_365d}\n"
    (ws.path / segments.TRAITS_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        segments.load_traits(ws)
    assert caught.value.path.startswith("computed_traits[0]")


def test_traits_yaml_that_is_not_yaml_is_refused(people: dict[str, str], ws: Workspace) -> None:
    (ws.path / segments.TRAITS_FILE).write_text("computed_traits: [\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        segments.load_traits(ws)


# --- the shipped examples, and Spark ------------------------------------------------------------------------------


def test_the_example_segments_save_and_build(people: dict[str, str], ws: Workspace) -> None:
    written = segments.write_example_segments(ws)
    assert len(written) >= 5
    assert segments.write_example_segments(ws) == []  # not twice
    result = segments.build(ws, as_of=AS_OF)
    assert set(written) <= set(result.segments)
    assert members_of(ws, "birthday_soon", people) == {"u-an"}  # 2 March, today


@pytest.mark.spark
@pytest.mark.slow
def test_a_spark_build_after_a_duckdb_build_changes_nothing(
    built: dict[str, str], ws: Workspace, spark_engine: Engine
) -> None:
    """The same inputs and as_of on the other engine: the same computed traits (as stored) and the same members,
    so nothing is written; a preview reading the DuckDB build's Parquet on Spark gives the same size too."""
    draft = {"where": {"any": [{"segment": "hanoi_big"}, {"trait": "total_spend_365d", "op": "<", "value": 600_000}]}}
    on_duckdb = segments.preview(ws, draft)
    result = segments.build(ws, as_of=AS_OF, engine=spark_engine)
    assert result.engine == "spark"
    assert result.traits_written == 0
    assert {n: (c["entered"], c["exited"]) for n, c in result.segments.items() if c["entered"] or c["exited"]} == {}
    assert segments.preview(ws, draft, engine=spark_engine) == on_duckdb
    assert (on_duckdb["size"], on_duckdb["profiles"]) == (3, 3)
