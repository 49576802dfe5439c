"""Compaction: events move from the log into the lake, exactly once (see ``c360.lake.lake`` for the protocol)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from c360.domain.timestamps import to_micros
from c360.eventlog import EventLog
from c360.lake import Lake
from c360.lake.convert import logged_to_table
from c360.store.types import utcnow

if TYPE_CHECKING:
    from c360.workspace import Workspace


@dataclass(frozen=True)
class CompactionResult:
    events: int
    files: int
    watermark: int
    recovered_orphans: int


def compact(
    log: EventLog,
    lake: Lake,
    *,
    batch_events: int = 200_000,
    default_currency: str = "VND",
    progress: Callable[[int, int], None] | None = None,
) -> CompactionResult:
    """Move every committed log event above the lake's watermark into the lake (LakeBusy if one is running)."""
    with lake.exclusive():
        return _compact(log, lake, batch_events, default_currency, progress)


def _compact(
    log: EventLog,
    lake: Lake,
    batch_events: int,
    default_currency: str,
    progress: Callable[[int, int], None] | None,
) -> CompactionResult:
    orphans = lake.recover()
    watermark = lake.watermark()
    total = max(log.max_seq() - watermark, 0)
    moved = files = 0
    while batch := log.read(watermark, batch_events):
        table = logged_to_table(batch, default_currency=default_currency)
        files += len(lake.commit(table, batch[0].seq, batch[-1].seq))
        watermark = batch[-1].seq
        moved += len(batch)
        if progress:
            progress(moved, total)
    return CompactionResult(moved, files, watermark, len(orphans))


@dataclass(frozen=True)
class MaintenanceResult:
    compaction: CompactionResult
    pruned_from_log: int
    forgotten_message_ids: int


def maintain(ws: Workspace, progress: Callable[[int, int], None] | None = None) -> MaintenanceResult:
    """Compact the log into the lake, prune what is both compacted and processed, end the dedupe window."""
    from c360.services.processing import processor_for

    settings = ws.settings
    result = compact(
        ws.log,
        ws.lake,
        batch_events=settings.compaction_batch_events,
        default_currency=settings.default_currency,
        progress=progress,
    )
    pruned = ws.log.prune(min(result.watermark, processor_for(ws).checkpoint()))
    window_start = utcnow() - dt.timedelta(days=settings.dedupe_window_days)
    forgotten = ws.log.forget_message_ids(to_micros(window_start))
    return MaintenanceResult(result, pruned, forgotten)
