"""The profile API: one profile, lookup by identifier, search, explain and timeline. Bearer key with scope `read`.

`/v1/profiles/search` is declared before `/v1/profiles/{profile_id}`, so `search` is never taken for an id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from c360.api.deps import ReadKey, WorkspaceDep, quick_read
from c360.api.responses import JSONBody
from c360.services import profiles

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])

_Id = Annotated[str | None, Query(max_length=500)]


@router.get("", response_model=dict[str, Any])
async def lookup(
    workspace: WorkspaceDep,
    _key: ReadKey,
    email: _Id = None,
    phone: _Id = None,
    user_id: _Id = None,
    anonymous_id: Annotated[
        str | None, Query(max_length=500, description="An anonymousId, or an imported record's `<source>:<id>`.")
    ] = None,
    loyalty_card: _Id = None,
) -> JSONBody:
    """The profiles holding one identifier (exactly one parameter), compared after normalisation: `0912 345 678`
    finds `+84912345678`, emails ignore case (and Gmail's dots and `+tags` when `identity_gmail_rules`).
    An identifier held back by the fan-out guard answers `held` with the reason and the profiles whose records
    carry it. 422 names the parameter when a value is not valid."""
    answer = await quick_read(
        workspace,
        profiles.lookup,
        workspace.store,
        workspace.settings,
        email=email,
        phone=phone,
        user_id=user_id,
        anonymous_id=anonymous_id,
        loyalty_card=loyalty_card,
    )
    return JSONBody(answer)


@router.get("/search")
def search(
    workspace: WorkspaceDep,
    _key: ReadKey,
    q: Annotated[
        str,
        Query(description="A name (with or without diacritics, either order), digits of a phone, or part of an email."),
    ],
    limit: Annotated[int, Query(description="At most 100.")] = 20,
) -> dict[str, Any]:
    """People by name, phone digits or email part: exact names first, then shorter names, then most records."""
    return profiles.search(workspace.store, q, limit)


@router.get("/{profile_id}", response_model=dict[str, Any])
async def get_profile(profile_id: str, workspace: WorkspaceDep, _key: ReadKey) -> JSONBody:
    """The profile, its identifiers and traits. A merged-away id answers with the survivor and `merged_from`."""
    return JSONBody(await quick_read(workspace, profiles.get_profile, workspace.store, profile_id))


@router.get("/{profile_id}/identity")
def explain(profile_id: str, workspace: WorkspaceDep, _key: ReadKey) -> dict[str, Any]:
    """Why the profile is what it is: identifiers, the edges that joined them with their evidence, merges, held
    identifiers on its records and the open review items that touch it."""
    return profiles.identity(workspace.store, profile_id)


@router.get("/{profile_id}/events")
def timeline(
    profile_id: str,
    workspace: WorkspaceDep,
    _key: ReadKey,
    limit: Annotated[int, Query(description="Events per page, at most 500.")] = 50,
    before: Annotated[str | None, Query(description="The `next` cursor of the previous page.")] = None,
) -> dict[str, Any]:
    """The profile's events, newest first, from the lake and the log; `next` is the cursor of the next page."""
    return profiles.events(workspace, profile_id, limit=limit, before=before)
