"""`c360 status` and `c360 process`: the counts move as events are appended and applied."""

from __future__ import annotations

import json
from typing import Any

from c360.services.ingest import append_messages
from c360.workspace import Workspace
from tests.cli.conftest import Invoke
from tests.cli.support import RECEIVED_AT, make_messages


def _status(cli: Invoke, ws: Workspace) -> dict[str, Any]:
    result = cli("status", "--json", "-w", str(ws.path))
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)  # the whole stdout is one JSON document
    return data


def test_status_of_a_new_workspace(cli: Invoke, workspace: Workspace) -> None:
    assert _status(cli, workspace) == {
        "workspace": str(workspace.path),
        "store": "sqlite",
        "events": {"accepted": 0, "in_log": 0, "lake_watermark": 0, "lake_files": 0, "by_type": {}},
        "processor": {"checkpoint": 0, "lag": 0},
        "sources": 0,
        "profiles": 0,
        "customers_with_orders": 0,
        "api_keys": 0,
    }


def test_appended_events_are_lag_until_processed(cli: Invoke, workspace: Workspace) -> None:
    messages = make_messages(57, users=9, seed=3)
    by_type: dict[str, int] = {}
    for message in messages:
        by_type[message["type"]] = by_type.get(message["type"], 0) + 1
    users = len({message["userId"] for message in messages})
    result = append_messages(workspace.log, messages, source="web", received_at=lambda: RECEIVED_AT)
    assert (result.accepted, result.rejected) == (57, 0)

    before = _status(cli, workspace)
    assert before["events"] == {"accepted": 57, "in_log": 57, "lake_watermark": 0, "lake_files": 0, "by_type": {}}
    assert before["processor"] == {"checkpoint": 0, "lag": 57}
    assert before["profiles"] == 0

    processed = cli("process", "--json", "-w", str(workspace.path))
    assert processed.exit_code == 0, processed.stderr
    assert json.loads(processed.stdout) == {"applied": 57}

    after = _status(cli, workspace)
    assert after["processor"] == {"checkpoint": 57, "lag": 0}
    assert after["events"]["by_type"] == by_type
    assert after["profiles"] == users

    # more events: only the new ones are lag, and only they are applied
    append_messages(workspace.log, make_messages(5, users=2, seed=4), source="app", received_at=lambda: RECEIVED_AT)
    assert _status(cli, workspace)["processor"] == {"checkpoint": 57, "lag": 5}
    assert json.loads(cli("process", "--json", "-w", str(workspace.path)).stdout) == {"applied": 5}
    assert json.loads(cli("process", "--json", "-w", str(workspace.path)).stdout) == {"applied": 0}
    final = _status(cli, workspace)
    assert final["processor"] == {"checkpoint": 62, "lag": 0}
    assert sum(final["events"]["by_type"].values()) == 62


def test_compact_moves_the_log_into_the_lake(cli: Invoke, workspace: Workspace) -> None:
    append_messages(workspace.log, make_messages(20), source="web", received_at=lambda: RECEIVED_AT)
    assert cli("process", "-w", str(workspace.path)).exit_code == 0
    result = cli("compact", "--json", "-w", str(workspace.path))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["pruned_from_log"] == 20
    status = _status(cli, workspace)
    assert (status["events"]["in_log"], status["events"]["lake_watermark"]) == (0, 20)
    assert status["events"]["lake_files"] >= 1
    assert status["processor"]["lag"] == 0


def test_events_accepted_survives_pruning(cli: Invoke, workspace: Workspace) -> None:
    append_messages(workspace.log, make_messages(20), source="web", received_at=lambda: RECEIVED_AT)
    assert cli("process", "-w", str(workspace.path)).exit_code == 0
    assert cli("compact", "-w", str(workspace.path)).exit_code == 0
    assert _status(cli, workspace)["events"]["accepted"] == 20


def test_status_for_people_groups_digits(cli: Invoke, workspace: Workspace) -> None:
    append_messages(workspace.log, make_messages(1_234), source="web", received_at=lambda: RECEIVED_AT)
    result = cli("status", "-w", str(workspace.path))
    assert result.exit_code == 0, result.stderr
    lines = {line.strip("│ ").split("│")[0].strip(): line for line in result.stdout.splitlines()}
    assert "1,234" in lines["events accepted"]
    assert "1,234" in lines["processor lag"]
