"""The identity review queue and unmerge over HTTP: scopes, validation, decisions."""

from __future__ import annotations

from sqlalchemy import select

from c360.services.identity import resolve
from c360.services.ingest import append_messages
from c360.store.schema import identity_nodes
from c360.workspace import Workspace
from tests.api.conftest import TestClient, bearer, new_key


def household(ws: Workspace) -> None:
    messages = [
        {"type": "identify", "anonymousId": f"crm:{rid}", "messageId": f"crm-{rid}",
         "timestamp": "2026-02-01T08:00:00Z", "traits": {"email": email, "phone": "0987654321", "name": name},
         "context": {"import": {"file": "crm.csv", "line": 2, "recordId": rid}}}
        for rid, email, name in (("C2", "hung@example.vn", "Lê Văn Hùng"), ("C3", "mai@example.vn", "Phạm Thị Mai"))
    ]  # fmt: skip
    assert append_messages(ws.log, messages, source="crm", replay=True).accepted == 2


def profiles_of(ws: Workspace) -> dict[tuple[str, str], str | None]:
    with ws.store.read() as conn:
        return {(r.id_type, r.id_value): r.profile_id for r in conn.execute(select(identity_nodes))}


def test_review_and_unmerge_over_the_api(workspace: Workspace, client: TestClient) -> None:
    household(workspace)
    resolve(workspace)
    read_key, admin_key = new_key(workspace, "read"), new_key(workspace, "admin")

    listed = client.get("/v1/identity/review", headers=bearer(read_key))
    assert listed.status_code == 200
    [item] = listed.json()
    path = f"/v1/identity/review/{item['id']}"
    assert client.post(path, json={"decision": "accept"}, headers=bearer(read_key)).status_code == 403
    bad = client.post(path, json={"decision": "maybe"}, headers=bearer(admin_key))
    assert bad.status_code == 422
    done = client.post(path, json={"decision": "reject"}, headers=bearer(admin_key))
    assert done.status_code == 200
    assert done.json()["status"] == "rejected"
    profile = profiles_of(workspace)[("external_id", "crm:C2")]
    wrong = client.post(
        f"/v1/profiles/{profile}/unmerge",
        json={"identifiers": ["phone:+84900000000"], "reason": "test"},
        headers=bearer(admin_key),
    )
    assert wrong.status_code == 422
    assert "identifiers" in wrong.json()["message"]
