"""Liveness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from c360.api.deps import WorkspaceDep
from c360.services.status import workspace_status
from c360.workspace import Workspace

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(workspace: WorkspaceDep) -> dict[str, Any]:
    """200 when the store and the log answer; 503 (store_unavailable) otherwise."""
    return {"status": "ok", "store": workspace.store.dialect, "log_max_seq": workspace.log.max_seq()}


class _WorkspaceCollector(Collector):
    """Reads the workspace's state at scrape time, so the numbers are never stale and cost nothing between."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def collect(self) -> Any:
        status = workspace_status(self.workspace)
        gauges = [
            ("c360_events_accepted", "Events accepted into the log since it began", status["events"]["accepted"]),
            ("c360_events_in_log", "Events currently held in the log", status["events"]["in_log"]),
            ("c360_lake_watermark", "Highest log seq compacted into the lake", status["events"]["lake_watermark"]),
            ("c360_processor_lag", "Events in the log not yet applied by the processor", status["processor"]["lag"]),
            ("c360_log_queue_events", "Events waiting for the log writer", self.workspace.log.queued_events),
            ("c360_sources", "Sources", status["sources"]),
            ("c360_profiles", "Profiles", status["profiles"]),
        ]
        for name, help_text, value in gauges:
            yield GaugeMetricFamily(name, help_text, value=value)
        by_type = GaugeMetricFamily(
            "c360_events_processed", "Events applied by the processor, by type", labels=["type"]
        )
        for kind, count in sorted(status["events"]["by_type"].items()):
            by_type.add_metric([kind], count)
        yield by_type


@router.get("/metrics", response_class=Response)
def metrics(workspace: WorkspaceDep) -> Response:
    """Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_WorkspaceCollector(workspace))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")
