"""What `c360 status`, `/` and `/metrics` report about a workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from c360.services.processing import processor_for
from c360.store.schema import api_keys, known_users, order_stats, source_stats, sources
from c360.workspace import Workspace


def workspace_status(ws: Workspace) -> dict[str, Any]:
    log_max = ws.log.max_seq()
    with ws.store.read() as conn:
        # In the same transaction as the handlers' counts below: a checkpoint read apart from them could say
        # "caught up" next to counts from before the last batch.
        processed = processor_for(ws).checkpoint_in(conn)
        by_type = {
            row.type: int(row.n)
            for row in conn.execute(
                select(source_stats.c.type, func.sum(source_stats.c.event_count).label("n")).group_by(
                    source_stats.c.type
                )
            )
        }
        counts = {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in (("sources", sources), ("profiles", known_users), ("customers_with_orders", order_stats))
        }
        active_keys = conn.execute(
            select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
        ).scalar_one()
    return {
        "workspace": str(ws.path),
        "store": ws.store.dialect,
        "events": {
            "accepted": log_max,
            "in_log": ws.log.count(),
            "lake_watermark": ws.lake.watermark(),
            "lake_files": len(ws.lake.committed_files()),
            "by_type": by_type,
        },
        "processor": {"checkpoint": processed, "lag": max(log_max - processed, 0)},
        **counts,
        "api_keys": int(active_keys),
    }
