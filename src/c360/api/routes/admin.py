"""Admin endpoints: workspace status, API keys, sources. Each requires a bearer key with the right scope."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from c360.api.deps import AdminKey, ReadKey, WorkspaceDep
from c360.services import keys
from c360.services.status import workspace_status

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class NewKey(BaseModel):
    scope: Literal["admin", "write", "read"]
    name: str = Field(default="", max_length=200)


class CreatedKey(BaseModel):
    key: str = Field(description="Shown once; only its hash is stored.")
    prefix: str
    scope: str
    name: str


class NewSource(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")


class CreatedSource(BaseModel):
    name: str
    write_key: str = Field(description="Shown once; send it as the HTTP basic-auth user of the tracking API.")


@router.get("/status")
def status(workspace: WorkspaceDep, _key: ReadKey) -> dict[str, Any]:
    return workspace_status(workspace)


@router.get("/keys")
def list_keys(workspace: WorkspaceDep, _key: AdminKey) -> list[dict[str, Any]]:
    return keys.list_api_keys(workspace.store)


@router.post("/keys", status_code=201)
def create_key(body: NewKey, workspace: WorkspaceDep, key: AdminKey) -> CreatedKey:
    secret, record = keys.create_api_key(workspace.store, body.scope, name=body.name, actor=f"api:{key.prefix}")
    return CreatedKey(key=secret, prefix=record.prefix, scope=record.scope, name=record.name)


@router.delete("/keys/{prefix}", status_code=204)
def revoke_key(prefix: str, workspace: WorkspaceDep, key: AdminKey) -> None:
    keys.revoke_api_key(workspace.store, prefix, actor=f"api:{key.prefix}")


@router.get("/sources")
def list_sources(workspace: WorkspaceDep, _key: ReadKey) -> list[dict[str, Any]]:
    return keys.list_sources(workspace.store)


@router.post("/sources", status_code=201)
def add_source(body: NewSource, workspace: WorkspaceDep, key: AdminKey) -> CreatedSource:
    write_key = keys.add_source(workspace.store, body.name, actor=f"api:{key.prefix}")
    return CreatedSource(name=body.name, write_key=write_key)
