"""Write keys of sources: list, rotate (old keys keep working unless revoked), revoke — CLI and admin API."""

from __future__ import annotations

import json

import pytest

from c360.errors import AuthError
from c360.services.keys import source_for_write_key
from c360.workspace import Workspace
from tests.api.conftest import bearer, client_for, new_key
from tests.cli.conftest import Invoke


def test_rotate_keeps_the_old_key_unless_asked(cli: Invoke, run_main: Invoke, workspace: Workspace) -> None:
    w = str(workspace.path)
    first = json.loads(cli("sources", "add", "pos", "-w", w, "--json").stdout)["write_key"]
    second = json.loads(cli("sources", "rotate", "pos", "-w", w, "--json").stdout)["write_key"]
    assert source_for_write_key(workspace.store, first) == source_for_write_key(workspace.store, second) == "pos"
    third = json.loads(cli("sources", "rotate", "pos", "--revoke-old", "-w", w, "--json").stdout)["write_key"]
    for old in (first, second):
        with pytest.raises(AuthError):
            source_for_write_key(workspace.store, old)
    assert source_for_write_key(workspace.store, third) == "pos"
    listed = json.loads(cli("sources", "keys", "pos", "-w", w, "--json").stdout)
    assert [row["prefix"] for row in listed] == [first[:10], second[:10], third[:10]]
    assert [row["revoked_at"] is None for row in listed] == [False, False, True]
    assert all(third not in json.dumps(row) for row in listed)  # only prefixes are shown


def test_revoke_one_key_and_errors(cli: Invoke, run_main: Invoke, workspace: Workspace) -> None:
    w = str(workspace.path)
    key = json.loads(cli("sources", "add", "crm", "-w", w, "--json").stdout)["write_key"]
    assert run_main("sources", "revoke-key", "crm", key[:10], "-w", w).exit_code == 0
    with pytest.raises(AuthError):
        source_for_write_key(workspace.store, key)
    again = run_main("sources", "revoke-key", "crm", key[:10], "-w", w)
    assert again.exit_code == 5
    assert "no active write key" in again.stderr
    missing = run_main("sources", "rotate", "nope", "-w", w)
    assert missing.exit_code == 5
    assert "no source named 'nope'" in missing.stderr


def test_admin_api_lists_rotates_and_revokes(workspace: Workspace) -> None:
    admin = bearer(new_key(workspace, "admin"))
    with client_for(workspace.path) as client:
        created = client.post("/v1/admin/sources", json={"name": "app"}, headers=admin).json()
        rotated = client.post("/v1/admin/sources/app/keys", headers=admin)
        assert rotated.status_code == 201
        new = rotated.json()["write_key"]
        listed = client.get("/v1/admin/sources/app/keys", headers=admin).json()
        assert [row["prefix"] for row in listed] == [created["write_key"][:10], new[:10]]
        assert client.delete(f"/v1/admin/sources/app/keys/{new[:10]}", headers=admin).status_code == 204
        assert client.delete(f"/v1/admin/sources/app/keys/{new[:10]}", headers=admin).status_code == 404
        read = bearer(new_key(workspace, "read"))
        assert client.post("/v1/admin/sources/app/keys", headers=read).status_code == 403
        assert client.get("/v1/admin/sources/app/keys").status_code == 401
    assert source_for_write_key(workspace.store, created["write_key"]) == "app"
