"""A real `c360 serve` process: it answers over TCP, its background worker applies new events, and SIGTERM stops
it cleanly, leaving a workspace that opens again."""

from __future__ import annotations

import os
import select
import signal
import subprocess
from collections.abc import Iterator
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
from tests.tracking.server_proc import ServeProcess

EVENTS = 1_234


@pytest.fixture
def server_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in SETTING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "served"
    Workspace.init(path).close()
    return path


class Server(ServeProcess):
    """The shared `c360 serve` child, with a client of its own."""

    def __init__(self, workspace: Path, log_dir: Path) -> None:
        super().__init__(workspace, log_dir)
        self.http = httpx.Client(base_url=self.base, timeout=httpx.Timeout(2.0, connect=0.2))


@pytest.fixture
def server(server_ws: Path, tmp_path: Path) -> Iterator[Server]:
    running = Server(server_ws, tmp_path)
    try:
        running.wait_ready()
        yield running
    finally:
        running.http.close()
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
    (worker,) = worker_processes(server.process.pid)  # the events were applied in a process of its own

    page = server.http.get("/?lang=en").text
    assert 'data-metric="events_accepted">' in page
    assert "1,234" in page
    assert "1.234" in server.http.get("/", headers={"Accept-Language": "vi"}).text

    exit_code = server.stop()
    # uvicorn shuts down on SIGTERM (lifespan end: worker stopped, workspace closed), then re-raises the signal
    assert exit_code in (0, -signal.SIGTERM), server.logs()
    assert not Path(f"/proc/{worker}").exists(), "the worker process outlived the server"
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


def worker_processes(server_pid: int) -> list[int]:
    """The server's background worker processes (multiprocessing's spawned children, not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if parent == server_pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waiting on another process's exit needs pidfd_open (Linux)")
def test_the_worker_process_ends_when_its_server_is_killed(server: Server) -> None:
    """A server killed outright (SIGKILL: no lifespan, no cleanup) leaves no worker behind: it notices its
    parent is gone and ends by itself."""
    server.wait_until("the worker process to start", lambda: len(worker_processes(server.process.pid)) == 1)
    (worker,) = worker_processes(server.process.pid)
    handle = os.pidfd_open(worker)
    try:
        server.kill()
        ended, _, _ = select.select([handle], [], [], 60)  # readable when the process has ended
        assert ended, f"worker {worker} still runs 60 s after its server was killed"
    finally:
        os.close(handle)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waiting on another process's exit needs pidfd_open (Linux)")
def test_a_worker_process_that_ends_is_replaced(server: Server, server_ws: Path) -> None:
    """SIGTERM to the worker alone (an operator, an OOM kill) ends it cleanly; the server starts another, which
    goes on applying new events."""
    server.wait_until("the worker process to start", lambda: len(worker_processes(server.process.pid)) == 1)
    (first,) = worker_processes(server.process.pid)
    handle = os.pidfd_open(first)
    try:
        os.kill(first, signal.SIGTERM)
        ended, _, _ = select.select([handle], [], [], 60)
        assert ended, f"worker {first} still runs 60 s after SIGTERM"
    finally:
        os.close(handle)
    server.wait_until(
        "another worker process", lambda: [p for p in worker_processes(server.process.pid) if p != first] != []
    )
    with Workspace.open(load_settings(workspace=server_ws)) as ws:
        admin, _record = create_api_key(ws.store, "admin")
        messages = make_messages(100, users=10, seed=5)
        assert append_messages(ws.log, messages, source="web", received_at=lambda: RECEIVED_AT).accepted == 100
    headers = {"Authorization": f"Bearer {admin}"}

    def caught_up() -> bool:
        status = server.http.get("/v1/admin/status", headers=headers).raise_for_status().json()
        return bool(status["events"]["accepted"] == 100 and status["processor"]["lag"] == 0)

    server.wait_until("the new worker to apply the events", caught_up)
    assert "starting another" in server.logs()
    assert server.stop() in (0, -signal.SIGTERM), server.logs()


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


def test_two_server_processes_share_the_port_the_log_and_one_background_worker(server_ws: Path, tmp_path: Path) -> None:
    import fcntl

    from c360.api.served import LOCK_FILE
    from tests.tracking.server_proc import basic, new_source

    key = new_source(server_ws, "web")
    running = ServeProcess(server_ws, tmp_path, options=("--workers", "2")).wait_ready()
    try:
        # A new connection per request: the two processes take turns accepting them.
        batches = [make_messages(50, users=20, seed=seed) for seed in range(12)]
        for batch in batches + batches[:4]:  # the first four again: retries that must not count twice
            with httpx.Client(base_url=running.base, timeout=10) as http:
                answer = http.post("/v1/batch", json={"batch": batch}, headers=basic(key)).raise_for_status().json()
        with Workspace.open(load_settings(workspace=server_ws)) as ws:
            admin, _record = create_api_key(ws.store, "admin")
        status: dict[str, Any] = {}

        def caught_up() -> bool:
            with httpx.Client(base_url=running.base, timeout=10) as http:
                response = http.get("/v1/admin/status", headers={"Authorization": f"Bearer {admin}"})
            status.update(response.raise_for_status().json())
            return bool(status["processor"]["lag"] == 0 and status["events"]["in_log"] == 600)

        running.wait_until("the background worker to apply every event", caught_up)
        assert (answer["accepted"], answer["duplicates"]) == (50, 50)  # the last request was a retry
        assert status["events"]["accepted"] == 600
        every = [message for batch in batches for message in batch]
        assert status["events"]["by_type"] == expected_counts(every)[0]
        # One of the processes holds the background worker's lock for as long as it runs.
        with (server_ws / LOCK_FILE).open("ab") as handle, pytest.raises(BlockingIOError):
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        exit_code = running.stop()
    assert exit_code in (0, -signal.SIGTERM), running.logs()
    assert "Traceback" not in running.logs()
    assert "(2 processes)" in running.logs()
    with (server_ws / LOCK_FILE).open("ab") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with the processes
