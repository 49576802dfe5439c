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


class RotatedKey(BaseModel):
    write_key: str = Field(description="Shown once.")
    prefix: str


@router.get("/sources/{name}/keys")
def list_write_keys(name: str, workspace: WorkspaceDep, _key: AdminKey) -> list[dict[str, Any]]:
    """The source's write keys (prefixes only), active and revoked."""
    return keys.list_write_keys(workspace.store, name)


@router.post("/sources/{name}/keys", status_code=201)
def rotate_write_key(name: str, workspace: WorkspaceDep, key: AdminKey, revoke_old: bool = False) -> RotatedKey:
    """A new write key; the old ones keep working unless `revoke_old=true`."""
    new_key = keys.rotate_write_key(workspace.store, name, revoke_old=revoke_old, actor=f"api:{key.prefix}")
    return RotatedKey(write_key=new_key, prefix=new_key[:10])


@router.delete("/sources/{name}/keys/{prefix}", status_code=204)
def revoke_write_key(name: str, prefix: str, workspace: WorkspaceDep, key: AdminKey) -> None:
    keys.revoke_write_key(workspace.store, name, prefix, actor=f"api:{key.prefix}")
