"""People's identity decisions: the review queue and unmerge. Reading needs scope `read`, deciding `admin`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from c360.api.deps import AdminKey, ReadKey, WorkspaceDep
from c360.identity.normalize import Normalizer
from c360.services import review

router = APIRouter(tags=["identity"])


class ReviewDecision(BaseModel):
    decision: Literal["accept", "reject"]


class Unmerge(BaseModel):
    identifiers: list[str] = Field(
        min_length=1, description="The identifiers to split off, as `type:value` (`phone:+84912345678`)."
    )
    reason: str = Field(min_length=1, max_length=500, description="Why: kept with the rule and in the audit trail.")


@router.get("/v1/identity/review")
def list_review(
    workspace: WorkspaceDep,
    _key: ReadKey,
    status: Annotated[Literal["open", "accepted", "rejected"] | None, Query()] = "open",
    kind: Annotated[Literal["held_value", "match"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Held values and borderline matches waiting for a decision (or decided ones, by `status`)."""
    return review.list_review(workspace.store, status=status, kind=kind, limit=limit)


@router.post("/v1/identity/review/{item_id}")
def decide(item_id: int, body: ReviewDecision, workspace: WorkspaceDep, key: AdminKey) -> dict[str, Any]:
    """Accept (the value joins / the profiles merge) or reject (it stays held / they never link). Later runs,
    batch and incremental, honour the decision."""
    return review.decide(workspace.store, item_id, body.decision, actor=f"api:{key.prefix}")


@router.post("/v1/profiles/{profile_id}/unmerge")
def unmerge(profile_id: str, body: Unmerge, workspace: WorkspaceDep, _key: AdminKey) -> dict[str, Any]:
    """Split the named identifiers (and what only they join) off a profile, now; the split is kept as
    never-link rules that later runs honour."""
    identifiers = [review.parse_identifier(text) for text in body.identifiers]
    return review.unmerge(
        workspace.store,
        profile_id,
        identifiers,
        reason=body.reason,
        normalizer=Normalizer.from_settings(workspace.settings),
    )
