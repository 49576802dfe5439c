"""Invalid requests get 422 JSON `{"code", "message"}` naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from c360.workspace import Workspace
from tests.api.conftest import TestClient, bearer, new_key


@pytest.fixture
def admin(workspace: Workspace) -> dict[str, str]:
    return bearer(new_key(workspace, "admin"))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/admin/keys", {"scope": "root"}, "scope"),
        ("/v1/admin/keys", {}, "scope"),
        ("/v1/admin/keys", {"scope": "read", "name": "x" * 201}, "name"),
        ("/v1/admin/keys", {"scope": ["read"]}, "scope"),
        ("/v1/admin/sources", {"name": "two words"}, "name"),
        ("/v1/admin/sources", {"name": ""}, "name"),
        ("/v1/admin/sources", {"name": 42}, "name"),
        ("/v1/admin/sources", {"name": "web", "extra": 1}, None),  # extra keys are ignored: 201
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    client: TestClient, admin: dict[str, str], path: str, body: dict[str, Any], field: str | None
) -> None:
    response = client.post(path, json=body, headers=admin)
    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 422
    data = response.json()
    assert data["code"] == "invalid_input"
    assert data["message"].startswith(f"{field}: ")
    assert [error["field"] for error in data["errors"]] == [field]


def test_a_body_that_is_not_json_is_422(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post(
        "/v1/admin/keys", content=b"{not json", headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    data = response.json()
    assert data["code"] == "invalid_input"
    assert data["message"]


def test_a_missing_body_is_422(client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/v1/admin/keys", headers=admin)
    assert response.status_code == 422
    assert response.json()["message"] == "body: Field required"


def test_nothing_is_created_by_a_rejected_request(client: TestClient, admin: dict[str, str]) -> None:
    client.post("/v1/admin/keys", json={"scope": "root"}, headers=admin)
    client.post("/v1/admin/sources", json={"name": "two words"}, headers=admin)
    assert len(client.get("/v1/admin/keys", headers=admin).json()) == 1  # the admin key alone
    assert client.get("/v1/admin/sources", headers=admin).json() == []


def test_auth_is_checked_before_the_body(client: TestClient) -> None:
    """Without a key, a bad body is still a 401: the API says nothing about its schemas to strangers."""
    response = client.post("/v1/admin/keys", json={"scope": "root"})
    assert response.status_code == 401
