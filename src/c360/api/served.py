"""The app of each process of `c360 serve --workers N`: uvicorn starts the processes and imports ``app`` by name
in each, so the workspace comes from the environment that `c360 serve` set before starting them.

One process runs the background event processing: the first to take an exclusive lock on a file in the workspace
folder (``fcntl``; where there is none, every process runs it, which stays correct — the processor's checkpoint
lets one transaction apply a batch — only wasteful).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import IO

from fastapi import FastAPI

from c360.api.app import create_app
from c360.settings import load_settings

WORKSPACE_VARIABLE = "C360_SERVE_WORKSPACE"
LOCK_FILE = ".c360-background-worker.lock"


def app() -> FastAPI:
    """The workspace's app, the one of ``WORKSPACE_VARIABLE``; with the background worker if this process wins it."""
    settings = load_settings(workspace=Path(os.environ[WORKSPACE_VARIABLE]))
    served = create_app(settings, background=take_worker_lock(Path(settings.workspace)))
    freeze_startup_objects()
    return served


def freeze_startup_objects() -> None:
    """Put what start-up made (modules, the app, its caches: alive as long as the server) out of the garbage
    collector's sight, so that its full collections stop walking them on the request path: they showed as the
    slowest lookups' extra milliseconds. Only for a server process; a test process makes and drops many apps."""
    gc.collect()
    gc.freeze()


_held: list[IO[bytes]] = []  # the lock is held for as long as the process lives


def take_worker_lock(folder: Path) -> bool:
    """True when this process may run the background worker: it holds the folder's lock (or locks do not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return True
    handle = (folder / LOCK_FILE).open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    _held.append(handle)
    return True
