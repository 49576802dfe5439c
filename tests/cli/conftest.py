"""Fixtures of the CLI tests: an in-process runner for the typer app and one for the real entry point ``main()``."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from c360.cli.main import app, main
from tests.cli.support import SETTING_ENV_VARS

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def _no_setting_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own C360_WORKSPACE (or any C360_<setting>) must not leak into these tests."""
    for name in SETTING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


Invoke = Callable[..., Run]


@pytest.fixture
def cli() -> Invoke:
    """Invoke the typer app in-process; a C360Error escapes as ``exception`` (``main`` is what turns it into a
    message), so this fixture is for commands expected to succeed: it fails the test on any exception."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Run:
        result = runner.invoke(app, list(args), env=env, prog_name="c360", catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke


def main_runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    """Run the real entry point ``c360.cli.main:main`` in-process; any exception other than SystemExit propagates
    (and fails the test: a user would have seen a traceback)."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Run:
        capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.setattr(sys, "argv", ["c360", *args])
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            else:
                code = 0
        captured = capsys.readouterr()
        # typer styles its usage errors when the environment asks for colour (FORCE_COLOR, GITHUB_ACTIONS)
        return Run(code, _ANSI.sub("", captured.out), _ANSI.sub("", captured.err))

    return invoke


@pytest.fixture
def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    return main_runner(monkeypatch, capsys)
