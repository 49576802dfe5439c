"""Options and helpers every command shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

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
