"""Dependencies that keep routes short: the workspace, and API-key checks by scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from c360.services.keys import ApiKey, Scope, authenticate
from c360.workspace import Workspace

_bearer = HTTPBearer(auto_error=False, description="An API key made with `c360 keys create`.")


async def get_workspace(request: Request) -> Workspace:
    # async: FastAPI runs a plain def dependency in the thread pool, a hand-off that costs more than this does
    workspace: Workspace = request.app.state.workspace
    return workspace


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


def require(scope: Scope) -> object:
    def check(
        workspace: WorkspaceDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        return authenticate(workspace.store, credentials.credentials if credentials else None, scope)

    return Depends(check)


AdminKey = Annotated[ApiKey, require("admin")]
ReadKey = Annotated[ApiKey, require("read")]
