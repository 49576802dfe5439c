"""Bearer API keys on the admin API, on both stores: 401 without a valid key, 403 without the scope."""

from __future__ import annotations

from typing import Any

import pytest

from c360.services.keys import list_api_keys, list_sources, revoke_api_key, source_for_write_key
from c360.workspace import Workspace
from tests.api.conftest import TestClient, bearer, client_for, new_key, new_key_and_prefix

#: (method, path, JSON body, scope needed, status on success)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str, int]] = [
    ("GET", "/v1/admin/status", None, "read", 200),
    ("GET", "/v1/admin/sources", None, "read", 200),
    ("GET", "/v1/admin/keys", None, "admin", 200),
    ("POST", "/v1/admin/keys", {"scope": "read"}, "admin", 201),
    ("POST", "/v1/admin/sources", {"name": "web"}, "admin", 201),
    ("DELETE", "/v1/admin/keys/{victim}", None, "admin", 204),
]
GRANTS = {"admin": {"admin", "write", "read"}, "write": {"write", "read"}, "read": {"read"}}


def _call(client: TestClient, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


def _assert_401(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == "unauthorized"


@pytest.fixture
def api(any_store_ws: Workspace) -> Any:
    with client_for(any_store_ws.path) as client:
        yield client


def test_no_key_unknown_key_or_other_scheme_is_401(any_store_ws: Workspace, api: TestClient) -> None:
    for method, path, body, _needs, _ok in ROUTES:
        path = path.format(victim="c360_read_xxxx")
        for headers in ({}, bearer("c360_admin_not-a-real-key"), {"Authorization": "Basic YWRtaW46"}):
            response = _call(api, method, path, body, headers)
            _assert_401(response)
        assert "Authorization: Bearer" in _call(api, method, path, body, {}).json()["message"]
    # nothing was done on the way
    assert (list_api_keys(any_store_ws.store), list_sources(any_store_ws.store)) == ([], [])


def test_a_revoked_key_is_401(any_store_ws: Workspace, api: TestClient) -> None:
    key, prefix = new_key_and_prefix(any_store_ws, "admin")
    assert api.get("/v1/admin/keys", headers=bearer(key)).status_code == 200
    revoke_api_key(any_store_ws.store, prefix)
    response = api.get("/v1/admin/keys", headers=bearer(key))
    _assert_401(response)
    assert response.json()["message"] == "unknown or revoked API key"


@pytest.mark.parametrize("scope", ["admin", "write", "read"])
def test_each_scope_reaches_exactly_its_routes(any_store_ws: Workspace, api: TestClient, scope: str) -> None:
    key = new_key(any_store_ws, scope)
    for method, path, body, needs, ok in ROUTES:
        _victim_key, victim = new_key_and_prefix(any_store_ws, "read")
        response = _call(api, method, path.format(victim=victim), body, bearer(key))
        if needs in GRANTS[scope]:
            assert response.status_code == ok, (method, path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.text)
            assert response.json() == {
                "code": "forbidden",
                "message": f"this key has scope {scope!r}; this action needs {needs!r}",
            }
            assert "WWW-Authenticate" not in response.headers


def test_a_key_made_through_the_api_is_shown_once_and_works(any_store_ws: Workspace, api: TestClient) -> None:
    admin = bearer(new_key(any_store_ws, "admin"))
    made = api.post("/v1/admin/keys", json={"scope": "read", "name": "dashboard"}, headers=admin)
    assert made.status_code == 201
    created = made.json()
    assert set(created) == {"key", "prefix", "scope", "name"}
    assert (created["scope"], created["name"]) == ("read", "dashboard")
    assert created["key"].startswith(created["prefix"])

    assert api.get("/v1/admin/status", headers=bearer(created["key"])).status_code == 200
    assert api.get("/v1/admin/keys", headers=bearer(created["key"])).status_code == 403

    listed = api.get("/v1/admin/keys", headers=admin)
    assert created["key"] not in listed.text  # never shown again
    rows = {row["prefix"]: row for row in listed.json()}
    assert rows[created["prefix"]]["scope"] == "read"
    assert rows[created["prefix"]]["revoked_at"] is None

    assert api.delete(f"/v1/admin/keys/{created['prefix']}", headers=admin).status_code == 204
    _assert_401(api.get("/v1/admin/status", headers=bearer(created["key"])))
    again = api.delete(f"/v1/admin/keys/{created['prefix']}", headers=admin)
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"


def test_a_source_made_through_the_api_has_a_working_write_key(any_store_ws: Workspace, api: TestClient) -> None:
    admin = bearer(new_key(any_store_ws, "admin"))
    made = api.post("/v1/admin/sources", json={"name": "pos-hcm"}, headers=admin)
    assert made.status_code == 201
    assert source_for_write_key(any_store_ws.store, made.json()["write_key"]) == "pos-hcm"
    assert [row["name"] for row in api.get("/v1/admin/sources", headers=admin).json()] == ["pos-hcm"]
    duplicate = api.post("/v1/admin/sources", json={"name": "pos-hcm"}, headers=admin)
    assert duplicate.status_code == 422
    assert duplicate.json() == {"code": "invalid_input", "message": "name: a source named 'pos-hcm' already exists"}


def test_status_reports_the_store_in_use(any_store_ws: Workspace, api: TestClient, store_url: str) -> None:
    status = api.get("/v1/admin/status", headers=bearer(new_key(any_store_ws, "read"))).json()
    assert status["store"] == store_url.split(":")[0].split("+")[0]
    assert status["api_keys"] == 1
