"""`/v1/segments` and a profile's segments through the real app, over a small workspace with known events.

Five people identify and order (``populate``); identity resolution makes their profiles and a build at the fixed
time ``AS_OF`` computes traits, RFM and members, so the members below are exact and never depend on today's date.
Previews and explanations read the build's computed traits: the definitions they use compare computed traits,
not event windows, which would be measured from the clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.services import profiles, segments
from c360.services.identity import resolve
from c360.services.ingest import append_messages
from c360.workspace import Workspace
from tests.api.conftest import TestClient, bearer, client_for, new_key
from tests.cli.support import SETTING_ENV_VARS

AS_OF = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
#: (userId, name, province, orders as (day, total in VND))
PEOPLE: tuple[tuple[str, str, str, tuple[tuple[str, int], ...]], ...] = (
    ("u-lan", "Trần Thị Lan", "HCM", (("2026-02-10", 3_000_000), ("2026-02-11", 500_000))),
    ("u-minh", "Lê Văn Minh", "Hà Nội", (("2026-02-10", 2_500_000),)),
    ("u-hoa", "Phạm Thị Hoa", "Đà Nẵng", (("2026-02-10", 400_000),)),
    ("u-tuan", "Ngô Tuấn", "HCM", ()),
    ("u-old", "Đỗ Văn Cũ", "HCM", (("2024-12-01", 5_000_000),)),  # a big order, but more than 365 days ago
)

BIG_BUYERS: dict[str, Any] = {
    "name": "big_buyers",
    "title": "Big buyers",
    "description": "Spent 2M VND in a year, outside Hà Nội",
    "where": {
        "all": [
            {"event": "Order Completed", "sum": "total", "op": ">=", "value": 2000000, "within_days": 365},
            {"not": {"trait": "province", "op": "=", "value": "Hà Nội"}},
        ]
    },
}
BUYERS: dict[str, Any] = {"name": "buyers", "where": {"trait": "orders_365d", "op": ">=", "value": 1}}
HCM: dict[str, Any] = {
    "name": "hcm",
    "title": "Ho Chi Minh City",
    "where": {"trait": "province", "op": "=", "value": "HCM"},
}
#: big_buyers over computed traits: what an explanation can show the same way on any day
SPENDERS: dict[str, Any] = {
    "name": "spenders",
    "where": {
        "all": [
            {"trait": "total_spend_365d", "op": ">=", "value": 2000000},
            {"not": {"trait": "province", "op": "=", "value": "Hà Nội"}},
        ]
    },
}
SAVED = (BIG_BUYERS, BUYERS, HCM, SPENDERS)


def messages() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for user, name, province, orders in PEOPLE:
        out.append({"type": "identify", "userId": user, "messageId": f"id-{user}", "timestamp": "2024-11-01T08:00:00Z",
                    "traits": {"name": name, "email": f"{user}@example.vn", "province": province}})  # fmt: skip
        for i, (day, total) in enumerate(orders):
            out.append({"type": "track", "userId": user, "event": "Order Completed", "messageId": f"order-{user}-{i}",
                        "timestamp": f"{day}T08:00:00Z",
                        "properties": {"order_id": f"{user}-{i}", "total": total, "currency": "VND"}})  # fmt: skip
        out.append({"type": "track", "userId": user, "event": "Product Viewed", "messageId": f"view-{user}",
                    "timestamp": "2026-02-20T08:00:00Z", "properties": {"category": "Trà"}})  # fmt: skip
    return out


def populate(ws: Workspace) -> None:
    """The people's events, resolved into profiles (no segment saved, nothing built)."""
    assert append_messages(ws.log, messages(), source="web", replay=True).accepted == 15
    resolve(ws)


def save_all(ws: Workspace) -> None:
    for definition in SAVED:
        segments.save(ws, definition)


def pid(ws: Workspace, user: str) -> str:
    """The profile id of a userId."""
    found = profiles.lookup(ws.store, ws.settings, user_id=user)
    [profile] = found["profiles"]
    return str(profile["profile_id"])


def built_workspace(path: Path) -> Workspace:
    """A workspace with the people, the saved segments and a build at AS_OF."""
    ws = Workspace.init(path)
    populate(ws)
    save_all(ws)
    segments.build(ws, as_of=AS_OF)
    return ws


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Shared by the tests that only read: built once for this file."""
    with pytest.MonkeyPatch.context() as patch:
        for name in SETTING_ENV_VARS:
            patch.delenv(name, raising=False)
        ws = built_workspace(tmp_path_factory.mktemp("segments-api") / "ws")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture(scope="module")
def api(built: Workspace) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        for name in SETTING_ENV_VARS:
            patch.delenv(name, raising=False)
        with client_for(built.path) as client:
            yield client


@pytest.fixture(scope="module")
def read(built: Workspace) -> dict[str, str]:
    return bearer(new_key(built, "read"))


@pytest.fixture
def fresh(workspace: Workspace) -> Iterator[tuple[Workspace, TestClient, dict[str, str]]]:
    """An empty workspace (no events; the catalog knows the standard traits and events), its client and an
    admin key: for the tests that write."""
    with client_for(workspace.path) as client:
        yield workspace, client, bearer(new_key(workspace, "admin"))


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["profile_id"] for row in rows]


# --- keys and scopes -----------------------------------------------------------------------------------------------
READ_ROUTES = [
    ("get", "/v1/segments", None),
    ("get", "/v1/segments/big_buyers", None),
    ("get", "/v1/segments/big_buyers/members", None),
    ("get", "/v1/segments/big_buyers/members?format=csv", None),
    ("get", "/v1/segments/overlap?a=big_buyers&b=buyers", None),
    ("get", "/v1/segments/rfm", None),
    ("get", "/v1/segments/catalog", None),
    ("post", "/v1/segments/preview", {"where": {"trait": "orders_365d", "op": ">=", "value": 2}}),
]
WRITE_ROUTES = [
    ("post", "/v1/segments", {"name": "new_one", "where": {"trait": "province", "op": "=", "value": "HCM"}}),
    ("put", "/v1/segments/hcm", {"where": {"trait": "province", "op": "=", "value": "Huế"}}),
    ("delete", "/v1/segments/hcm", None),
    ("post", "/v1/segments/build", {}),
]


def test_every_route_needs_an_api_key(api: TestClient) -> None:
    for method, path, body in [*READ_ROUTES, *WRITE_ROUTES, ("get", "/v1/profiles/prof_x/segments", None)]:
        response = api.request(method, path, json=body, headers=bearer("c360_read_not-a-real-key"))
        assert (response.status_code, response.json()["code"]) == (401, "unauthorized"), (method, path)
        assert api.request(method, path, json=body).status_code == 401, (method, path)


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_every_scope_reads(built: Workspace, api: TestClient, scope: str) -> None:
    headers = bearer(new_key(built, scope))
    for method, path, body in READ_ROUTES:
        assert api.request(method, path, json=body, headers=headers).status_code == 200, (method, path)


@pytest.mark.parametrize("scope", ["read", "write"])
def test_writing_needs_the_admin_scope(built: Workspace, api: TestClient, scope: str) -> None:
    headers = bearer(new_key(built, scope))
    for method, path, body in WRITE_ROUTES:
        response = api.request(method, path, json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, "forbidden"), (method, path)
    assert api.get("/v1/segments/hcm", headers=headers).json()["definition"] == HCM  # nothing changed


# --- reading -------------------------------------------------------------------------------------------------------
def test_list_has_the_ready_made_and_the_saved_segments(api: TestClient, read: dict[str, str]) -> None:
    rows = api.get("/v1/segments", headers=read).json()
    saved = [(r["name"], r["title"], r["ready_made"], r["members"]) for r in rows if not r["ready_made"]]
    assert saved == [("big_buyers", "Big buyers", False, 1), ("buyers", "buyers", False, 3),
                     ("hcm", "Ho Chi Minh City", False, 3), ("spenders", "spenders", False, 1)]  # fmt: skip
    ready = {r["name"]: r["members"] for r in rows if r["ready_made"]}
    assert (len(ready), ready["rfm_champions"]) == (11, 1)
    assert sum(ready.values()) == 3  # every profile with an order in 365 days is in exactly one RFM group


def test_get_a_segment(api: TestClient, read: dict[str, str]) -> None:
    body = api.get("/v1/segments/big_buyers", headers=read).json()
    assert body["definition"] == BIG_BUYERS
    assert (body["title"], body["description"], body["ready_made"], body["members"]) == (
        "Big buyers", "Spent 2M VND in a year, outside Hà Nội", False, 1
    )  # fmt: skip
    ready = api.get("/v1/segments/rfm_champions", headers=read).json()
    assert ready["ready_made"] is True
    assert ready["definition"]["where"] == {"trait": "rfm_group", "op": "=", "value": "Champions"}


def test_an_unknown_segment_is_404(api: TestClient, read: dict[str, str]) -> None:
    for path in ("/v1/segments/nope", "/v1/segments/nope/members", "/v1/segments/nope/members?format=csv",
                 "/v1/segments/overlap?a=nope&b=buyers", "/v1/segments/overlap?a=buyers&b=nope"):  # fmt: skip
        response = api.get(path, headers=read)
        assert response.status_code == 404, path
        assert response.json() == {"code": "not_found", "message": "no segment 'nope'"}, path


def test_the_fixed_routes_are_not_taken_for_names(api: TestClient, read: dict[str, str]) -> None:
    assert "grid" in api.get("/v1/segments/rfm", headers=read).json()
    assert "events" in api.get("/v1/segments/catalog", headers=read).json()
    assert api.get("/v1/segments/overlap?a=hcm&b=buyers", headers=read).json()["both"] == 1


# --- members -------------------------------------------------------------------------------------------------------
def test_members_are_exact(built: Workspace, api: TestClient, read: dict[str, str]) -> None:
    expected = {
        "big_buyers": ["u-lan"],  # u-minh lives in Hà Nội; u-old's order is older than 365 days
        "buyers": ["u-lan", "u-minh", "u-hoa"],
        "hcm": ["u-lan", "u-tuan", "u-old"],
        "spenders": ["u-lan"],
    }
    for name, users in expected.items():
        body = api.get(f"/v1/segments/{name}/members", headers=read).json()
        assert _ids(body["members"]) == sorted(pid(built, u) for u in users), name
        assert (body["segment"], body["total"], body["next"]) == (name, len(users), None)
    [lan] = api.get("/v1/segments/big_buyers/members", headers=read).json()["members"]
    assert (lan["name"], lan["email"], lan["phone"]) == ("Trần Thị Lan", "u-lan@example.vn", None)


def test_members_come_in_pages(built: Workspace, api: TestClient, read: dict[str, str]) -> None:
    everyone = sorted(pid(built, u) for u in ("u-lan", "u-tuan", "u-old"))
    first = api.get("/v1/segments/hcm/members", params={"limit": 2}, headers=read).json()
    assert (_ids(first["members"]), first["next"], first["total"]) == (everyone[:2], everyone[1], 3)
    second = api.get("/v1/segments/hcm/members", params={"limit": 2, "after": first["next"]}, headers=read).json()
    assert (_ids(second["members"]), second["next"]) == (everyone[2:], None)
    for limit in (0, 1001):
        bad = api.get("/v1/segments/hcm/members", params={"limit": limit}, headers=read)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "limit"


def test_members_as_csv(built: Workspace, api: TestClient, read: dict[str, str]) -> None:
    response = api.get("/v1/segments/hcm/members", params={"format": "csv", "limit": 1}, headers=read)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="hcm.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["profile_id", "name", "email", "phone", "entered_at"]
    page = segments.members(built, "hcm")["members"]
    assert rows[1:] == [[m["profile_id"], m["name"], m["email"], "", m["entered_at"]] for m in page]
    assert {row[1] for row in rows[1:]} == {"Trần Thị Lan", "Ngô Tuấn", "Đỗ Văn Cũ"}  # every member: limit ignored


# --- overlap, explain, rfm, catalog ----------------------------------------------------------------------------------
def test_overlap(api: TestClient, read: dict[str, str]) -> None:
    body = api.get("/v1/segments/overlap", params={"a": "hcm", "b": "buyers"}, headers=read).json()
    assert body == {"a": "hcm", "b": "buyers", "a_size": 3, "b_size": 3, "both": 1, "only_a": 2, "only_b": 2}
    same = api.get("/v1/segments/overlap", params={"a": "big_buyers", "b": "spenders"}, headers=read).json()
    assert (same["both"], same["only_a"], same["only_b"]) == (1, 0, 0)
    missing = api.get("/v1/segments/overlap", params={"a": "hcm"}, headers=read)
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "b")


def test_explain_says_which_condition_failed(built: Workspace, api: TestClient, read: dict[str, str]) -> None:
    minh = pid(built, "u-minh")
    body = api.get("/v1/segments/spenders/explain", params={"profile": minh}, headers=read).json()
    assert (body["segment"], body["profile_id"], body["member"], body["member_since_last_build"]) == (
        "spenders", minh, False, False
    )  # fmt: skip
    root = body["explanation"]
    assert (root["path"], root["condition"], root["met"]) == ("where", "all of", False)
    spend, outside = root["children"]
    assert (spend["path"], spend["condition"], spend["met"]) == (
        "where.all[0]", "trait total_spend_365d >= 2000000", True
    )  # fmt: skip
    assert float(spend["observed"]) == 2_500_000
    assert (outside["condition"], outside["met"]) == ("not", False)
    [province] = outside["children"]
    assert (province["path"], province["met"], province["observed"]) == ("where.all[1].not", True, "Hà Nội")
    assert body["conditions"] == ["where.all[0]", "where.all[1].not"]

    lan = api.get("/v1/segments/spenders/explain", params={"profile": pid(built, "u-lan")}, headers=read).json()
    assert (lan["member"], lan["member_since_last_build"], lan["explanation"]["met"]) == (True, True, True)


def test_explain_of_unknown_things_is_404(built: Workspace, api: TestClient, read: dict[str, str]) -> None:
    nobody = api.get("/v1/segments/spenders/explain", params={"profile": "prof_nobody"}, headers=read)
    assert (nobody.status_code, nobody.json()["message"]) == (404, "no profile 'prof_nobody'")
    params = {"profile": pid(built, "u-lan")}
    unknown = api.get("/v1/segments/nope/explain", params=params, headers=read)
    assert (unknown.status_code, unknown.json()["message"]) == (404, "no segment 'nope'")
    missing = api.get("/v1/segments/spenders/explain", headers=read)
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "profile")


def test_rfm_grid(api: TestClient, read: dict[str, str]) -> None:
    body = api.get("/v1/segments/rfm", headers=read).json()
    assert (body["as_of"], body["scored"], body["currency"]) == (AS_OF.isoformat(), 3, "VND")
    groups = {g["group"]: (g["profiles"], g["monetary"]) for g in body["groups"] if g["profiles"]}
    assert groups["Champions"] == (1, 3_500_000)  # Lan: the latest, most frequent and biggest buyer
    assert sum(count for count, _ in groups.values()) == 3
    assert sum(money for _, money in groups.values()) == 3_500_000 + 2_500_000 + 400_000
    assert body["grid"]["counts"][4][4] == 1  # R5 F5
    assert sum(map(sum, body["grid"]["counts"])) == 3


def test_catalog(api: TestClient, read: dict[str, str]) -> None:
    body = api.get("/v1/segments/catalog", headers=read).json()
    assert body["traits"]["province"] == "string"
    assert body["computed_traits"]["orders_365d"] == "number"
    events = {e["event"]: e["properties"] for e in body["events"]}
    assert events["Order Completed"]["total"] == "number"
    assert {"big_buyers", "buyers", "hcm", "spenders", "rfm_champions"} <= set(body["segments"])


# --- a profile's segments --------------------------------------------------------------------------------------------
def test_the_profile_shows_computed_traits_and_segments(
    built: Workspace, api: TestClient, read: dict[str, str]
) -> None:
    lan = api.get(f"/v1/profiles/{pid(built, 'u-lan')}", headers=read).json()
    traits = lan["computed_traits"]
    assert (traits["orders_365d"], traits["total_spend_365d"], traits["rfm_group"]) == (2, 3_500_000, "Champions")
    assert traits["last_order_at"] == "2026-02-11T08:00:00Z"
    assert lan["computed_at"] is not None
    assert lan["segments"] == ["big_buyers", "buyers", "hcm", "rfm_champions", "spenders"]
    tuan = api.get(f"/v1/profiles/{pid(built, 'u-tuan')}", headers=read).json()
    assert tuan["computed_traits"]["orders_365d"] == 0
    assert "rfm_group" not in tuan["computed_traits"]
    assert tuan["segments"] == ["hcm"]


def test_a_profiles_segment_history(built: Workspace, api: TestClient, read: dict[str, str]) -> None:
    hoa = pid(built, "u-hoa")
    body = api.get(f"/v1/profiles/{hoa}/segments", headers=read).json()
    assert body["profile_id"] == hoa
    assert sorted(h["segment"] for h in body["history"]) == ["buyers", "rfm_lost"]
    assert all(h["exited_at"] is None for h in body["history"])
    nobody = api.get("/v1/profiles/prof_nobody/segments", headers=read)
    assert (nobody.status_code, nobody.json()["message"]) == (404, "no profile 'prof_nobody'")


# --- writing -------------------------------------------------------------------------------------------------------
def test_create_then_get(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    response = api.post("/v1/segments", json=BIG_BUYERS, headers=admin)
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["definition"], body["members"]) == ("big_buyers", BIG_BUYERS, 0)
    assert api.get("/v1/segments/big_buyers", headers=admin).json() == body


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"name": "x", "where": {"all": [{"trait": "province", "op": "=", "value": "HCM"},
                                         {"not": {"trait": "provnce", "op": "=", "value": "HCM"}}]}},
         "where.all[1].not.trait: no trait 'provnce'; did you mean 'province'"),
        ({"name": "x", "where": {"trait": "orders_365d", "op": "contains", "value": "2"}},
         "where.op: `contains` needs text; this is number"),
        ({"name": "x", "where": {"all": [{"trait": "orders_365d", "op": ">=", "value": "many"}]}},
         "where.all[0].value: must be a number, not 'many'"),
        ({"name": "x", "where": {"event": "Order Completed", "sum": "total", "op": ">=", "value": 1,
                                 "within_days": 0}},
         "where.within_days: must be a whole number of days from 1 to 36600"),
        ({"name": "x", "where": {"event": "Order Completed", "sum": "currency", "op": ">=", "value": 1}},
         "where.sum: sum needs a number property; 'currency' is string"),
        ({"name": "Bad Name", "where": {"trait": "province", "op": "is set"}},
         "name: must be 1-63 lower-case letters, digits or underscores, starting with a letter"),
        ({"name": "x", "where": {"segment": "nope"}}, "where.segment: no segment 'nope'"),
    ],
    ids=["unknown-trait", "text-op-on-a-number", "text-for-a-number", "window", "sum-of-text", "name",
         "unknown-segment"],
)  # fmt: skip
def test_a_bad_definition_is_422_naming_the_key_and_saves_nothing(
    fresh: tuple[Workspace, TestClient, dict[str, str]], definition: dict[str, Any], message: str
) -> None:
    ws, api, admin = fresh
    response = api.post("/v1/segments", json=definition, headers=admin)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")
    assert response.json()["message"].startswith(message)
    assert [r["name"] for r in segments.list_segments(ws) if not r["ready_made"]] == []  # nothing saved
    preview = api.post("/v1/segments/preview", json=definition, headers=admin)
    assert preview.status_code == 422
    assert preview.json()["message"].startswith(message)


def test_the_ready_made_names_are_refused(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    response = api.post("/v1/segments", json={"name": "rfm_mine", "where": {"trait": "province", "op": "is set"}},
                        headers=admin)  # fmt: skip
    assert (response.status_code, response.json()["message"]) == (
        422, "name: names starting with rfm_ are the ready-made RFM segments"
    )  # fmt: skip
    assert api.get("/v1/segments/rfm_mine", headers=admin).status_code == 404


def test_a_body_that_is_not_an_object_is_422(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    response = api.post("/v1/segments", json=["big_buyers"], headers=admin)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_input")


def test_a_name_in_use_is_422(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    assert api.post("/v1/segments", json=HCM, headers=admin).status_code == 201
    again = api.post("/v1/segments", json={**HCM, "title": "Another"}, headers=admin)
    assert again.status_code == 422
    assert again.json()["message"] == "name: segment 'hcm' exists; update it instead"
    assert api.get("/v1/segments/hcm", headers=admin).json()["title"] == "Ho Chi Minh City"


def test_update(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    created = api.post("/v1/segments", json=HCM, headers=admin).json()
    change = {"title": "Huế", "where": {"trait": "province", "op": "=", "value": "Huế"}}
    response = api.put("/v1/segments/hcm", json=change, headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["definition"]) == ("Huế", {"name": "hcm", **change})
    assert body["created_at"] == created["created_at"]
    assert api.get("/v1/segments/hcm", headers=admin).json() == body

    other_name = api.put("/v1/segments/hcm", json={**change, "name": "hue"}, headers=admin)
    assert (other_name.status_code, other_name.json()["message"]) == (
        422,
        "name: must be 'hcm', the segment being written",
    )
    unknown = api.put("/v1/segments/nope", json=change, headers=admin)
    assert (unknown.status_code, unknown.json()["message"]) == (404, "no segment 'nope'")
    bad = api.put("/v1/segments/hcm", json={"where": {"trait": "province", "op": ">", "value": 1}}, headers=admin)
    assert (bad.status_code, bad.json()["message"]) == (422, "where.value: must be text, not 1")
    assert api.get("/v1/segments/hcm", headers=admin).json() == body  # unchanged


def test_a_cycle_between_segments_is_refused(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    assert api.post("/v1/segments", json=HCM, headers=admin).status_code == 201
    local = {
        "name": "local_buyers",
        "where": {"all": [{"segment": "hcm"}, {"trait": "orders_365d", "op": ">", "value": 0}]},
    }
    assert api.post("/v1/segments", json=local, headers=admin).status_code == 201
    itself = api.put("/v1/segments/hcm", json={"where": {"segment": "hcm"}}, headers=admin)
    assert itself.status_code == 422
    cycle = api.put("/v1/segments/hcm", json={"where": {"any": [{"segment": "local_buyers"}]}}, headers=admin)
    assert (cycle.status_code, cycle.json()["code"]) == (422, "invalid_input")
    assert "cycle" in cycle.json()["message"]
    assert "hcm -> local_buyers" in cycle.json()["message"] or "local_buyers -> hcm" in cycle.json()["message"]
    assert api.get("/v1/segments/hcm", headers=admin).json()["definition"] == HCM


def test_a_segment_others_refer_to_can_be_updated(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    api.post("/v1/segments", json=HCM, headers=admin)
    api.post("/v1/segments", json={"name": "in_hcm", "where": {"segment": "hcm"}}, headers=admin)
    change = {"where": {"trait": "province", "op": "in", "value": ["HCM", "Hồ Chí Minh"]}}
    response = api.put("/v1/segments/hcm", json=change, headers=admin)
    assert (response.status_code, response.json()["definition"]["where"]) == (200, change["where"])


def test_delete(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    api.post("/v1/segments", json=HCM, headers=admin)
    api.post("/v1/segments", json={"name": "in_hcm", "where": {"segment": "hcm"}}, headers=admin)
    refused = api.delete("/v1/segments/hcm", headers=admin)
    assert (refused.status_code, refused.json()["message"]) == (
        422,
        "name: segment 'in_hcm' refers to 'hcm'; change it first",
    )
    assert api.delete("/v1/segments/in_hcm", headers=admin).status_code == 204
    response = api.delete("/v1/segments/hcm", headers=admin)
    assert (response.status_code, response.content) == (204, b"")
    assert api.get("/v1/segments/hcm", headers=admin).status_code == 404
    assert api.delete("/v1/segments/hcm", headers=admin).status_code == 404


def test_preview_counts_a_draft_without_saving_it(api: TestClient, read: dict[str, str]) -> None:
    draft = {"where": {"all": [{"trait": "orders_365d", "op": ">=", "value": 1}, {"segment": "hcm"}]}}
    response = api.post("/v1/segments/preview", json=draft, headers=read)
    assert response.json() == {"size": 1, "profiles": 5, "as_of": AS_OF.isoformat()}  # Lan: a buyer in HCM
    named = api.post("/v1/segments/preview", json={"name": "busy", **draft}, headers=read)
    assert named.json() == {"size": 1, "profiles": 5, "as_of": AS_OF.isoformat()}
    assert "busy" not in {r["name"] for r in api.get("/v1/segments", headers=read).json()}


# --- the build -----------------------------------------------------------------------------------------------------
def test_a_build_over_the_api_on_each_store(any_store_ws: Workspace) -> None:
    """The whole flow on SQLite and PostgreSQL: define, build as of a time, read members, build again later."""
    ws = any_store_ws
    populate(ws)
    with client_for(ws.path) as api:
        admin = bearer(new_key(ws, "admin"))
        lan = pid(ws, "u-lan")
        assert api.get(f"/v1/profiles/{lan}", headers=admin).json()["computed_traits"] == {}
        assert api.post("/v1/segments", json=BIG_BUYERS, headers=admin).status_code == 201

        response = api.post("/v1/segments/build", json={"as_of": "2026-03-01T19:00:00+07:00"}, headers=admin)
        assert response.status_code == 200
        result = response.json()
        assert (result["as_of"], result["engine"], result["profiles"]) == (AS_OF.isoformat(), "duckdb", 5)
        assert result["segments"]["big_buyers"] == {"members": 1, "entered": 1, "exited": 0}
        members = api.get("/v1/segments/big_buyers/members", headers=admin).json()["members"]
        assert _ids(members) == [lan]
        profile = api.get(f"/v1/profiles/{lan}", headers=admin).json()
        assert (profile["computed_traits"]["orders_365d"], profile["segments"]) == (2, ["big_buyers", "rfm_champions"])

        again = api.post("/v1/segments/build", json={"as_of": AS_OF.isoformat()}, headers=admin).json()
        assert again["segments"]["big_buyers"] == {"members": 1, "entered": 0, "exited": 0}
        assert again["traits_written"] == 0

        # a year later Lan's orders are out of the window: she leaves
        later = api.post("/v1/segments/build", json={"as_of": "2027-06-01T00:00:00Z"}, headers=admin).json()
        assert later["segments"]["big_buyers"] == {"members": 0, "entered": 0, "exited": 1}
        [stay] = [h for h in api.get(f"/v1/profiles/{lan}/segments", headers=admin).json()["history"]
                  if h["segment"] == "big_buyers"]  # fmt: skip
        assert stay["exited_at"] is not None
        assert api.get(f"/v1/profiles/{lan}", headers=admin).json()["computed_traits"]["orders_365d"] == 0


def test_a_build_needs_an_aware_time(fresh: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _ws, api, admin = fresh
    for body in ({"as_of": "2026-03-01T12:00:00"}, {"as_of": "yesterday"}, {"when": "2026-03-01T12:00:00Z"}):
        response = api.post("/v1/segments/build", json=body, headers=admin)
        assert response.status_code == 422, body


def test_openapi_lists_the_segment_routes(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    operations = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert operations >= {
        ("/v1/segments", "get"), ("/v1/segments", "post"), ("/v1/segments/{name}", "get"),
        ("/v1/segments/{name}", "put"), ("/v1/segments/{name}", "delete"), ("/v1/segments/preview", "post"),
        ("/v1/segments/{name}/members", "get"), ("/v1/segments/{name}/explain", "get"),
        ("/v1/segments/overlap", "get"), ("/v1/segments/build", "post"), ("/v1/segments/rfm", "get"),
        ("/v1/segments/catalog", "get"), ("/v1/profiles/{profile_id}/segments", "get"),
    }  # fmt: skip
    for path, method in operations:
        if "segments" in path:
            assert spec["paths"][path][method].get("security"), (path, method)
