"""Dependencies that keep routes short: the workspace, and API-key checks by scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from c360.services.keys import ApiKey, Scope, authenticate
from c360.workspace import Workspace

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="An API key made with `c360 keys create`.")


async def get_workspace(request: Request) -> Workspace:
    # async: FastAPI runs a plain def dependency in the thread pool, a hand-off that costs more than this does
    workspace: Workspace = request.app.state.workspace
    return workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


async def quick_read(workspace: Workspace, read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``read`` (a few primary-key reads of the store): on the event loop itself when the store is SQLite, in
    the thread pool otherwise.

    A SQLite read is a file read inside this process (WAL readers never wait for writers) that takes well under a
    millisecond; handing it to a thread and back costs more than that, on every request. A PostgreSQL read waits
    on the network, which must not stall the loop.
    """
    if workspace.store.dialect == "sqlite":
        return read(*args, **kwargs)
    return await run_in_threadpool(read, *args, **kwargs)


def require(scope: Scope) -> object:
    async def check(
        workspace: WorkspaceDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        return await quick_read(
            workspace, authenticate, workspace.store, credentials.credentials if credentials else None, scope
        )

    return Depends(check)


AdminKey = Annotated[ApiKey, require("admin")]
ReadKey = Annotated[ApiKey, require("read")]
