"""The rejects table: what was not accepted, with its reason, kept so it can be exported, fixed and resent.

It also keeps the *warnings* (``severity: warning``): values of an imported row that was accepted with a field left
missing, because the mapping says ``invalid: missing`` for it. Readers ask for one severity or both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select

from c360.store import Store
from c360.store.schema import rejects
from c360.store.types import utcnow

MAX_PAYLOAD_CHARS = 65_536
#: ``error``: the row or event was not accepted; ``warning``: it was, with this value left missing.
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Reject:
    source: str
    origin: str  # "api" or "import"
    reason: str
    field: str | None = None
    payload: str | None = None
    file: str | None = None
    line: int | None = None
    column: str | None = None
    severity: Severity = "error"


def record_rejects(store: Store, items: Iterable[Reject], *, received_at: dt.datetime | None = None) -> int:
    """Store ``items`` in one transaction; returns how many."""
    at = received_at or utcnow()
    rows = [
        {
            "source": item.source,
            "received_at": at,
            "origin": item.origin,
            "severity": item.severity,
            "file": item.file,
            "line": item.line,
            "column": item.column,
            "field": item.field,
            "reason": item.reason,
            "payload": item.payload[:MAX_PAYLOAD_CHARS] if item.payload else item.payload,
        }
        for item in items
    ]
    if rows:
        with store.write() as conn:
            conn.execute(insert(rejects), rows)
    return len(rows)


def iter_rejects(
    store: Store, *, source: str | None = None, severity: str | None = "error", batch: int = 1_000
) -> Iterator[dict[str, Any]]:
    """Rejects in the order they were stored, optionally of one source, read in pages; of one ``severity``
    (default: the rejects proper) or, with None, warnings too."""
    last = 0
    while True:
        query = select(rejects).where(rejects.c.id > last).order_by(rejects.c.id).limit(batch)
        if source is not None:
            query = query.where(rejects.c.source == source)
        if severity is not None:
            query = query.where(rejects.c.severity == severity)
        with store.read() as conn:
            page = [dict(row._mapping) for row in conn.execute(query)]
        if not page:
            return
        yield from page
        last = page[-1]["id"]
