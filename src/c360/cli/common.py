"""Options and helpers every command shares."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from c360.errors import InvalidInput
from c360.settings import Settings, load_settings
from c360.workspace import Workspace

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="C360_WORKSPACE",
        help="Workspace folder (default ./c360-data).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def settings_for(workspace: Path | None, **overrides: Any) -> Settings:
    return load_settings(workspace=workspace, **overrides)


@contextmanager
def open_workspace(workspace: Path | None, **overrides: Any) -> Iterator[Workspace]:
    ws = Workspace.open(settings_for(workspace, **overrides))
    try:
        yield ws
    finally:
        ws.close()


@contextmanager
def output_file(path: Path | None) -> Iterator[TextIO]:
    """``path`` opened for writing text (UTF-8, newlines as written), or standard output when it is None; a file that
    cannot be made is an error naming `--out`."""
    if path is None:
        yield sys.stdout
        return
    try:
        handle = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}", field="--out") from None
    with handle:
        yield handle
