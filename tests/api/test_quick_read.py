"""quick_read: a SQLite read runs on the event loop's own thread (no hand-off), a PostgreSQL read in the thread pool
(its network wait must not stall the loop); either way the caller gets the answer or the exception."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from c360.api.deps import quick_read
from c360.errors import AuthError, NotFound
from c360.services.keys import authenticate
from c360.workspace import Workspace


def _thread_and_answer(workspace: Workspace) -> tuple[bool, str]:
    loop_thread: list[threading.Thread] = []

    def read(answer: str) -> str:
        return f"{answer} on {threading.current_thread().name}"

    async def main() -> str:
        loop_thread.append(threading.current_thread())
        return await quick_read(workspace, read, "found")

    answer = asyncio.run(main())
    return answer == f"found on {loop_thread[0].name}", answer


def test_sqlite_reads_stay_on_the_loop_and_postgresql_reads_leave_it(store_url: str, tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws", store_url=store_url) as workspace:
        on_loop, answer = _thread_and_answer(workspace)
    assert answer.startswith("found on ")
    assert on_loop is (store_url.startswith("sqlite"))


def test_the_read_s_exception_reaches_the_caller(store_url: str, tmp_path: Path) -> None:
    def missing() -> None:
        raise NotFound("no such profile")

    with Workspace.init(tmp_path / "ws", store_url=store_url) as workspace:
        with pytest.raises(NotFound, match="no such profile"):
            asyncio.run(quick_read(workspace, missing))
        # and a real read through it: an unknown key is refused, not answered
        with pytest.raises(AuthError, match="unknown or revoked"):
            asyncio.run(quick_read(workspace, authenticate, workspace.store, "c360_nope", "read"))
