"""`/healthz` and the Prometheus `/metrics`, read from the workspace at request time."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from c360.services.ingest import append_messages
from c360.services.processing import processor_for
from c360.workspace import Workspace
from tests.api.conftest import TestClient
from tests.cli.support import RECEIVED_AT, expected_counts, make_messages


def _metrics(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        assert family.type == "gauge"
        assert family.documentation  # every metric says what it is
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_healthz_answers_with_the_store_and_the_log(client: TestClient, workspace: Workspace) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "store": "sqlite", "log_max_seq": 0}
    append_messages(workspace.log, make_messages(3), source="web", received_at=lambda: RECEIVED_AT)
    assert client.get("/healthz").json()["log_max_seq"] == 3


def test_healthz_and_metrics_need_no_key(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_metrics_follow_appends_and_processing(client: TestClient, workspace: Workspace) -> None:
    empty = _metrics(client)
    assert empty[("c360_events_accepted", ())] == 0
    assert empty[("c360_processor_lag", ())] == 0
    assert not [name for name, _labels in empty if name == "c360_events_processed"]

    messages = make_messages(41, users=6, seed=11)
    append_messages(workspace.log, messages, source="web", received_at=lambda: RECEIVED_AT)
    pending = _metrics(client)
    assert pending[("c360_events_accepted", ())] == 41
    assert pending[("c360_events_in_log", ())] == 41
    assert pending[("c360_processor_lag", ())] == 41
    assert pending[("c360_profiles", ())] == 0
    assert pending[("c360_log_queue_events", ())] == 0

    assert processor_for(workspace).run_until_idle() == 41
    done = _metrics(client)
    by_type, users = expected_counts(messages)
    assert done[("c360_events_accepted", ())] == 41
    assert done[("c360_processor_lag", ())] == 0
    assert done[("c360_profiles", ())] == users
    processed = {labels[0][1]: value for (name, labels), value in done.items() if name == "c360_events_processed"}
    assert processed == by_type
