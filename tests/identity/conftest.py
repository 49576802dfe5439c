"""A workspace per test on each store (SQLite, PostgreSQL); modules that need other settings define their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from c360.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", store_url=store_url)
    try:
        yield workspace
    finally:
        workspace.close()
