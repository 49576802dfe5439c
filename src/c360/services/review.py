"""People's decisions about identity: the review queue (accept or reject) and unmerge.

Decisions become rules (``identity_rules``) that every later run honours, batch and incremental:

- a held value accepted -> ``allow_value``: it joins again (from the next resolve, or when the processor next
  meets it); rejected -> ``block_value``: it stays held whatever the guard later thinks;
- a match accepted -> ``link``: a ``manual`` edge between the two profiles from the next resolve; rejected ->
  ``never_link`` between them;
- an unmerge -> ``never_link`` for every edge between the identifiers split off and the rest, applied at once:
  the profile is split now, and no later message received after it joins the two sides directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, insert, select, update

from c360.errors import InvalidInput, NotFound
from c360.identity.normalize import Normalizer
from c360.identity.stitch import WorkingSet, split_profile
from c360.store import Database
from c360.store.schema import (
    identity_edges,
    identity_nodes,
    identity_review,
    identity_rules,
)
from c360.store.types import utcnow

Decision = Literal["accept", "reject"]

_COLUMNS = (
    "id", "kind", "id_type", "id_value", "left_profile_id", "right_profile_id", "match_probability", "reason",
    "evidence", "status", "created_at", "decided_at",
)  # fmt: skip


def _item(row: Any) -> dict[str, Any]:
    item = {column: row[column] for column in _COLUMNS}
    item["evidence"] = orjson.loads(item["evidence"]) if item["evidence"] else None
    for column in ("created_at", "decided_at"):
        if item[column] is not None:
            item[column] = item[column].isoformat().replace("+00:00", "Z")
    return item


def list_review(
    store: Database, *, status: str | None = "open", kind: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Review items, oldest first (``status`` None: all)."""
    if status not in (None, "open", "accepted", "rejected"):
        raise InvalidInput(f"{status!r} is not one of open, accepted, rejected", field="status")
    query = select(identity_review).order_by(identity_review.c.id).limit(max(1, min(limit, 1000)))
    if status is not None:
        query = query.where(identity_review.c.status == status)
    if kind is not None:
        query = query.where(identity_review.c.kind == kind)
    with store.read() as conn:
        return [_item(row) for row in conn.execute(query).mappings()]


def decide(store: Database, item_id: int, decision: Decision, *, actor: str = "cli") -> dict[str, Any]:
    """Accept or reject an open review item; returns the item as it is now."""
    if decision not in ("accept", "reject"):
        raise InvalidInput(f"{decision!r} must be accept or reject", field="decision")
    now = utcnow()
    with store.write() as conn:
        row = conn.execute(select(identity_review).where(identity_review.c.id == item_id)).mappings().first()
        if row is None:
            raise NotFound(f"no review item {item_id}")
        if row["status"] != "open":
            raise InvalidInput(f"review item {item_id} is already {row['status']}", field="id")
        reason = f"review #{item_id} {decision}ed by {actor}"
        if row["kind"] == "held_value":
            kind = "allow_value" if decision == "accept" else "block_value"
            _add_rule(conn, kind, (row["id_type"], row["id_value"]), None, reason, now)
        elif decision == "reject":
            left, right = _anchor(conn, row["left_profile_id"]), _anchor(conn, row["right_profile_id"])
            _add_rule(conn, "never_link", left, right, reason, now)
        else:
            left, right = _anchor(conn, row["left_profile_id"]), _anchor(conn, row["right_profile_id"])
            _add_rule(conn, "link", left, right, reason, now)
        status = "accepted" if decision == "accept" else "rejected"
        conn.execute(
            update(identity_review).where(identity_review.c.id == item_id).values(status=status, decided_at=now)
        )
        updated = conn.execute(select(identity_review).where(identity_review.c.id == item_id)).mappings().one()
    return _item(updated)


def _anchor(conn: Connection, profile_id: str | None) -> tuple[str, str]:
    """A profile's strongest identifier: what a rule about the profile is written against."""
    row = conn.execute(
        select(identity_nodes.c.id_type, identity_nodes.c.id_value)
        .where(identity_nodes.c.profile_id == profile_id)
        .order_by(identity_nodes.c.first_seen_at, identity_nodes.c.id_type, identity_nodes.c.id_value)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no profile {profile_id!r}")
    return (row.id_type, row.id_value)


def _add_rule(
    conn: Connection, kind: str, a: tuple[str, str], b: tuple[str, str] | None, reason: str, now: Any
) -> None:
    conn.execute(
        insert(identity_rules).values(
            kind=kind, a_type=a[0], a_value=a[1], b_type=b[0] if b else None, b_value=b[1] if b else None,
            reason=reason, created_at=now, active=True,
        )
    )  # fmt: skip


def parse_identifier(text: str) -> tuple[str, str]:
    """`phone:+84912345678` -> ("phone", "+84912345678")."""
    id_type, sep, value = text.partition(":")
    if not sep or not value:
        raise InvalidInput(f"{text!r} must be written type:value (e.g. phone:+84912345678)", field="identifiers")
    return id_type, value


def unmerge(
    store: Database,
    profile_id: str,
    identifiers: Sequence[tuple[str, str]],
    *,
    reason: str,
    normalizer: Normalizer | None = None,
) -> dict[str, Any]:
    """Split ``identifiers`` (and whatever only they join) off ``profile_id``; returns the profiles it became."""
    if not identifiers:
        raise InvalidInput("name at least one identifier to split off", field="identifiers")
    chosen = set(identifiers)
    now = utcnow()
    with store.write() as conn:
        members = {
            (r.id_type, r.id_value)
            for r in conn.execute(
                select(identity_nodes.c.id_type, identity_nodes.c.id_value).where(
                    identity_nodes.c.profile_id == profile_id
                )
            )
        }
        if not members:
            raise NotFound(f"no profile {profile_id!r}")
        outside = sorted(f"{t}:{v}" for t, v in chosen - members)
        if outside:
            raise InvalidInput(f"{', '.join(outside)} not in profile {profile_id}", field="identifiers")
        if chosen >= members:
            raise InvalidInput("that is the whole profile; leave at least one identifier", field="identifiers")
        crossing = [
            ((r.a_type, r.a_value), (r.b_type, r.b_value))
            for r in conn.execute(select(identity_edges).where(identity_edges.c.profile_id == profile_id))
            if ((r.a_type, r.a_value) in chosen) != ((r.b_type, r.b_value) in chosen)
        ]
        for a, b in crossing:
            _add_rule(conn, "never_link", a, b, f"unmerge of {profile_id}: {reason}", now)
            conn.execute(
                update(identity_edges)
                .where(identity_edges.c.a_type == a[0], identity_edges.c.a_value == a[1],
                       identity_edges.c.b_type == b[0], identity_edges.c.b_value == b[1])
                .values(live=False)
            )  # fmt: skip
        parts = split_profile(
            conn,
            WorkingSet(conn),
            profile_id,
            reason=f"unmerge: {reason}",
            via="unmerge",
            normalizer=normalizer or Normalizer(),
        )
    return {"profile_id": profile_id, "profiles": parts, "rules": len(crossing)}
