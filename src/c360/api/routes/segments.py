"""The segments API: definitions, the build, members (JSON pages or CSV), explanations, overlap, RFM, catalog.

Scopes: reading (and previewing a draft) needs `read`; writing definitions and running a build need `admin`, like
the other changes to how the workspace works (sources, keys, identity decisions, the loyalty schedule). A body is
a definition as JSON, the same shape as the YAML files of `c360 segments create`. A definition that cannot be used
answers 422 `invalid_input` whose message starts with the key at fault (`where.all[1].value: must be a number`),
and nothing is saved; a name that exists already answers 422 on `name`, as sources do. Unknown segments and
profiles answer 404.

`/v1/segments/preview`, `/overlap`, `/rfm`, `/catalog` and `/build` are declared before `/v1/segments/{name}`, so
none is taken for a segment's name.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from threading import Lock
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from c360.api.deps import AdminKey, ReadKey, WorkspaceDep
from c360.errors import C360Error, NotFound
from c360.services import segments
from c360.services.profiles import current_profile_id
from c360.workspace import Workspace

router = APIRouter(tags=["segments"])

EXAMPLE: dict[str, Any] = {
    "name": "big_buyers",
    "title": "Big buyers",
    "description": "Spent 2M VND in a year, outside Hà Nội",
    "where": {
        "all": [
            {"event": "Order Completed", "sum": "total", "op": ">=", "value": 2000000, "within_days": 365},
            {"not": {"trait": "province", "op": "=", "value": "Hà Nội"}},
        ]
    },
}

DefinitionBody = Annotated[
    dict[str, Any],
    Body(
        description="A segment definition: `name`, optional `title` and `description`, and the condition `where` "
        "(all / any / not, trait / event / segment / loyalty). `GET /v1/segments/catalog` lists what it may name.",
        examples=[EXAMPLE],
    ),
]


class BuildRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: AwareDatetime | None = Field(
        default=None, description="Compute as of this time, with its UTC offset (default: now)."
    )


class BuildRunning(C360Error):
    http_status = 409
    code = "build_running"


# One build at a time per workspace in this server: two at once would both record the same entries.
_building: dict[Path, Lock] = {}
_building_lock = Lock()


def _build_lock(ws: Workspace) -> Lock:
    with _building_lock:
        return _building.setdefault(ws.path.resolve(), Lock())


# --- routes with fixed paths first -------------------------------------------------------------------------------
@router.get("/v1/segments")
def list_segments(workspace: WorkspaceDep, _key: ReadKey) -> list[dict[str, Any]]:
    """Every segment: the ready-made RFM ones, then the saved ones, with their members after the last build."""
    return segments.list_segments(workspace)


@router.post("/v1/segments", status_code=201)
def create(definition: DefinitionBody, workspace: WorkspaceDep, _key: AdminKey) -> dict[str, Any]:
    """Save a new segment (201 with it). A definition that cannot be used, or a name in use, answers 422 naming
    the key; its members are computed by the next build."""
    return segments.save(workspace, definition)


@router.post("/v1/segments/preview")
def preview(definition: DefinitionBody, workspace: WorkspaceDep, _key: ReadKey) -> dict[str, Any]:
    """How many profiles a draft holds (`size`) of all profiles (`profiles`), without saving it; `name` may be
    left out. As of the last build (`as_of`), whose computed traits it reads; now when nothing was built yet."""
    return segments.preview(workspace, definition)


@router.get("/v1/segments/overlap")
def overlap(
    workspace: WorkspaceDep,
    _key: ReadKey,
    a: Annotated[str, Query(description="A segment's name.")],
    b: Annotated[str, Query(description="Another segment's name.")],
) -> dict[str, Any]:
    """How many current members two segments share (`both`), and how many are only in one of them."""
    return segments.overlap(workspace, a, b)


@router.get("/v1/segments/rfm")
def rfm(workspace: WorkspaceDep, _key: ReadKey) -> dict[str, Any]:
    """The RFM groups as of the last build: profiles and their spend (minor units) in each, and the grid of
    counts by recency score (rows) and frequency score (columns)."""
    return segments.rfm_grid(workspace)


@router.get("/v1/segments/catalog")
def catalog(workspace: WorkspaceDep, _key: ReadKey) -> dict[str, Any]:
    """What a definition may name: profile traits and computed traits with their types, events with their
    properties, segments."""
    return segments.describe_catalog(workspace)


@router.post("/v1/segments/build")
def build(workspace: WorkspaceDep, _key: AdminKey, body: BuildRequest | None = None) -> dict[str, Any]:
    """Compute the computed traits, RFM and every segment now (the log is compacted into the lake first) and
    record who entered and who left each; answers the members, entered and exited per segment. 409 while another
    build of this server runs."""
    lock = _build_lock(workspace)
    if not lock.acquire(blocking=False):
        raise BuildRunning("a segments build is already running; try again when it has finished")
    try:
        as_of = body.as_of.astimezone(dt.UTC) if body and body.as_of else None
        return segments.build(workspace, as_of=as_of).as_dict()
    finally:
        lock.release()


# --- one segment -------------------------------------------------------------------------------------------------
@router.get("/v1/segments/{name}")
def get_segment(name: str, workspace: WorkspaceDep, _key: ReadKey) -> dict[str, Any]:
    """A segment: its definition, title, description and current member count."""
    return segments.get(workspace, name)


@router.put("/v1/segments/{name}")
def update(name: str, definition: DefinitionBody, workspace: WorkspaceDep, _key: AdminKey) -> dict[str, Any]:
    """Replace a saved segment's definition (`name` in the body may be left out; if given it must be the
    path's). 404 for a segment that does not exist; 422 naming the key, as for a new one, nothing changed."""
    return segments.save(workspace, definition, name=name, replace=True)


@router.delete("/v1/segments/{name}", status_code=204)
def delete(name: str, workspace: WorkspaceDep, _key: AdminKey) -> None:
    """Delete a saved segment and its membership history; 422 while another segment refers to it."""
    segments.delete_segment(workspace, name)


@router.get("/v1/segments/{name}/members", response_model=None)
def members(
    name: str,
    workspace: WorkspaceDep,
    _key: ReadKey,
    limit: Annotated[int, Query(ge=1, le=1000, description="Members per page.")] = 100,
    after: Annotated[str | None, Query(description="The `next` cursor of the previous page.")] = None,
    fmt: Annotated[
        Literal["json", "csv"],
        Query(alias="format", description="json: a page; csv: every member (`limit` and `after` do not apply)."),
    ] = "json",
) -> dict[str, Any] | Response:
    """The current members by profile id with name, email, phone and when they entered; `next` is the cursor of
    the next page (null on the last). `format=csv` answers every member as CSV instead."""
    if fmt == "csv":
        text = io.StringIO()
        segments.write_members_csv(workspace, name, text)
        return Response(
            text.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return segments.members(workspace, name, limit=limit, after=after)


@router.get("/v1/segments/{name}/explain")
def explain(
    name: str,
    workspace: WorkspaceDep,
    _key: ReadKey,
    profile: Annotated[str, Query(description="A profile id (a merged-away id answers as its survivor).")],
) -> dict[str, Any]:
    """Why a profile is in the segment or not, now: the tree of conditions, each `met` or not with the value
    `observed`, and whether it was a member after the last build."""
    return segments.explain(workspace, name, profile)


# --- a profile's segments ----------------------------------------------------------------------------------------
@router.get("/v1/profiles/{profile_id}/segments")
def profile_history(profile_id: str, workspace: WorkspaceDep, _key: ReadKey) -> dict[str, Any]:
    """A profile's stays in segments, newest first: when it entered each and when it left (null: still in)."""
    with workspace.store.read() as conn:
        current = current_profile_id(conn, profile_id)
    if current is None:
        raise NotFound(f"no profile {profile_id!r}")
    return {"profile_id": current, "history": segments.history(workspace, current)}
