"""`c360 serve` for the benchmarks: started on a free loopback port, waited for, measured and stopped.

server = Server([c360, "serve", "-w", ws, "--port", str(port)], port=port, env=env, log_path=log)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``command`` (a `c360 serve` that listens on 127.0.0.1:``port``), its output in ``log_path``; returns once
    `/healthz` answers, or exits naming what the server printed."""

    def __init__(self, command: Sequence[str], *, port: int, env: Mapping[str, str], log_path: Path) -> None:
        import httpx

        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        with log_path.open("wb") as out:
            self.process = subprocess.Popen(list(command), env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        with httpx.Client(base_url=self.base, timeout=2) as http:
            for _ in range(600):  # x 50 ms of waiting on the process: 30 s at most
                try:
                    if http.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                try:
                    self.process.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    continue
                break
        self.stop()
        raise SystemExit(f"the server did not start:\n{log_path.read_text()}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server so far: its process and the processes it started (`--workers`), all
        their threads."""
        total, pids = 0, [self.process.pid]
        while pids:
            pid = pids.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])
            pids += [int(child) for child in children]
        return total / os.sysconf("SC_CLK_TCK")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM, and SIGKILL when it has not ended a minute later."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
