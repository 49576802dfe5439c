"""`c360 init`: what it creates, and how it refuses."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from c360.settings import load_settings
from c360.workspace import Workspace
from tests.cli.conftest import Invoke


def test_init_creates_settings_store_log_and_lake(cli: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    result = cli("init", str(target))
    assert result.exit_code == 0, result.stderr
    assert str(target) in result.stdout
    assert (target / "c360.toml").is_file()
    assert (target / "store.db").is_file()
    assert (target / "log.db").is_file()
    assert (target / "lake").is_dir()
    assert tomllib.loads((target / "c360.toml").read_text(encoding="utf-8")) == {}
    with Workspace.open(load_settings(workspace=target)) as ws:
        assert ws.log.max_seq() == 0
        assert ws.store.dialect == "sqlite"


def test_init_writes_the_given_settings(cli: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    result = cli("init", str(target), "--timezone", "Europe/Paris", "--language", "en", "--json")
    assert result.exit_code == 0, result.stderr
    assert tomllib.loads((target / "c360.toml").read_text(encoding="utf-8")) == {
        "timezone": "Europe/Paris",
        "language": "en",
    }
    settings = load_settings(workspace=target)
    assert (settings.timezone, settings.language) == ("Europe/Paris", "en")


def test_init_twice_is_a_clear_error_and_keeps_the_workspace(run_main: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    assert run_main("init", str(target)).exit_code == 0
    assert run_main("keys", "create", "--scope", "read", "-w", str(target)).exit_code == 0
    settings_before = (target / "c360.toml").read_bytes()

    again = run_main("init", str(target))

    assert again.exit_code == 2
    assert again.stderr.strip() == f"error: {target} is already a c360 workspace"
    assert (target / "c360.toml").read_bytes() == settings_before
    keys_list = run_main("keys", "list", "--json", "-w", str(target))
    assert '"scope": "read"' in keys_list.stdout  # the store was not recreated


def test_init_with_a_wrong_value_writes_no_settings_file(run_main: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    result = run_main("init", str(target), "--timezone", "Mars/Base")
    assert result.exit_code == 2
    assert "timezone" in result.stderr
    assert "Mars/Base" in result.stderr
    assert not (target / "c360.toml").exists()
    assert run_main("init", str(target)).exit_code == 0  # nothing half-made stands in the way


def test_init_with_an_unreachable_store_leaves_no_half_made_workspace(run_main: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "shop"
    unreachable = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    result = run_main("init", str(target), "--store-url", unreachable)
    assert result.exit_code == 3
    assert "cannot reach the operational store" in result.stderr
    assert not (target / "c360.toml").exists()


def test_init_below_a_file_is_a_clear_error(run_main: Invoke, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    result = run_main("init", str(tmp_path / "a-file" / "shop"))
    assert result.exit_code != 0
    assert "a-file" in result.stderr


@pytest.mark.parametrize("name", ["shop[red]x", "shop[/]"])
def test_init_prints_the_path_as_given(run_main: Invoke, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    result = run_main("init", str(target))
    assert result.exit_code == 0
    assert str(target) in result.stdout
