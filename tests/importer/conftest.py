"""Fixtures of the import tests: a small demo dataset, a workspace and a helper that imports and reads back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from c360.demo import GeneratorConfig, generate_to_dir
from c360.importer import ImportResult, import_file, parse_mapping
from c360.importer.mapping import Mapping
from c360.services.rejects import iter_rejects
from c360.workspace import Workspace
from tests.cli.conftest import main_runner
from tests.cli.support import SETTING_ENV_VARS

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "c360" / "demo" / "mappings"
DEMO_CONFIG = GeneratorConfig(customers=400, days=120, seed=4242)
EXPORTED_AT = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    generate_to_dir(DEMO_CONFIG, folder)
    return folder


@dataclass
class Importer:
    """Imports into one workspace and reads back what landed (events from the log, rejects from the store)."""

    ws: Workspace
    folder: Path

    def run(self, path: Path, mapping: dict[str, Any] | Mapping, **options: Any) -> ImportResult:
        parsed = mapping if isinstance(mapping, Mapping) else parse_mapping(mapping)
        options.setdefault("exported_at", EXPORTED_AT)
        return import_file(
            path,
            parsed,
            store=self.ws.store,
            log=self.ws.log,
            timezone=self.ws.settings.timezone,
            default_currency=self.ws.settings.default_currency,
            **options,
        )

    def write(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.folder / name
        path.write_bytes(text.encode(encoding))
        return path

    def events(self, source: str | None = None) -> list[dict[str, Any]]:
        found = []
        after = 0
        while batch := self.ws.log.read(after, 10_000):
            found += [orjson.loads(e.body) for e in batch if source is None or e.source == source]
            after = batch[-1].seq
        return found

    def logged(self) -> Iterator[Any]:
        after = 0
        while batch := self.ws.log.read(after, 10_000):
            yield from batch
            after = batch[-1].seq

    def rejects(self, source: str | None = None) -> list[dict[str, Any]]:
        return list(iter_rejects(self.ws.store, source=source))


@pytest.fixture
def importer(workspace: Workspace, tmp_path: Path) -> Importer:
    folder = tmp_path / "files"
    folder.mkdir()
    return Importer(workspace, folder)


def customers_mapping(**extra: Any) -> dict[str, Any]:
    """A small customers mapping over columns id, name, phone (and whatever ``extra`` adds)."""
    mapping: dict[str, Any] = {
        "source": "crm",
        "kind": "customers",
        "record_id": "id",
        "fields": {"full_name": "name", "phone": "phone"},
    }
    for key, value in extra.items():
        if key == "fields":
            mapping["fields"] = {**mapping["fields"], **value}
        else:
            mapping[key] = value
    return mapping


@pytest.fixture
def run_c360(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """The real entry point ``c360.cli.main:main`` in-process, with no C360_<setting> of the developer's."""
    for name in SETTING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return main_runner(monkeypatch, capsys)
