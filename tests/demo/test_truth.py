"""truth/: every source record maps to exactly one person, and the people are plausible Vietnamese customers."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from c360.domain.names_vi import FAMILY_NAMES, GIVEN_NAMES_FEMALE, GIVEN_NAMES_MALE
from c360.domain.places import UNIT_BY_CODE, province_code
from tests.demo.conftest import Dataset

ID_COLUMNS = {
    "pos": ("pos_sales.csv", "receipt_id"),
    "crm": ("crm_contacts.csv", "contact_id"),
    "email": ("email_engagement.csv", "event_id"),
    "support": ("support_tickets.csv", "ticket_id"),
    "survey": ("surveys.csv", "response_id"),
}


def test_every_source_record_appears_in_records_exactly_once(dataset: Dataset) -> None:
    keys = [(row["source"], row["record_id"]) for row in dataset.records]
    assert len(keys) == len(set(keys))
    assert len({record_id for _, record_id in keys}) == len(keys)  # ids never collide across sources
    expected: set[tuple[str, str]] = set()
    for source, (name, column) in ID_COLUMNS.items():
        ids = [row[column] for row in dataset.csv(name)]
        assert len(ids) == len(set(ids)), name
        expected.update((source, record_id) for record_id in ids)
    event_ids = dataset.events.user_ids | dataset.events.anonymous_ids
    recorded_event_ids = {record_id for source, record_id in keys if source in ("web", "app")}
    assert recorded_event_ids == event_ids
    assert {key for key in keys if key[0] not in ("web", "app")} == expected
    assert {row["person_id"] for row in dataset.records} <= set(dataset.people)


def test_user_ids_and_devices_are_recorded_under_web_or_app(dataset: Dataset) -> None:
    sources = Counter(row["source"] for row in dataset.records)
    assert sources["web"] > 0
    assert sources["app"] > 0
    people = dataset.people
    for row in dataset.records:
        if row["record_id"] in dataset.events.user_ids:
            assert people[row["person_id"]]["user_id"] == row["record_id"]
        elif row["source"] in ("web", "app"):
            assert row["record_id"] in people[row["person_id"]]["anonymous_ids"].split(";")


def test_people_have_vietnamese_names_at_their_real_frequencies(dataset: Dataset) -> None:
    people = list(dataset.people.values())
    assert len(people) == dataset.cfg.customers
    families = Counter(p["family_name"] for p in people)
    share = {name: count / len(people) for name, count in families.items()}
    assert 0.33 <= share["Nguyễn"] <= 0.43
    assert 0.08 <= share["Trần"] <= 0.14
    assert set(families) <= {name for name, _ in FAMILY_NAMES}
    for person in people:
        given = GIVEN_NAMES_FEMALE if person["gender"] == "female" else GIVEN_NAMES_MALE
        assert person["given_name"] in given
        assert person["full_name"] == " ".join(
            part for part in (person["family_name"], person["middle_name"], person["given_name"]) if part
        )
    genders = Counter(p["gender"] for p in people)
    assert genders["female"] > genders["male"] > 0.2 * len(people)


def test_people_are_16_to_70_and_live_mostly_in_the_big_cities(dataset: Dataset) -> None:
    end = dataset.cfg.end_date
    people = list(dataset.people.values())
    for person in people:
        born = dt.date.fromisoformat(person["birth_date"])
        age = (end - born).days / 365.25
        assert 15.9 <= age <= 71.5, person
        first_seen = dt.date.fromisoformat(person["first_seen_at"][:10])
        assert (first_seen - born).days >= 15 * 365 - 1, person  # nobody shops before turning 15
        assert person["province_code"] in UNIT_BY_CODE
        assert province_code(person["old_province"]) == person["province_code"]
    units = Counter(p["province_code"] for p in people)
    assert units.most_common(2)[0][0] in ("ho-chi-minh", "ha-noi")
    assert (units["ho-chi-minh"] + units["ha-noi"]) / len(people) >= 0.4


def test_kinds_of_people_and_households(dataset: Dataset) -> None:
    people = list(dataset.people.values())
    kinds = Counter(p["kind"] for p in people)
    assert set(kinds) == {"member", "shopper", "visitor"}
    assert all(p["user_id"] == "" for p in people if p["kind"] != "member")
    households = Counter(p["household_id"] for p in people if p["household_id"])
    assert len(households) > 100
    assert set(households.values()) <= {2, 3, 4}
    for person in people:
        if person["household_id"]:
            assert person["household_phone"]
