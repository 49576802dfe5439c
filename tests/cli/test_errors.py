"""Bad input on the command line: one clear line on stderr that names the problem, a non-zero exit, no traceback.

Checked in-process through the real entry point ``main()`` (fast, every case) and through the installed `c360`
executable in subprocesses (exit codes and stderr as a user sees them).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from c360.workspace import Workspace
from tests.cli.conftest import Invoke
from tests.cli.support import C360_EXE, clean_env

UNREACHABLE_PG = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/test"


@dataclass(frozen=True)
class Case:
    settings_file: str | None  # the c360.toml to write into a fresh workspace; None: no workspace at all
    args: tuple[str, ...]
    exit_code: int
    says: tuple[str, ...]  # every one of these is in the message
    env: tuple[tuple[str, str], ...] = ()


CASES = {
    "no workspace": Case(None, ("status",), 2, ("no workspace at", "c360 init")),
    "invalid toml": Case("timezone = \n", ("status",), 2, ("c360.toml is not valid TOML", "line 1")),
    "not utf-8": Case("\udcff", ("status",), 2, ("c360.toml is not valid TOML",)),
    "unknown setting": Case('colour = "blue"\n', ("status",), 2, ("colour: unknown setting",)),
    "unknown table": Case("[server]\nport = 1\n", ("status",), 2, ("server: unknown setting",)),
    "unknown zone": Case('timezone = "Mars/Base"\n', ("status",), 2, ("timezone", "unknown time zone", "Mars/Base")),
    "wrong type": Case('port = "eighty"\n', ("status",), 2, ("port", "integer")),
    "out of range": Case("port = 70000\n", ("status",), 2, ("port", "65535")),
    "wrong choice": Case('engine = "oracle"\n', ("status",), 2, ("engine", "duckdb", "spark")),
    "workspace in file": Case('workspace = "elsewhere"\n', ("status",), 2, ("`workspace` cannot be set",)),
    "bad env value": Case("", ("status",), 2, ("port", "integer"), env=(("C360_PORT", "eighty"),)),
    "not a url": Case('store_url = "nonsense"\n', ("status",), 2, ("operational store URL", "nonsense")),
    "unreachable postgres": Case(
        f'store_url = "{UNREACHABLE_PG}"\n',
        ("status",),
        3,
        ("cannot reach the operational store", "127.0.0.1:1", "Connection refused"),
    ),
    "missing sqlite folder": Case(
        'store_url = "sqlite:////nonexistent-c360/x.db"\n', ("status",), 3, ("/nonexistent-c360", "does not exist")
    ),
    "wrong scope": Case("", ("keys", "create", "--scope", "superuser"), 2, ("scope", "admin, write, read")),
    "unknown key prefix": Case("", ("keys", "revoke", "c360_nope"), 5, ("no active API key", "c360_nope")),
    "bad source name": Case("", ("sources", "add", "no spaces"), 2, ("name", "not a valid source name")),
}
#: The ones also run through the installed executable.
SUBPROCESS_CASES = (
    "no workspace",
    "invalid toml",
    "unknown setting",
    "unknown zone",
    "wrong scope",
    "unreachable postgres",
    "bad source name",
)


def _prepare(case: Case, root: Path) -> Path:
    path = root / "ws"
    if case.settings_file is None:
        return path
    Workspace.init(path).close()
    (path / "c360.toml").write_bytes(case.settings_file.encode("utf-8", "surrogateescape"))
    return path


def _check_message(case: Case, exit_code: int, stdout: str, stderr: str) -> None:
    assert exit_code == case.exit_code, stderr
    assert "Traceback" not in stderr + stdout
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    for words in case.says:
        assert words in lines[0]
    assert "s3cret-pw" not in stderr  # a password in a store URL is never printed


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gives_one_clear_line(run_main: Invoke, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    path = _prepare(case, tmp_path)
    result = run_main(*case.args, "--workspace", str(path), env=dict(case.env))
    _check_message(case, result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""


def test_the_real_executable_exits_non_zero_without_traceback(tmp_path: Path) -> None:
    # All cases at once, each its own process: the run costs one interpreter start-up, not seven.
    running = {}
    for name in SUBPROCESS_CASES:
        case = CASES[name]
        path = _prepare(case, tmp_path / name.replace(" ", "-"))
        running[name] = subprocess.Popen(
            [str(C360_EXE), *case.args, "--workspace", str(path)],
            env=clean_env(**dict(case.env)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        _check_message(CASES[name], process.returncode, stdout, stderr)


def test_the_real_executable_succeeds_with_json(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    made = subprocess.run(
        [str(C360_EXE), "init", str(path)], env=clean_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert made.returncode == 0, made.stderr
    status = subprocess.run(
        [str(C360_EXE), "status", "--json"],
        env=clean_env(C360_WORKSPACE=str(path)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert status.stderr == ""
    assert '"lag": 0' in status.stdout


def test_a_path_with_brackets_is_printed_as_given(run_main: Invoke, tmp_path: Path) -> None:
    """Messages are plain text, not rich markup: `[/]` in a path once crashed the error printer itself."""
    missing = tmp_path / "data[/]x[bold]"
    result = run_main("status", "-w", str(missing))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no workspace at {missing}: create one with `c360 init {missing}`"


def test_a_folder_without_settings_file_is_not_a_workspace(run_main: Invoke, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    result = run_main("status", "-w", str(tmp_path / "plain"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'plain'} is not a c360 workspace (no c360.toml); "
        f"create one with `c360 init {tmp_path / 'plain'}`"
    )
