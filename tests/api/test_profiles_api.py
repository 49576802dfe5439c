"""`/v1/profiles`: lookups, search, one profile, explain and the timeline, in-process over both stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from c360.services import profiles
from c360.services.keys import add_source, revoke_api_key
from c360.store.schema import identity_profiles
from c360.workspace import Workspace
from tests.api.conftest import TestClient, bearer, client_for, new_key, new_key_and_prefix
from tests.identity_rows import AN, AN_OLDER, ANH, ANH2, BICH, HELD_PHONE, HELD_REASON, an_message_ids, populate

ROUTES = [
    "/v1/profiles?email=annguyen@gmail.com",
    "/v1/profiles/search?q=nguyen",
    f"/v1/profiles/{AN}",
    f"/v1/profiles/{AN}/identity",
    f"/v1/profiles/{AN}/events",
]


@pytest.fixture
def ws(any_store_ws: Workspace) -> Workspace:
    populate(any_store_ws)
    return any_store_ws


@pytest.fixture
def api(ws: Workspace) -> Iterator[TestClient]:
    with client_for(ws.path) as client:
        yield client


@pytest.fixture
def read(ws: Workspace) -> dict[str, str]:
    return bearer(new_key(ws, "read"))


def _get(api: TestClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = api.get(path, params=params or None, headers=headers)
    return response


# --- keys ------------------------------------------------------------------------------------------------------------
def test_every_route_needs_an_api_key(ws: Workspace, api: TestClient) -> None:
    write_key = add_source(ws.store, "web-site")  # a source's write key is for the tracking API only
    for path in ROUTES:
        for headers in ({}, bearer("c360_read_not-a-real-key"), bearer(write_key), {"Authorization": "Basic eDo="}):
            response = api.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.json()["code"] == "unauthorized"


@pytest.mark.parametrize("scope", ["read", "write", "admin"])
def test_every_scope_reads_profiles(ws: Workspace, api: TestClient, scope: str) -> None:
    """`read` is the lowest scope, so no valid key is refused with 403 here; every scope may read."""
    headers = bearer(new_key(ws, scope))
    for path in ROUTES:
        assert api.get(path, headers=headers).status_code == 200, path


def test_a_revoked_key_is_refused(ws: Workspace, api: TestClient) -> None:
    key, prefix = new_key_and_prefix(ws, "read")
    assert api.get(f"/v1/profiles/{AN}", headers=bearer(key)).status_code == 200
    revoke_api_key(ws.store, prefix)
    response = api.get(f"/v1/profiles/{AN}", headers=bearer(key))
    assert (response.status_code, response.json()["message"]) == (401, "unknown or revoked API key")


# --- one profile ---------------------------------------------------------------------------------------------------
def test_get_a_profile(ws: Workspace, api: TestClient, read: dict[str, str]) -> None:
    response = api.get(f"/v1/profiles/{AN}", headers=read)
    assert response.status_code == 200
    assert response.json() == profiles.get_profile(ws.store, AN)
    assert response.json()["traits"]["province"] == "HCM"


def test_a_merged_id_answers_with_the_survivor(api: TestClient, read: dict[str, str]) -> None:
    body = api.get(f"/v1/profiles/{AN_OLDER}", headers=read).json()
    assert (body["profile_id"], body["merged_from"]) == (AN, AN_OLDER)


@pytest.mark.parametrize("suffix", ["", "/identity", "/events"])
def test_an_unknown_profile_is_404(api: TestClient, read: dict[str, str], suffix: str) -> None:
    response = api.get(f"/v1/profiles/prof_nobody{suffix}", headers=read)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "no profile 'prof_nobody'"}


# --- lookup --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"phone": "0912 345 678"},
        {"phone": "+84 912 345 678"},  # the + survives the query string
        {"email": "AnNguyen@Gmail.com"},
        {"user_id": "u-an"},
        {"anonymous_id": "crm:C0000001"},
        {"loyalty_card": "VIP-0001"},
    ],
)
def test_lookup_by_any_identifier(api: TestClient, read: dict[str, str], params: dict[str, str]) -> None:
    body = _get(api, "/v1/profiles", read, **params).json()
    assert [p["profile_id"] for p in body["profiles"]] == [AN]
    assert body["held"] is None


def test_a_lookup_answers_the_services_json(ws: Workspace, api: TestClient, read: dict[str, str]) -> None:
    """The route hands the service's answer over as JSON bytes itself (no response model on the way): the same
    JSON, compact UTF-8, and OpenAPI still says it is an object."""
    response = _get(api, "/v1/profiles", read, phone="0912 345 678")
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.json() == profiles.lookup(ws.store, ws.settings, phone="0912 345 678")
    assert '"name":"Nguyễn Văn An"'.encode() in response.content
    schema = api.get("/openapi.json").json()["paths"]["/v1/profiles"]["get"]["responses"]["200"]
    assert schema["content"]["application/json"]["schema"]["type"] == "object"


def test_the_next_request_sees_a_changed_profile(ws: Workspace, api: TestClient, read: dict[str, str]) -> None:
    assert _get(api, "/v1/profiles", read, email="annguyen@gmail.com").json()["profiles"][0]["name"] == "Nguyễn Văn An"
    with ws.store.write() as conn:
        conn.execute(update(identity_profiles).where(identity_profiles.c.profile_id == AN).values(name="An Nguyễn"))
    assert _get(api, "/v1/profiles", read, email="annguyen@gmail.com").json()["profiles"][0]["name"] == "An Nguyễn"
    assert api.get(f"/v1/profiles/{AN}", headers=read).json()["name"] == "An Nguyễn"


def test_lookup_of_a_held_phone(api: TestClient, read: dict[str, str]) -> None:
    body = _get(api, "/v1/profiles", read, phone="0909123123").json()
    assert (body["value"], body["held"]) == (HELD_PHONE, HELD_REASON)
    assert [p["profile_id"] for p in body["profiles"]] == [AN, BICH]


def test_lookup_of_nobody_is_an_empty_list(api: TestClient, read: dict[str, str]) -> None:
    response = _get(api, "/v1/profiles", read, email="nobody@example.vn")
    assert (response.status_code, response.json()["profiles"]) == (200, [])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"email": "not-an-email"}, "email: 'not-an-email' is not an email address"),
        ({"phone": "0912"}, "phone: '0912' is not a valid phone number"),
        ({"user_id": "undefined"}, "user_id: 'undefined' is a blocked value, which never identifies anyone"),
        ({}, "give exactly one of email, phone, user_id, anonymous_id, loyalty_card (got none)"),
        (
            {"email": "a@b.vn", "user_id": "u1"},
            "give exactly one of email, phone, user_id, anonymous_id, loyalty_card (got email and user_id)",
        ),
    ],
)
def test_bad_lookups_are_422_naming_the_field(
    api: TestClient, read: dict[str, str], params: dict[str, str], message: str
) -> None:
    response = _get(api, "/v1/profiles", read, **params)
    assert response.status_code == 422
    assert response.json() == {"code": "invalid_input", "message": message}


# --- search --------------------------------------------------------------------------------------------------------
def test_search_is_not_taken_for_a_profile_id(api: TestClient, read: dict[str, str]) -> None:
    body = _get(api, "/v1/profiles/search", read, q="nguyen van anh").json()
    assert [(p["profile_id"], p["exact"]) for p in body["profiles"]] == [(ANH2, True), (ANH, True)]


def test_search_by_phone_digits_and_limit(api: TestClient, read: dict[str, str]) -> None:
    assert [p["profile_id"] for p in _get(api, "/v1/profiles/search", read, q="0912 345").json()["profiles"]] == [AN]
    body = _get(api, "/v1/profiles/search", read, q="nguyen", limit="1").json()
    assert [p["profile_id"] for p in body["profiles"]] == [AN]


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": " "}, "q"), ({"q": "an", "limit": "0"}, "limit"), ({"q": "an", "limit": "many"}, "limit")],
)
def test_bad_searches_are_422(api: TestClient, read: dict[str, str], params: dict[str, str], field: str) -> None:
    response = _get(api, "/v1/profiles/search", read, **params)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert response.json()["message"].startswith(f"{field}: ")


# --- explain and timeline ------------------------------------------------------------------------------------------
def test_identity_explains(api: TestClient, read: dict[str, str]) -> None:
    body = api.get(f"/v1/profiles/{AN}/identity", headers=read).json()
    assert {"identifiers", "edges", "merges", "held", "review"} <= set(body)
    assert [h["value"] for h in body["held"]] == [HELD_PHONE]
    assert len(body["merges"]) == 2


def test_the_timeline_pages_with_the_next_cursor(api: TestClient, read: dict[str, str]) -> None:
    seen: list[str] = []
    before: str | None = None
    pages = 0
    while True:
        params = {"limit": "6"} | ({"before": before} if before else {})
        body = _get(api, f"/v1/profiles/{AN}/events", read, **params).json()
        seen += [e["message_id"] for e in body["events"]]
        pages += 1
        before = body["next"]
        if before is None:
            break
    assert len(seen) == len(set(seen))
    assert set(seen) == an_message_ids()
    assert pages == -(-len(seen) // 6)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"before": "not-a-cursor"}, "before"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")],
)
def test_bad_paging_is_422(api: TestClient, read: dict[str, str], params: dict[str, str], field: str) -> None:
    response = _get(api, f"/v1/profiles/{AN}/events", read, **params)
    assert response.status_code == 422
    assert response.json()["message"].startswith(f"{field}: ")


def test_openapi_lists_the_profile_routes_with_bearer_security(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = ["/v1/profiles", "/v1/profiles/search", "/v1/profiles/{profile_id}"]
    paths += ["/v1/profiles/{profile_id}/identity", "/v1/profiles/{profile_id}/events"]
    for path in paths:
        assert spec["paths"][path]["get"].get("security"), path
