"""Batch jobs run on the workspace's engine over the lake, with their results written to the store."""

from __future__ import annotations

from c360.workspace import Workspace


def run_order_stats(ws: Workspace) -> int:
    """Order count, spend, first and last order per (userId, currency); returns the rows written."""
    from c360.engines import open_engine
    from c360.services.order_stats import compute_and_store_order_stats

    settings = ws.settings
    options = (
        {"threads": settings.duckdb_threads, "memory_limit": settings.duckdb_memory_limit}
        if settings.engine == "duckdb"
        else {"master": settings.spark_master}
    )
    engine = open_engine(settings.engine, **options)
    try:
        return compute_and_store_order_stats(engine, ws.lake, ws.store)
    finally:
        engine.close()
