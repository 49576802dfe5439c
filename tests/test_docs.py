"""The generated reference pages match the code, and every command and option explains itself.

When one of the first two tests fails: run `python -m c360.docs` and commit docs/settings.md and docs/cli.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.rich_utils

from c360 import docs
from c360.cli.main import app
from c360.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
REGENERATE = "out of date: run `python -m c360.docs` and commit the result"


def test_settings_reference_is_up_to_date() -> None:
    assert (DOCS / "settings.md").read_text(encoding="utf-8") == docs.settings_markdown(), (
        f"docs/settings.md {REGENERATE}"
    )


def test_cli_reference_is_up_to_date() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == docs.cli_markdown(), f"docs/cli.md {REGENERATE}"


def test_the_cli_reference_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = docs.cli_markdown()
    for name, value in (("COLUMNS", "40"), ("TERMINAL_WIDTH", "300"), ("FORCE_COLOR", "1"), ("GITHUB_ACTIONS", "true")):
        monkeypatch.setenv(name, value)
    # what typer decides when typer.rich_utils is first imported under GITHUB_ACTIONS / FORCE_COLOR (as in CI)
    monkeypatch.setattr(typer.rich_utils, "FORCE_TERMINAL", True)
    generated = docs.cli_markdown()
    assert "\x1b[" not in generated
    assert generated == expected


def test_the_settings_reference_lists_every_setting() -> None:
    text = docs.settings_markdown()
    for name in Settings.model_fields:
        assert f"| `{name}` | `C360_{name.upper()}` |" in text


def _commands() -> list[tuple[str, Any]]:
    found = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((" ".join(["c360", *path]), command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


@pytest.mark.parametrize(("name", "command"), _commands(), ids=[name for name, _ in _commands()])
def test_every_command_and_option_has_help(name: str, command: Any) -> None:
    assert (command.help or "").strip(), f"`{name}` has no help text"
    for param in command.params:
        assert (getattr(param, "help", None) or "").strip(), f"`{name}`: {param.name!r} has no help text"


def test_every_command_is_in_the_cli_reference() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name, _command in _commands():
        assert f"## `{name}`" in text
