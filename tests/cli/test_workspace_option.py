"""Every command finds its workspace through `--workspace` / `-w` or `C360_WORKSPACE`, the flag winning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer.main

from c360.cli.main import app
from c360.workspace import Workspace
from tests.cli.conftest import Invoke

#: Every command that works on a workspace, with the arguments it needs besides the workspace.
WORKSPACE_COMMANDS = {
    "status": ["status"],
    "process": ["process"],
    "compact": ["compact"],
    "serve": ["serve", "--port", "1"],
    "keys create": ["keys", "create", "--scope", "read"],
    "keys list": ["keys", "list"],
    "keys revoke": ["keys", "revoke", "c360_read_xxxx"],
    "sources add": ["sources", "add", "web"],
    "sources list": ["sources", "list"],
    "sources keys": ["sources", "keys", "web"],
    "sources rotate": ["sources", "rotate", "web"],
    "sources revoke-key": ["sources", "revoke-key", "web", "wk_xxxx"],
    "jobs order-stats": ["jobs", "order-stats"],
    "resolve": ["resolve"],
    "import": ["import", "x.csv", "--mapping", "x.yml"],
    "export rejects": ["export", "rejects"],
    "export identities": ["export", "identities", "--out", "ids.csv"],
    "profiles get": ["profiles", "get", "prof_x"],
    "profiles explain": ["profiles", "explain", "prof_x"],
    "profiles search": ["profiles", "search", "nguyen"],
    "profiles events": ["profiles", "events", "prof_x"],
    "profiles unmerge": ["profiles", "unmerge", "prof_x", "-i", "phone:+84912345678", "--reason", "two people"],
    "review list": ["review", "list"],
    "review accept": ["review", "accept", "1"],
    "review reject": ["review", "reject", "1"],
    "loyalty init": ["loyalty", "init"],
    "loyalty check": ["loyalty", "check"],
    "loyalty rewards": ["loyalty", "rewards"],
    "loyalty enrol": ["loyalty", "enrol", "prof_x"],
    "loyalty show": ["loyalty", "show", "prof_x"],
    "loyalty order": ["loyalty", "order", "--source", "pos", "--order-id", "A1", "--member", "p", "--total", "9"],
    "loyalty refund": ["loyalty", "refund", "--source", "pos", "--order-id", "A1", "--refund-id", "r1"],
    "loyalty adjust": ["loyalty", "adjust", "prof_x", "10", "--reason", "test"],
    "loyalty transfer": ["loyalty", "transfer", "prof_x", "prof_y", "10"],
    "loyalty redeem": ["loyalty", "redeem", "prof_x", "tote-bag"],
    "loyalty cancel": ["loyalty", "cancel", "1"],
    "loyalty voucher": ["loyalty", "voucher", "V-XXXX"],
    "loyalty voucher-spend": ["loyalty", "voucher-spend", "V-XXXX", "--order-ref", "pos:A1"],
    "loyalty run-schedule": ["loyalty", "run-schedule"],
    "loyalty report": ["loyalty", "report"],
    "segments list": ["segments", "list"],
    "segments show": ["segments", "show", "big_buyers"],
    "segments create": ["segments", "create", "-"],
    "segments update": ["segments", "update", "big_buyers", "-"],
    "segments delete": ["segments", "delete", "big_buyers"],
    "segments preview": ["segments", "preview", "-"],
    "segments build": ["segments", "build"],
    "segments members": ["segments", "members", "big_buyers", "--format", "csv"],
    "segments explain": ["segments", "explain", "big_buyers", "--profile", "prof_x"],
    "segments overlap": ["segments", "overlap", "big_buyers", "buyers"],
    "segments history": ["segments", "history", "--profile", "prof_x"],
    "segments catalog": ["segments", "catalog"],
    "segments rfm": ["segments", "rfm"],
}
#: Commands that do not open an existing workspace: `init` makes one, `demo` makes or reuses one and loads
#: data (tested by the demo's own tests), `demo generate` only writes files.
NOT_ON_A_WORKSPACE = {"init", "demo", "demo generate"}


def _leaf_commands() -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", {})
        # a leaf, or a group that does something by itself (`c360 demo`)
        if path and (not subcommands or getattr(command, "invoke_without_command", False)):
            found[" ".join(path)] = command
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_the_table_of_workspace_commands_is_complete() -> None:
    """A new command must be added to WORKSPACE_COMMANDS (and so be tested below) or explicitly exempted."""
    assert set(_leaf_commands()) == set(WORKSPACE_COMMANDS) | NOT_ON_A_WORKSPACE


@pytest.mark.parametrize("name", sorted(WORKSPACE_COMMANDS))
def test_every_workspace_command_has_the_workspace_option(name: str) -> None:
    params = {param.name: param for param in _leaf_commands()[name].params}
    option = params["workspace"]
    # typer's commands are classes of its own click fork: look at the attributes, not the type
    assert {"--workspace", "-w"} <= set(getattr(option, "opts", []))
    assert getattr(option, "envvar", None) == "C360_WORKSPACE"


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("name", sorted(WORKSPACE_COMMANDS))
def test_every_command_looks_in_the_named_workspace(run_main: Invoke, tmp_path: Path, name: str, how: str) -> None:
    missing = tmp_path / f"nowhere-{how}"
    args = WORKSPACE_COMMANDS[name]
    if how == "flag":
        result = run_main(*args, "--workspace", str(missing))
    else:
        result = run_main(*args, env={"C360_WORKSPACE": str(missing)})
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no workspace at {missing}: create one with `c360 init {missing}`"
    assert not missing.exists()  # looking never creates it


def test_init_uses_the_env_workspace(cli: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "from-env"
    assert cli("init", env={"C360_WORKSPACE": str(target)}).exit_code == 0
    assert (target / "c360.toml").is_file()


def test_init_uses_the_workspace_flag(cli: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "from-flag"
    assert cli("init", "-w", str(target)).exit_code == 0
    assert (target / "c360.toml").is_file()


def test_the_flag_wins_over_the_environment(cli: Invoke, tmp_path: Path) -> None:
    env_ws, flag_ws = tmp_path / "env-ws", tmp_path / "flag-ws"
    Workspace.init(env_ws).close()
    Workspace.init(flag_ws).close()

    env = {"C360_WORKSPACE": str(env_ws)}
    assert cli("keys", "create", "--scope", "read", "-w", str(flag_ws), env=env).exit_code == 0
    from_env = json.loads(cli("status", "--json", env=env).stdout)
    from_flag = json.loads(cli("status", "--json", "--workspace", str(flag_ws), env=env).stdout)

    assert (from_env["workspace"], from_env["api_keys"]) == (str(env_ws), 0)
    assert (from_flag["workspace"], from_flag["api_keys"]) == (str(flag_ws), 1)


def test_the_workspace_settings_file_is_read(cli: Invoke, tmp_path: Path) -> None:
    """The settings of the named workspace apply: a store_url in its c360.toml is where keys go."""
    target = tmp_path / "ws"
    other_store = tmp_path / "elsewhere.db"
    assert cli("init", str(target), "--store-url", f"sqlite:///{other_store}").exit_code == 0
    assert cli("keys", "create", "--scope", "admin", "-w", str(target)).exit_code == 0
    status = json.loads(cli("status", "--json", "-w", str(target)).stdout)
    assert status["api_keys"] == 1
    assert other_store.is_file()
    assert not (target / "store.db").exists()
