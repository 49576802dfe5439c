"""`c360 keys` and `c360 sources`: keys are printed once, stored only as their SHA-256, and can be revoked."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from c360.errors import AuthError
from c360.services.keys import authenticate, source_for_write_key
from c360.workspace import Workspace
from tests.cli.conftest import Invoke


def _store_bytes(ws: Workspace) -> bytes:
    """Every byte SQLite keeps of the store: the database file and its write-ahead log."""
    return b"".join(path.read_bytes() for path in (ws.path / "store.db", ws.path / "store.db-wal") if path.exists())


def test_created_key_authenticates_and_only_its_hash_is_stored(cli: Invoke, workspace: Workspace) -> None:
    result = cli("keys", "create", "--scope", "admin", "--name", "ops", "--json", "-w", str(workspace.path))
    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    key = printed["key"]
    assert (printed["scope"], printed["name"]) == ("admin", "ops")
    assert key.startswith(printed["prefix"])
    assert len(key) >= 40

    record = authenticate(workspace.store, key, "admin")
    assert (record.scope, record.prefix) == ("admin", printed["prefix"])

    stored = _store_bytes(workspace)
    assert hashlib.sha256(key.encode()).hexdigest().encode() in stored
    assert key.encode() not in stored
    assert key[len(printed["prefix"]) :].encode() not in stored  # not even the secret part alone


def test_text_output_shows_the_key_once(cli: Invoke, workspace: Workspace) -> None:
    result = cli("keys", "create", "--scope", "read", "-w", str(workspace.path))
    assert result.exit_code == 0, result.stderr
    keys = re.findall(r"c360_read_[A-Za-z0-9_-]{20,}", result.stdout)
    assert len(keys) == 1
    assert authenticate(workspace.store, keys[0], "read").scope == "read"
    listed = cli("keys", "list", "-w", str(workspace.path))
    assert keys[0] not in listed.stdout


def test_revoked_key_no_longer_authenticates(cli: Invoke, run_main: Invoke, workspace: Workspace) -> None:
    path = str(workspace.path)
    first = json.loads(cli("keys", "create", "--scope", "write", "--json", "-w", path).stdout)
    second = json.loads(cli("keys", "create", "--scope", "write", "--json", "-w", path).stdout)

    revoked = cli("keys", "revoke", first["prefix"], "-w", path)
    assert revoked.exit_code == 0, revoked.stderr
    assert first["prefix"] in revoked.stdout

    with pytest.raises(AuthError, match="unknown or revoked"):
        authenticate(workspace.store, first["key"], "read")
    assert authenticate(workspace.store, second["key"], "read").prefix == second["prefix"]
    rows = {row["prefix"]: row for row in json.loads(cli("keys", "list", "--json", "-w", path).stdout)}
    assert rows[first["prefix"]]["revoked_at"] is not None
    assert rows[second["prefix"]]["revoked_at"] is None
    assert json.loads(cli("status", "--json", "-w", path).stdout)["api_keys"] == 1

    again = run_main("keys", "revoke", first["prefix"], "-w", path)
    assert again.exit_code == 5
    assert again.stderr.strip() == f"error: no active API key starts with {first['prefix']!r}"


@pytest.mark.parametrize("scope", ["root", "ADMIN", ""])
def test_a_wrong_scope_is_refused(run_main: Invoke, workspace: Workspace, scope: str) -> None:
    result = run_main("keys", "create", "--scope", scope, "-w", str(workspace.path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: scope: must be one of admin, write, read, got {scope!r}"
    assert run_main("keys", "list", "--json", "-w", str(workspace.path)).stdout.strip() == "[]"


def test_sources_add_prints_a_write_key(cli: Invoke, workspace: Workspace) -> None:
    result = cli("sources", "add", "web-shop", "-w", str(workspace.path))
    assert result.exit_code == 0, result.stderr
    keys = re.findall(r"wk_[A-Za-z0-9_-]{20,}", result.stdout)
    assert len(keys) == 1
    assert source_for_write_key(workspace.store, keys[0]) == "web-shop"
    assert keys[0].encode() not in _store_bytes(workspace)

    as_json = json.loads(cli("sources", "add", "pos.hcm_1", "--json", "-w", str(workspace.path)).stdout)
    assert as_json["source"] == "pos.hcm_1"
    assert source_for_write_key(workspace.store, as_json["write_key"]) == "pos.hcm_1"

    listed = json.loads(cli("sources", "list", "--json", "-w", str(workspace.path)).stdout)
    assert [row["name"] for row in listed] == ["pos.hcm_1", "web-shop"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("web", "error: name: a source named 'web' already exists"),
        ("a b", "error: name: 'a b' is not a valid source name (1-100 letters, digits, '-', '_' or '.')"),
        ("x" * 101, "is not a valid source name"),
    ],
)
def test_bad_source_names_are_refused(run_main: Invoke, workspace: Workspace, name: str, message: str) -> None:
    assert run_main("sources", "add", "web", "-w", str(workspace.path)).exit_code == 0
    result = run_main("sources", "add", name, "-w", str(workspace.path))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_keys_need_a_scope(run_main: Invoke, tmp_path: Path) -> None:
    result = run_main("keys", "create", "-w", str(tmp_path))
    assert result.exit_code == 2
    assert "Missing option '--scope'" in result.stderr


def test_keys_list_prints_names_as_given(run_main: Invoke, workspace: Workspace) -> None:
    path = str(workspace.path)
    assert run_main("keys", "create", "--scope", "read", "--name", "ops [/] team", "-w", path).exit_code == 0
    result = run_main("keys", "list", "-w", path)
    assert result.exit_code == 0
    assert "ops [/] team" in result.stdout
