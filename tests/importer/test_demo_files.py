"""The demo's CSV sources (POS, CRM, email platform, tickets, surveys) go through the importer with the shipped
mappings: nothing is rejected, and every accepted row lands in the log in its Segment shape."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from c360.demo.sources import parse_vnd
from c360.importer import load_mapping
from c360.services.ingest import to_record
from tests.importer.conftest import EXAMPLES, EXPORTED_AT, Importer

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
SOURCES = {
    "crm_contacts": "crm",
    "pos_sales": "pos",
    "email_engagement": "email",
    "support_tickets": "support",
    "surveys": "survey",
}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _utc(text: str) -> str:
    """An ISO text as Segment writes it in UTC with milliseconds."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL)
    return parsed.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def imported(
    importer: Importer, demo_dir: Path, request: pytest.FixtureRequest
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    name = request.param
    result = importer.run(demo_dir / f"{name}.csv", load_mapping(EXAMPLES / f"{name}.yml"))
    rows = _rows(demo_dir / f"{name}.csv")
    assert (result.rows, result.accepted, result.duplicates, result.rejected) == (len(rows), len(rows), 0, 0), (
        result.errors
    )
    assert importer.rejects() == []
    events = importer.events(SOURCES[name])
    assert len(events) == len(rows)
    for event, row_number in zip(events, range(2, len(rows) + 2), strict=True):
        assert event["context"]["import"]["file"] == f"{name}.csv"
        assert event["context"]["import"]["line"] == row_number
        assert event["messageId"].startswith("imp-")
        # what is in the log is what to_record accepts and keeps as it is
        again = to_record(event, source=SOURCES[name], received_at=dt.datetime.now(dt.UTC))
        assert again.message_id == event["messageId"]
    return rows, events


@pytest.mark.parametrize("imported", ["crm_contacts"], indirect=True)
def test_crm_contacts_become_identify_messages(imported: tuple[list[dict[str, str]], list[dict[str, Any]]]) -> None:
    rows, events = imported
    genders = {"Nam": "male", "M": "male", "Nữ": "female", "F": "female"}
    for row, event in zip(rows, events, strict=True):
        traits = event["traits"]
        assert event["type"] == "identify"
        assert event["userId"] is None
        assert event["anonymousId"] == f"crm:{row['contact_id']}"
        assert event["timestamp"] == _utc(EXPORTED_AT.isoformat())  # no update time in the file: the export's
        assert event["context"]["externalIds"] == [
            {"id": row["contact_id"], "type": "crm_id", "collection": "users", "encoding": "none"}
        ]
        assert traits["name"] == row["full_name"]
        assert traits.get("email") == (row["email"] or None)
        assert traits.get("phone") == (row["phone"] or None)
        assert traits.get("birthday") == (row["birth_date"] or None)
        assert traits.get("gender") == genders.get(row["gender"])
        assert traits.get("province") == (row["province"] or None)
        assert traits.get("address", {}).get("state") == (row["province"] or None)
        assert traits.get("address", {}).get("street") == (row["address"] or None)
        assert traits["createdAt"] == _utc(row["created_at"])
        assert "" not in traits.values()


@pytest.mark.parametrize("imported", ["pos_sales"], indirect=True)
def test_pos_receipts_become_order_completed(imported: tuple[list[dict[str, str]], list[dict[str, Any]]]) -> None:
    rows, events = imported
    for row, event in zip(rows, events, strict=True):
        props = event["properties"]
        assert (event["type"], event["event"]) == ("track", "Order Completed")
        assert event["anonymousId"] == f"pos:{row['receipt_id']}"
        assert event["timestamp"] == _utc(row["sold_at"])  # local time without a zone, read in Asia/Ho_Chi_Minh
        assert props["order_id"] == row["receipt_id"]
        assert props["total"] == parse_vnd(row["total"])
        assert isinstance(props["total"], int)  # VND has no minor unit: a whole number of dong
        assert props["currency"] == "VND"
        assert props["payment_method"] == row["payment_method"]
        assert props["affiliation"] == row["store_code"]
        items = [item.split(":") for item in row["items"].split(";")]
        assert props["products"] == [{"sku": sku, "quantity": int(qty)} for sku, qty in items]
        assert event["context"]["traits"].get("phone") == (row["phone"] or None)
        assert event["context"]["traits"].get("name") == (row["customer_name"] or None)


@pytest.mark.parametrize("imported", ["email_engagement"], indirect=True)
def test_email_events_keep_their_names(imported: tuple[list[dict[str, str]], list[dict[str, Any]]]) -> None:
    rows, events = imported
    assert {e["event"] for e in events} <= {
        "Email Delivered",
        "Email Opened",
        "Email Link Clicked",
        "Email Unsubscribed",
    }
    for row, event in zip(rows, events, strict=True):
        assert event["event"] == row["event"]
        assert event["timestamp"] == _utc(row["occurred_at"])
        assert event["properties"]["campaign_id"] == row["campaign_id"]
        assert event["properties"].get("link_url") == (row["link_url"] or None)
        assert event["context"]["traits"] == {"email": row["email"]}


@pytest.mark.parametrize("imported", ["support_tickets"], indirect=True)
def test_support_tickets(imported: tuple[list[dict[str, str]], list[dict[str, Any]]]) -> None:
    rows, events = imported
    for row, event in zip(rows, events, strict=True):
        assert event["event"] == "Ticket Created"
        assert event["properties"]["category"] == row["category"]
        assert event["properties"].get("csat") == (int(row["csat"]) if row["csat"] else None)
        assert event["context"]["traits"] == {k: row[k] for k in ("email", "phone") if row[k]}


@pytest.mark.parametrize("imported", ["surveys"], indirect=True)
def test_survey_answers(imported: tuple[list[dict[str, str]], list[dict[str, Any]]]) -> None:
    rows, events = imported
    for row, event in zip(rows, events, strict=True):
        assert event["event"] == "Survey Answered"
        expected = {k: int(row[k]) for k in ("nps", "csat", "rating")}
        if row["review"]:
            expected["review"] = row["review"]
        assert event["properties"] == expected
