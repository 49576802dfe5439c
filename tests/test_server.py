"""A real `c360 serve` process: it answers over TCP, its background worker applies new events, and SIGTERM stops
it cleanly, leaving a workspace that opens again."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.services.ingest import append_messages
from c360.services.keys import create_api_key
from c360.services.status import workspace_status
from c360.settings import load_settings
from c360.workspace import Workspace
from tests.cli.support import C360_EXE, RECEIVED_AT, SETTING_ENV_VARS, clean_env, expected_counts, make_messages

ATTEMPTS = 400  # x 50 ms of waiting on the process between attempts: a 20 s bound that a healthy start never nears
EVENTS = 1_234


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, workspace: Path, log_dir: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stdout_path, self.stderr_path = log_dir / "server.out", log_dir / "server.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [str(C360_EXE), "serve", "--workspace", str(workspace), "--port", str(self.port)],
                env=clean_env(),
                stdout=out,
                stderr=err,
            )
        self.http = httpx.Client(base_url=self.base, timeout=httpx.Timeout(2.0, connect=0.2))

    def logs(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def wait_until(self, what: str, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until it holds; between attempts, wait on the process itself (so a crash ends the wait)."""
        for _ in range(ATTEMPTS):
            try:
                if ready():
                    return
            except httpx.TransportError:
                pass
            try:
                self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"the server exited ({self.process.returncode}) while waiting for {what}:\n{self.logs()}")
        pytest.fail(f"gave up waiting for {what} after {ATTEMPTS} attempts:\n{self.logs()}")

    def stop(self) -> int:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the server did not stop within 30 s of SIGTERM:\n{self.logs()}")


@pytest.fixture
def server_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in SETTING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "served"
    Workspace.init(path).close()
    return path


@pytest.fixture
def server(server_ws: Path, tmp_path: Path) -> Iterator[Server]:
    running = Server(server_ws, tmp_path)
    try:
        running.wait_until("/healthz", lambda: running.http.get("/healthz").status_code == 200)
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()


def test_served_workspace_applies_new_events_and_stops_cleanly(server: Server, server_ws: Path) -> None:
    assert server.http.get("/healthz").json() == {"status": "ok", "store": "sqlite", "log_max_seq": 0}

    with Workspace.open(load_settings(workspace=server_ws)) as ws:
        admin, _record = create_api_key(ws.store, "admin")
        messages = make_messages(EVENTS, users=40, seed=21)
        assert append_messages(ws.log, messages, source="web", received_at=lambda: RECEIVED_AT).accepted == EVENTS
    headers = {"Authorization": f"Bearer {admin}"}
    status: dict[str, Any] = {}

    def caught_up() -> bool:
        status.update(server.http.get("/v1/admin/status", headers=headers).raise_for_status().json())
        return bool(status["events"]["accepted"] == EVENTS and status["processor"]["lag"] == 0)

    server.wait_until("the background worker to apply every event", caught_up)
    by_type, users = expected_counts(messages)
    assert status["events"]["by_type"] == by_type
    assert status["profiles"] == users

    page = server.http.get("/?lang=en").text
    assert 'data-metric="events_accepted">' in page
    assert "1,234" in page
    assert "1.234" in server.http.get("/", headers={"Accept-Language": "vi"}).text

    exit_code = server.stop()
    # uvicorn shuts down on SIGTERM (lifespan end: worker stopped, workspace closed), then re-raises the signal
    assert exit_code in (0, -signal.SIGTERM), server.logs()
    logs = server.logs()
    assert "Traceback" not in logs
    assert f"serving {server_ws}" in logs
    # SQLite removes a WAL file when its last connection closes: gone means the lifespan closed the workspace
    # (after SIGKILL both would still be there)
    assert not (server_ws / "store.db-wal").exists()
    assert not (server_ws / "log.db-wal").exists()

    with Workspace.open(load_settings(workspace=server_ws)) as ws:
        after = workspace_status(ws)
    assert after["events"]["accepted"] == EVENTS
    assert after["processor"] == {"checkpoint": EVENTS, "lag": 0}


def test_serve_refuses_a_port_in_use(server: Server, server_ws: Path) -> None:
    second = subprocess.run(
        [str(C360_EXE), "serve", "--workspace", str(server_ws), "--port", str(server.port)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode != 0
    assert "Traceback" not in second.stderr
    assert str(server.port) in second.stderr or "address already in use" in second.stderr.lower()
    assert server.http.get("/healthz").status_code == 200  # the first one is unharmed
