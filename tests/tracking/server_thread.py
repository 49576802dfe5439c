"""A real uvicorn HTTP server in a thread of the test process, serving an app the test can reach into (to hold the
log's writer, for instance) — for what cannot be made deterministic through a child process.

The listening socket is bound and listening before uvicorn starts, so a client may connect at once: its request
waits in the backlog until the server accepts it.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import pytest
import uvicorn
from fastapi import FastAPI

ATTEMPTS = 3_000  # x 10 ms: a 30 s bound on the app's startup


class ThreadedServer:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port: int = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=10)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="uvicorn-under-test", daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        for _ in range(ATTEMPTS):
            if self.server.started:
                return self
            self.thread.join(timeout=0.01)
            if not self.thread.is_alive():
                pytest.fail("the in-process server stopped while starting")
        pytest.fail(f"the in-process server did not start after {ATTEMPTS} attempts")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
        assert not self.thread.is_alive(), "the in-process server did not stop within 30 s"
