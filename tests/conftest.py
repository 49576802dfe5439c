"""Fixtures shared by the whole suite: a fresh database per test on SQLite and PostgreSQL, and a workspace.

``store_url`` runs a test once per database kind: ``sqlite`` (a file in the test's tmp folder) and ``postgresql``
(a database created for the test on the server named by ``C360_TEST_POSTGRES_URL`` and dropped afterwards).
When the server cannot be reached the PostgreSQL variant is skipped — or fails, in CI (``skip_or_fail``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from c360.workspace import Workspace
from tests.helpers import skip_or_fail

# The two-engine harness (DuckDB and one shared SparkSession) for every folder that runs batch SQL.
pytest_plugins = ["tests.engine_harness"]

if TYPE_CHECKING:
    import psycopg

POSTGRES_URL_ENV = "C360_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


# --- PostgreSQL ------------------------------------------------------------------------------------------------
class PostgresServer:
    """The server that test databases are created on; ``error`` says why it cannot be used, if it cannot."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.shown = self.url.render_as_string(hide_password=True)
        self.error: str | None = None

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        return psycopg.connect(
            host=self.url.host or "127.0.0.1",
            port=self.url.port or 5432,
            user=self.url.username,
            password=self.url.password,
            dbname=self.url.database or "postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def check(self) -> None:
        try:
            import psycopg
        except ImportError:
            self.error = "psycopg is not installed (pip install 'c360[postgres]')"
            return
        try:
            with self._connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.error = f"PostgreSQL is not reachable at {self.shown} (set {POSTGRES_URL_ENV}): {first_line}"

    def create_database(self) -> tuple[str, str]:
        """A new empty database: (its name, its SQLAlchemy URL)."""
        name = f"c360_t_{uuid.uuid4().hex[:16]}"
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name, self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    server = PostgresServer(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)
    server.check()
    return server


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a PostgreSQL database created for this test alone (dropped afterwards, connections and all)."""
    if postgres_server.error:
        skip_or_fail(postgres_server.error)
    name, url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of each kind (the fixture's ids: ``sqlite``, ``postgresql``)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


# --- workspace -------------------------------------------------------------------------------------------------
@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A new workspace (SQLite store and log, empty lake) in the test's tmp folder, closed afterwards."""
    ws = Workspace.init(tmp_path / "ws")
    try:
        yield ws
    finally:
        ws.close()
