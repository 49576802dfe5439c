"""`/openapi.json` describes the admin API and its bearer security."""

from __future__ import annotations

from tests.api.conftest import TestClient

ADMIN_OPERATIONS = {
    ("/v1/admin/status", "get"),
    ("/v1/admin/keys", "get"),
    ("/v1/admin/keys", "post"),
    ("/v1/admin/keys/{prefix}", "delete"),
    ("/v1/admin/sources", "get"),
    ("/v1/admin/sources", "post"),
}


def test_openapi_lists_the_admin_routes_with_bearer_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "c360"
    operations = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert operations >= ADMIN_OPERATIONS
    assert ("/healthz", "get") in operations
    assert "/" not in spec["paths"]  # the HTML page is not part of the API

    schemes = spec["components"]["securitySchemes"]
    bearer_names = {
        name for name, scheme in schemes.items() if (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    }
    assert bearer_names
    for path, method in ADMIN_OPERATIONS:
        security = spec["paths"][path][method].get("security", [])
        assert any(set(requirement) & bearer_names for requirement in security), (path, method)
    for path, method in (("/healthz", "get"), ("/metrics", "get")):
        assert not spec["paths"][path][method].get("security"), (path, method)


def test_openapi_documents_the_request_bodies(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    new_key = schemas["NewKey"]
    assert new_key["properties"]["scope"]["enum"] == ["admin", "write", "read"]
    assert new_key["required"] == ["scope"]
    assert "pattern" in schemas["NewSource"]["properties"]["name"]
    created = schemas["CreatedKey"]["properties"]["key"]
    assert "once" in created["description"]
