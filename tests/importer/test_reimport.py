"""Idempotent imports: the same file twice is one set of events; a newer export adds only what changed and its
newer timestamp wins; a row that a newer export leaves out is not deleted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.importer.conftest import Importer, customers_mapping

T1 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC)
V1 = "id,name,phone\nC1,Nguyễn Thị Ánh,0912345678\nC2,Trần Văn Đức,0388116728\nC3,Lê Hồng,0979123415\n"
# C1 changed phone, C2 unchanged, C3 left out, C4 new
V2 = "id,name,phone\nC1,Nguyễn Thị Ánh,0903000111\nC2,Trần Văn Đức,0388116728\nC4,Phạm Khôi,0868777666\n"


def _latest(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per anonymousId, the traits of the newest identify (what "the newest export wins" means downstream)."""
    latest: dict[str, dict[str, Any]] = {}
    for event in sorted(events, key=lambda e: (e["timestamp"], e["messageId"])):
        latest[event["anonymousId"]] = event["traits"]
    return latest


def test_importing_the_same_file_again_adds_nothing(importer: Importer) -> None:
    path = importer.write("crm.csv", V1)
    first = importer.run(path, customers_mapping(), exported_at=T1)
    again = importer.run(path, customers_mapping(), exported_at=T1)
    assert (first.accepted, first.duplicates) == (3, 0)
    assert (again.rows, again.accepted, again.duplicates, again.rejected) == (3, 0, 3, 0)
    assert importer.ws.log.count() == 3


def test_the_same_rows_in_a_renamed_or_reordered_file_are_duplicates(importer: Importer) -> None:
    importer.run(importer.write("crm.csv", V1), customers_mapping(), exported_at=T1)
    lines = V1.splitlines()
    shuffled = importer.write("crm-copy.csv", "\n".join([lines[0], lines[3], lines[1], lines[2]]) + "\n")
    again = importer.run(shuffled, customers_mapping(), exported_at=T1)
    assert (again.accepted, again.duplicates) == (0, 3)


def test_a_newer_export_adds_only_what_changed_and_wins(importer: Importer) -> None:
    importer.run(importer.write("crm-march.csv", V1), customers_mapping(), exported_at=T1)
    newer = importer.run(importer.write("crm-april.csv", V2), customers_mapping(), exported_at=T2)
    assert (newer.accepted, newer.duplicates) == (2, 1)  # C1 changed, C4 new; C2 as before
    events = importer.events("crm")
    assert len(events) == 5
    latest = _latest(events)
    assert latest["crm:C1"]["phone"] == "0903000111"
    assert latest["crm:C2"]["phone"] == "0388116728"
    assert latest["crm:C3"]["phone"] == "0979123415"  # left out of April's export: not deleted
    assert latest["crm:C4"]["name"] == "Phạm Khôi"
    changed = [e for e in events if e["anonymousId"] == "crm:C1"]
    assert [e["timestamp"] for e in changed] == ["2026-03-01T08:00:00.000Z", "2026-04-01T08:00:00.000Z"]


def test_importing_an_older_export_after_a_newer_one_changes_nothing(importer: Importer) -> None:
    importer.run(importer.write("crm-march.csv", V1), customers_mapping(), exported_at=T1)
    importer.run(importer.write("crm-april.csv", V2), customers_mapping(), exported_at=T2)
    late = importer.run(importer.write("crm-march-again.csv", V1), customers_mapping(), exported_at=T1)
    assert (late.accepted, late.duplicates) == (0, 3)
    assert _latest(importer.events("crm"))["crm:C1"]["phone"] == "0903000111"


def test_the_row_s_own_update_time_is_its_timestamp(importer: Importer) -> None:
    mapping = customers_mapping(fields={"updated_at": "changed"})
    v1 = "id,name,phone,changed\nC1,An,0912345678,2026-03-01 10:00\nC2,Bình,0388116728,\n"
    v2 = "id,name,phone,changed\nC1,An,0903000111,2026-03-05 09:00\nC2,Bình,0388116728,\n"
    importer.run(importer.write("a.csv", v1), mapping, exported_at=T1)
    second = importer.run(importer.write("b.csv", v2), mapping, exported_at=T2)
    assert (second.accepted, second.duplicates) == (1, 1)
    events = importer.events("crm")
    assert [e["timestamp"] for e in events if e["anonymousId"] == "crm:C1"] == [
        "2026-03-01T03:00:00.000Z",
        "2026-03-05T02:00:00.000Z",
    ]
    # C2 has no update time: the export's, and an unchanged row stays one event
    assert [e["timestamp"] for e in events if e["anonymousId"] == "crm:C2"] == ["2026-03-01T08:00:00.000Z"]


def test_the_same_row_twice_in_one_file_is_one_event(importer: Importer) -> None:
    path = importer.write("dup.csv", "id,name,phone\nC1,An,0912345678\nC1,An,0912345678\nC1,An,0903000111\n")
    result = importer.run(path, customers_mapping(), exported_at=T1)
    assert (result.accepted, result.duplicates) == (2, 1)


def test_order_reimports_are_duplicates(importer: Importer) -> None:
    mapping = {
        "source": "pos",
        "kind": "orders",
        "record_id": "id",
        "fields": {"timestamp": "at", "total": "total", "phone": "phone"},
    }
    path = importer.write("o.csv", "id,at,total,phone\nHD1,2026-03-01 10:00,1.250.000 ₫,0912345678\n")
    assert importer.run(path, mapping).accepted == 1
    later = importer.run(path, mapping, exported_at=T2)  # the export time plays no part in an order's identity
    assert (later.accepted, later.duplicates) == (0, 1)
