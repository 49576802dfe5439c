"""Messages for the identity tests: times from one origin, CRM rows as `c360 import` writes them, and appending."""

from __future__ import annotations

import datetime as dt
from typing import Any

from c360.services.ingest import append_messages
from c360.workspace import Workspace

T0 = dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC)


def at(minutes: int) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def send(ws: Workspace, source: str, *messages: dict[str, Any], replay: bool = True) -> None:
    """Append ``messages`` (as history unless ``replay`` is off) and insist every one was accepted."""
    result = append_messages(ws.log, list(messages), source=source, replay=replay)
    assert result.rejected == 0, result.errors


def crm_row(record_id: str, minutes: int, **traits: Any) -> dict[str, Any]:
    """A customers row of source `crm` as the importer turns it into an identify."""
    return {
        "type": "identify",
        "anonymousId": f"crm:{record_id}",
        "messageId": f"crm-{record_id}-{minutes}",
        "timestamp": at(minutes),
        "traits": traits,
        "context": {"import": {"file": "crm.csv", "line": 2, "recordId": record_id}},
    }
