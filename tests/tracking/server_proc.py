"""A real `c360 serve` child process on 127.0.0.1:<free port>, for the SDK and crash tests.

Readiness is polled with a bounded number of attempts; between attempts the parent waits on the process itself,
so a server that dies while starting ends the wait at once (with its output in the failure).
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from c360.eventlog import EventLog, LoggedEvent
from c360.services.keys import add_source
from c360.settings import load_settings
from c360.workspace import Workspace
from tests.cli.support import C360_EXE, clean_env
from tests.crashkit.run import CRASH_ENV

ATTEMPTS = 600  # x 50 ms of waiting on the process: a 30 s bound that a healthy start (~1.5 s) never nears


def basic(key: str) -> dict[str, str]:
    """The tracking API's auth header: the write key as the basic-auth user, an empty password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def new_source(workspace: Path, name: str) -> str:
    """Add source ``name`` to the workspace (a server may be running on it); its write key."""
    with Workspace.open(load_settings(workspace=workspace)) as ws:
        return add_source(ws.store, name)


def logged_events(workspace: Path, source: str | None = None) -> list[LoggedEvent]:
    """Every event in the workspace's log (of ``source``), read from this process as any reader would."""
    log = EventLog.open(load_settings(workspace=workspace).resolved_log_url)
    try:
        events = log.read(0, 10_000_000)
    finally:
        log.close()
    return [e for e in events if source is None or e.source == source]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    """``c360 serve --workspace W --port P [options]``; ``crash_at`` arms a named crash point (``name`` or
    ``name:N``)."""

    def __init__(
        self,
        workspace: Path,
        log_dir: Path,
        *,
        crash_at: str | None = None,
        label: str = "server",
        options: tuple[str, ...] = (),
    ) -> None:
        self.workspace = workspace
        self.crash_at = crash_at
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stdout_path, self.stderr_path = log_dir / f"{label}.out", log_dir / f"{label}.err"
        env = clean_env()
        env.pop(CRASH_ENV, None)
        if crash_at:
            env[CRASH_ENV] = crash_at
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [str(C360_EXE), "serve", "--workspace", str(workspace), "--port", str(self.port), *options],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    def logs(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    @property
    def killed(self) -> bool:
        """Ended by SIGKILL (from a crash point or from the parent)."""
        return self.process.poll() == -signal.SIGKILL

    def wait_until(self, what: str, ready: Callable[[], bool]) -> None:
        """Poll ``ready`` until it holds; between attempts, wait on the process (so a crash ends the wait)."""
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

    def wait_ready(self) -> ServeProcess:
        with httpx.Client(base_url=self.base, timeout=httpx.Timeout(2.0, connect=0.2)) as http:
            self.wait_until("/healthz", lambda: http.get("/healthz").status_code == 200)
        return self

    def kill(self) -> None:
        """SIGKILL, as a power cut or an OOM kill would: no cleanup at all."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM and wait for a clean shutdown; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the server did not stop within 30 s of SIGTERM:\n{self.logs()}")

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
