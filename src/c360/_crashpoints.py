"""Named crash points: the test seam that lets crash tests kill a process at an exact step.

A test sets ``C360_CRASH_AT=name`` (or ``name:N`` for the N-th time that point is reached) in a child process's
environment; when the code reaches that point the process kills itself with SIGKILL, as a power cut or an OOM
kill would, with no chance to clean up. In any other process a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_ENV = "C360_CRASH_AT"
_armed: tuple[str, int] | None = None
_loaded = False
_hits = 0


def _arm() -> tuple[str, int] | None:
    spec = os.environ.get(_ENV, "")
    if not spec:
        return None
    name, _, nth = spec.partition(":")
    return name, int(nth or "1")


def crashpoint(name: str) -> None:
    """Kill this process here if a test armed this point."""
    global _armed, _loaded, _hits
    if not _loaded:
        _armed, _loaded = _arm(), True
    if _armed is None or _armed[0] != name:
        return
    _hits += 1
    if _hits >= _armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)
