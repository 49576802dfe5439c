"""The CSV sources: columns and formats as real exports write them, every phone and province resolvable."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import phonenumbers
import pytest

from c360.demo.sources import parse_vnd, write_vnd
from c360.demo.stores import STORES
from c360.demo.texts import REVIEWS_NEGATIVE, REVIEWS_NEUTRAL, REVIEWS_POSITIVE
from c360.domain.phones_vi import modernize_mobile
from c360.domain.places import province_code
from tests.demo.conftest import Dataset, parse_utc

LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def to_e164(written: str) -> str:
    number = phonenumbers.parse(modernize_mobile(written), "VN")
    assert phonenumbers.is_valid_number(number), written
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE, written
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def all_written_phones(dataset: Dataset) -> list[str]:
    phones = [row["phone"] for row in dataset.pos]
    phones += [row["phone"] for rows in (dataset.crm, dataset.tickets, dataset.surveys) for row in rows]
    phones += [traits["phone"] for traits in dataset.events.traits if "phone" in traits]
    return [phone for phone in phones if phone]


def test_every_phone_in_every_file_is_a_valid_vietnamese_mobile(dataset: Dataset) -> None:
    phones = all_written_phones(dataset)
    assert len(phones) > 3000
    for phone in phones:
        to_e164(phone)
    for store in STORES:
        to_e164(store.hotline)


def test_phones_come_in_many_written_forms_including_pre_2018_numbers(dataset: Dataset) -> None:
    shapes = Counter(re.sub(r"\d", "9", phone) for phone in all_written_phones(dataset))
    for shape in ("9999999999", "9999 999 999", "+99999999999", "99-999-999-999", "9999.999.999"):
        assert shape in shapes, shape
    legacy = [
        row["phone"]
        for row in dataset.crm
        if len(re.sub(r"\D", "", row["phone"])) in (11, 12) and modernize_mobile(row["phone"]) != row["phone"]
    ]
    assert len(legacy) > 20


def test_pos_receipts_look_like_a_pos_export(dataset: Dataset) -> None:
    skus = {row["sku"]: int(row["price_vnd"]) for row in dataset.catalog}
    styles: Counter[str] = Counter()
    for row in dataset.pos:
        assert LOCAL_TIME.match(row["sold_at"]), row
        assert 9 <= int(row["sold_at"][11:13]) <= 21, row  # opening hours, local time
        assert row["payment_method"] in ("cash", "card", "momo", "zalopay", "vnpay", "bank_transfer")
        items = [item.split(":") for item in row["items"].split(";")]
        list_price = sum(skus[sku] * int(quantity) for sku, quantity in items)
        total = parse_vnd(row["total"])
        assert 0.85 * list_price <= total <= list_price, row
        styles[re.sub(r"\d", "9", row["total"]).replace("999", "9").replace("99", "9")] += 1
        assert row["receipt_id"].startswith(row["store_code"] + "-HD")
    assert len(styles) >= 5, styles
    assert len({row["receipt_id"] for row in dataset.pos}) == len(dataset.pos)
    assert [row["sold_at"] for row in dataset.pos] == sorted(row["sold_at"] for row in dataset.pos)


@pytest.mark.parametrize(
    ("amount", "style", "written"),
    [
        (1_250_000, "dots_symbol", "1.250.000 ₫"),
        (1_250_000, "commas_d", "1,250,000đ"),
        (1_250_000, "dots_vnd", "1.250.000 VND"),
        (1_250_000, "plain", "1250000"),
        (49_000, "dots_d", "49.000đ"),
    ],
)
def test_amounts_are_written_like_real_exports(amount: int, style: str, written: str) -> None:
    assert write_vnd(amount, style) == written
    assert parse_vnd(written) == amount


def test_walk_in_receipts_use_the_store_hotline(dataset: Dataset) -> None:
    hotlines = {to_e164(store.hotline): store.code for store in STORES}
    walk_ins = [row for row in dataset.pos if to_e164(row["phone"]) in hotlines]
    assert 0.06 <= len(walk_ins) / len(dataset.pos) <= 0.14
    assert all(hotlines[to_e164(row["phone"])] == row["store_code"] for row in walk_ins)
    assert any(row["customer_name"] in ("Khách lẻ", "KHÁCH LẺ", "Khach le") for row in walk_ins)
    # The hotline is shared by many different customers.
    people = {dataset.person_of[("pos", row["receipt_id"])] for row in walk_ins}
    assert len(people) > 20


def test_households_share_a_phone(dataset: Dataset) -> None:
    owners: dict[str, set[str]] = {}
    for row in dataset.pos:
        owners.setdefault(to_e164(row["phone"]), set()).add(dataset.person_of[("pos", row["receipt_id"])])
    hotlines = {to_e164(store.hotline) for store in STORES}
    shared = [phone for phone, people in owners.items() if len(people) > 1 and phone not in hotlines]
    assert len(shared) > 5
    for phone in shared:
        households = {dataset.people[p]["household_id"] for p in owners[phone]}
        assert len(households) == 1, phone
        assert "" not in households, phone


def test_every_province_string_maps_to_its_persons_unit(dataset: Dataset) -> None:
    written: list[tuple[str, str]] = []
    for row in dataset.crm:
        if row["province"]:
            written.append((row["province"], dataset.person_of[("crm", row["contact_id"])]))
    for traits, person in _identify_with_people(dataset):
        written.append((traits["address"]["city"], person))
        written.append((traits["address"]["state"], person))
    assert len(written) > 1000
    for text, person in written:
        assert province_code(text) == dataset.people[person]["province_code"], text
    forms = {text for text, _ in written}
    for expected in ("Hà Nội", "TP. Hồ Chí Minh", "Bình Dương"):
        assert expected in forms, expected
    assert any(text.isascii() and text != text.upper() for text in forms)
    assert any(text in ("TP.HCM", "HCM", "Sài Gòn", "HN", "Saigon", "TPHCM", "SG") for text in forms)


def _identify_with_people(dataset: Dataset) -> list[tuple[dict[str, Any], str]]:
    import orjson

    found = []
    with (dataset.path / "events.jsonl").open("rb") as handle:
        for line in handle:
            if b'"identify"' not in line[:20]:
                continue
            message = orjson.loads(line)
            if "address" in message["traits"]:
                found.append((message["traits"], dataset.person_of_id[message["userId"]]))
    return found


def test_crm_contacts_hold_duplicates_of_the_same_person(dataset: Dataset) -> None:
    people = Counter(dataset.person_of[("crm", row["contact_id"])] for row in dataset.crm)
    duplicated = [person for person, count in people.items() if count > 1]
    assert 0.04 <= len(duplicated) / len(people) <= 0.14
    assert max(people.values()) == 3
    by_person: dict[str, list[dict[str, str]]] = {}
    for row in dataset.crm:
        by_person.setdefault(dataset.person_of[("crm", row["contact_id"])], []).append(row)
    differ = sum(1 for p in duplicated if len({row["full_name"] for row in by_person[p]}) > 1)
    assert differ > 0.4 * len(duplicated)
    for row in dataset.crm:
        assert ISO_UTC.match(row["created_at"])
        assert row["gender"] in ("Nam", "Nữ", "M", "F", "")


def test_emails_come_with_case_and_dot_variants_and_test_addresses(dataset: Dataset) -> None:
    emails = [row["email"] for row in dataset.crm if row["email"]]
    assert any(email != email.lower() for email in emails)
    true_emails = {row["email"] for row in dataset.people.values() if row["email"]}
    dotted = [
        e
        for e in emails
        if e.lower().endswith("@gmail.com")
        and e.lower() not in true_emails
        and e.lower().replace(".", "").replace("@gmailcom", "@gmail.com")
        in {t.replace(".", "").replace("@gmailcom", "@gmail.com") for t in true_emails}
    ]
    assert dotted
    contact_emails = emails + [row["email"] for row in dataset.tickets + dataset.surveys]
    assert "test@test.com" in contact_emails


def test_email_engagement_follows_campaigns(dataset: Dataset) -> None:
    rows = dataset.email
    events = Counter(row["event"] for row in rows)
    assert set(events) == {"Email Delivered", "Email Opened", "Email Link Clicked", "Email Unsubscribed"}
    assert events["Email Delivered"] > events["Email Opened"] > events["Email Link Clicked"] > 0
    assert [row["occurred_at"] for row in rows] == sorted(row["occurred_at"] for row in rows)
    for row in rows:
        assert ISO_UTC.match(row["occurred_at"])
        assert bool(row["link_url"]) == (row["event"] == "Email Link Clicked")
        if row["link_url"]:
            assert f"utm_campaign={row['campaign_id']}" in row["link_url"]
    unsubscribed: dict[str, str] = {}
    for row in rows:
        if row["event"] == "Email Unsubscribed":
            unsubscribed.setdefault(row["email"], row["occurred_at"])
    for row in rows:
        if row["event"] == "Email Delivered" and row["email"] in unsubscribed:
            assert row["occurred_at"] < unsubscribed[row["email"]], row


def test_support_tickets_name_a_channel_a_category_and_a_way_to_reach_the_customer(dataset: Dataset) -> None:
    rows = dataset.tickets
    assert len(rows) > 50
    for row in rows:
        assert row["email"] or row["phone"]
        assert ISO_UTC.match(row["created_at"])
        assert row["channel"] in ("hotline", "zalo", "facebook", "email", "web_form", "store")
        assert row["category"] in ("delivery", "return", "payment", "product", "promotion", "loyalty", "account")
        assert row["status"] in ("open", "pending", "resolved", "closed")
        assert row["csat"] == "" or 1 <= int(row["csat"]) <= 5
        assert not row["subject"].isascii()  # Vietnamese


def test_survey_scores_and_reviews_agree(dataset: Dataset) -> None:
    rows = dataset.surveys
    assert len(rows) > 50
    for row in rows:
        nps, csat, rating = int(row["nps"]), int(row["csat"]), int(row["rating"])
        assert 0 <= nps <= 10
        assert 1 <= csat <= 5
        assert 1 <= rating <= 5
        assert parse_utc(row["answered_at"])
        if row["review"]:
            pool = REVIEWS_POSITIVE if rating >= 4 else REVIEWS_NEUTRAL if rating == 3 else REVIEWS_NEGATIVE
            assert row["review"] in pool, row
    promoters = sum(1 for row in rows if int(row["nps"]) >= 9)
    detractors = sum(1 for row in rows if int(row["nps"]) <= 6)
    assert promoters > 0
    assert detractors > 0


def test_the_catalog_has_a_few_hundred_realistic_skus(dataset: Dataset) -> None:
    rows = dataset.catalog
    assert 200 <= len(rows) <= 500
    assert len({row["sku"] for row in rows}) == len(rows)
    prices = [int(row["price_vnd"]) for row in rows]
    assert min(prices) >= 49_000
    assert max(prices) <= 3_500_000
    assert all(price % 1000 == 0 for price in prices)
    categories = {row["category"] for row in rows}
    assert {"Son môi", "Chăm sóc da", "Áo thun", "Váy đầm"} <= categories
