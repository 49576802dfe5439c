"""The parent's side of the crash tests: start a child program, kill it with SIGKILL, collect what it promised.

Two ways to kill, both deterministic in what the test then asserts:

- ``crash_at="name"`` / ``"name:N"``: the child kills itself at the N-th time it reaches that crash point;
  the run must end by SIGKILL, which proves the point was reached;
- ``kill_after_lines=k``: the parent reads k progress lines and then kills the child; where exactly the child
  was by then varies, which is the point — the assertions hold wherever it was.

No sleeps: the parent only blocks on the child's pipe. ``timeout`` is a safety net against a hung child.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHILD = Path(__file__).with_name("child.py")
CRASH_ENV = "C360_CRASH_AT"


@dataclass(frozen=True)
class ChildRun:
    args: tuple[str, ...]
    returncode: int
    lines: tuple[str, ...]  # complete stdout lines, without their newline
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    @property
    def finished(self) -> bool:
        return self.returncode == 0 and bool(self.lines) and self.lines[-1].startswith("done")

    def values(self, kind: str) -> list[str]:
        """The payloads of the lines that start with ``kind``."""
        return [line.split(" ", 1)[1] for line in self.lines if line.startswith(kind + " ")]

    def describe(self) -> str:
        return (
            f"child {' '.join(self.args)} ended with {self.returncode} after {len(self.lines)} lines; "
            f"stderr:\n{self.stderr[-4000:]}"
        )


def run_child(
    *args: str,
    crash_at: str | None = None,
    kill_after_lines: int | None = None,
    timeout: float = 120,
) -> ChildRun:
    env = {key: value for key, value in os.environ.items() if key != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    with (
        open(os.devnull, "rb") as stdin,
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(
            [sys.executable, str(CHILD), *args], stdin=stdin, stdout=subprocess.PIPE, stderr=stderr, env=env
        ) as proc,
    ):
        assert proc.stdout is not None
        raw: list[bytes] = []
        try:
            if kill_after_lines is not None:
                while len(raw) < kill_after_lines and (line := proc.stdout.readline()):
                    raw.append(line)
                proc.kill()
            rest, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"child {' '.join(args)} hung for {timeout} s") from None
        raw.extend(rest.splitlines(keepends=True))
        stderr.seek(0)
        err = stderr.read().decode(errors="replace")
    # A child killed in the middle of a write may leave half a line: it was never a promise.
    lines = tuple(line.decode().rstrip("\n") for line in raw if line.endswith(b"\n"))
    return ChildRun(tuple(args), proc.returncode, lines, err)


def crash_point_specs(points: dict[str, tuple[int, ...]]) -> list[str]:
    """``name:N`` for every point and every N-th hit listed."""
    return [f"{name}:{nth}" for name, nths in points.items() for nth in nths]


def seeded(test: str, seed: int) -> random.Random:
    """The random source of one seeded crash scenario (the same on every run and machine)."""
    return random.Random(f"{test}:{seed}")
