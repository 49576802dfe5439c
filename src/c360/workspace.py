"""A workspace: one folder with the settings file, the operational store, the event log and the lake.

``Workspace.open(settings)`` checks that the folder is a workspace and opens its parts lazily, so a command
that only needs the store never opens an engine, and one that only reads settings never opens a database.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import tomli_w

from c360.errors import WorkspaceError
from c360.eventlog import EventLog
from c360.lake import Lake
from c360.settings import SETTINGS_FILE, Settings, load_settings
from c360.store import Store

_TEMPLATE_HEADER = """\
# c360 workspace settings. The environment (C360_<NAME>) overrides this file, and command-line flags override
# both. Every setting is listed below with its default, commented out: remove the `#` to change one.
# The same table is in docs/settings.md.
"""


def settings_template(values: dict[str, Any]) -> str:
    """The text of a new c360.toml: the given values, then every other setting commented with its default."""
    lines = [_TEMPLATE_HEADER]
    if values:
        lines.append(tomli_w.dumps(values))
    for name, field in Settings.model_fields.items():
        if name == "workspace" or name in values:
            continue
        default = field.default
        if isinstance(default, list):
            # On one line, so removing the `#` turns the whole setting on (tomli_w would spread it over lines).
            shown = f"{name} = [{', '.join(json.dumps(item, ensure_ascii=False) for item in default)}]"
        else:
            shown = tomli_w.dumps({name: str(default) if isinstance(default, Path) else default}).strip()
        lines.append(f"# {field.description}\n# {shown}\n")
    return "\n".join(lines)


class Workspace:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.workspace

    @classmethod
    def open(cls, settings: Settings) -> Workspace:
        if not settings.workspace.is_dir():
            raise WorkspaceError(
                f"no workspace at {settings.workspace}: create one with `c360 init {settings.workspace}`"
            )
        if not settings.settings_file.is_file():
            raise WorkspaceError(
                f"{settings.workspace} is not a c360 workspace (no {SETTINGS_FILE}); "
                f"create one with `c360 init {settings.workspace}`"
            )
        return cls(settings)

    @classmethod
    def init(cls, path: Path, **values: Any) -> Workspace:
        """Create a workspace folder with a settings file, a migrated store, an empty log and lake."""
        if (path / SETTINGS_FILE).exists():
            raise WorkspaceError(f"{path} is already a c360 workspace")
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"{path} exists and is not a folder")
        settings = load_settings(workspace=path, **values)  # validate before touching the disk
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create {path}: {exc.strerror}") from None
        workspace = cls(settings)
        try:
            workspace.store  # noqa: B018 - opening the store runs its migrations
            workspace.log  # noqa: B018
            workspace.lake.ensure()
        except BaseException:
            workspace.close()
            raise
        # Written last: a folder whose store could not be reached is not yet a workspace, so `init` can be retried.
        written = {key: str(value) if isinstance(value, Path) else value for key, value in values.items()}
        (path / SETTINGS_FILE).write_text(settings_template(written), encoding="utf-8")
        return workspace

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings.resolved_store_url, busy_timeout=self.settings.store_busy_timeout_seconds)

    @cached_property
    def log(self) -> EventLog:
        return EventLog.open(
            self.settings.resolved_log_url,
            max_batch=self.settings.log_max_batch_events,
            queue_depth=self.settings.log_queue_depth,
        )

    @cached_property
    def lake(self) -> Lake:
        return Lake(self.settings.lake_path)

    def close(self) -> None:
        if "log" in self.__dict__:
            self.log.close()
        if "store" in self.__dict__:
            self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
