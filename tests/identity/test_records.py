"""The records that probabilistic matching compares (records_sql), as `c360 resolve` builds them: every message that
names a person or carries a national id is one, in the profile of its strongest identifier that joined one."""

from __future__ import annotations

from typing import Any

from c360.engines import open_engine
from c360.identity import records_sql as rs
from c360.services.identity import resolve
from c360.workspace import Workspace
from tests.identity.support import at, crm_row, send

HOUSEHOLD_PHONE = "+84987654321"


def receipt(receipt_id: str, minutes: int, **traits: Any) -> dict[str, Any]:
    """A POS row as `c360 import` turns it into an identify."""
    return {
        "type": "identify",
        "anonymousId": f"pos:{receipt_id}",
        "messageId": f"pos-{receipt_id}",
        "timestamp": at(minutes),
        "traits": traits,
        "context": {"import": {"file": "pos.csv", "line": 2, "recordId": receipt_id}},
    }


def records_of(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The records table of a resolve run, by the anonymousId of each record's message."""
    with open_engine("duckdb", threads=1) as engine:
        resolve(ws, engine=engine)
        rows = engine.sql(
            f"SELECT e.anonymous_id, r.* FROM {rs.RECORDS} r JOIN events e ON e.message_id = r.record_key"
        ).to_pylist()
    return {row["anonymous_id"]: row for row in rows}


def test_a_receipt_with_a_held_phone_is_still_a_record(ws: Workspace) -> None:
    # The household's phone comes with two emails: it is held, so it is in no profile.
    send(
        ws,
        "crm",
        crm_row("C2", 1, email="hung@example.vn", phone="0987654321", name="Lê Văn Hùng"),
        crm_row("C3", 2, email="mai@example.vn", phone="0987654321", name="Phạm Thị Mai"),
    )
    send(ws, "pos", receipt("R1", 3, name="Le Van Hung", phone="0987 654 321"))

    records = records_of(ws)

    # The receipt's strongest identifier is the held phone; its record is in the receipt's own profile, and the
    # phone is still compared.
    assert records["pos:R1"]["cluster"] == "external_id|pos:R1"
    assert (records["pos:R1"]["name"], records["pos:R1"]["phone"]) == ("le van hung", HOUSEHOLD_PHONE)
    assert records["crm:C2"]["cluster"] == "email|hung@example.vn"
    assert records["crm:C2"]["phone"] == HOUSEHOLD_PHONE


def test_a_national_id_without_a_name_is_a_record_and_a_placeholder_name_alone_is_not(ws: Workspace) -> None:
    send(
        ws,
        "crm",
        crm_row("C1", 1, nationalId="079090001234", birthday="1990-05-01"),
        crm_row("C2", 2, name="Khách lẻ", birthday="1991-06-02"),
        crm_row("C3", 3, name="Trần Thị Lan", birthday="1992-07-03"),
    )

    records = records_of(ws)

    assert set(records) == {"crm:C1", "crm:C3"}
    assert records["crm:C1"]["name"] is None
    assert (records["crm:C1"]["national_id"], records["crm:C1"]["birth_date"]) == ("079090001234", "1990-05-01")
