"""Fixtures of the API tests: the app of a workspace, run in-process with its lifespan, and keys to call it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from c360.api import create_app
from c360.services.keys import create_api_key
from c360.settings import load_settings
from c360.workspace import Workspace
from tests.cli.support import SETTING_ENV_VARS

with warnings.catch_warnings():
    # Starlette 1.x warns at import that it would rather have `httpx2` than `httpx`; the client works with both.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

__all__ = ["TestClient"]


@pytest.fixture(autouse=True)
def _no_setting_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@contextmanager
def client_for(path: Path, **settings: object) -> Iterator[TestClient]:
    """A client of the app of the workspace at ``path``; the lifespan (store opened, closed) runs around it."""
    app = create_app(load_settings(workspace=path, **settings), background=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def any_store_ws(store_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose c360.toml sets ``store_url``: once on SQLite, once on PostgreSQL."""
    ws = Workspace.init(tmp_path / "any-store-ws", store_url=store_url)
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    with client_for(workspace.path) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(ws: Workspace, scope: str) -> str:
    return new_key_and_prefix(ws, scope)[0]


def new_key_and_prefix(ws: Workspace, scope: str) -> tuple[str, str]:
    key, record = create_api_key(ws.store, scope, name=f"test {scope}")
    return key, record.prefix
