"""crm_contacts.csv: every known customer once, some twice or three times (typed again, differently)."""

from __future__ import annotations

import random
from typing import Final

from c360.demo.files import CsvOut
from c360.demo.people import Person
from c360.demo.shop_calendar import DAY_MS, Clock
from c360.demo.variants import (
    LEGACY_PHONE_RATE,
    LEGACY_PHONE_RATE_OLD_CONTACT,
    PHONE_SWITCH_MS,
    TEST_EMAILS,
    write_email,
    write_gender,
    write_name,
    write_phone,
    write_province,
)

CRM_HEADER: Final = (
    "contact_id",
    "full_name",
    "email",
    "phone",
    "birth_date",
    "gender",
    "province",
    "address",
    "created_at",
)
DUPLICATE_RATE: Final = 0.08  # people with at least one duplicate contact
THIRD_CONTACT_RATE: Final = 0.2  # of those, people with two duplicates
TEST_EMAIL_RATE: Final = 0.015


def crm_created_ms(person: Person) -> int | None:
    """When the person entered the CRM: the online account (synced) or joining the loyalty club in a store."""
    times = [t for t in (person.registered_ms, person.crm_ms) if t is not None]
    return min(times) if times else None


def write_crm(people: list[Person], seed: int, clock: Clock, end_ms: int, out: CsvOut, records: CsvOut) -> None:
    rng = random.Random(f"c360.demo/{seed}/crm")
    contacts: list[tuple[int, int, int, Person]] = []
    for person in people:
        created = crm_created_ms(person)
        if created is None or created >= end_ms:
            continue
        contacts.append((created, person.idx, 0, person))
        if rng.random() < DUPLICATE_RATE:
            copies = 2 if rng.random() < THIRD_CONTACT_RATE else 1
            for copy in range(1, copies + 1):
                later = created + rng.randrange(DAY_MS, 400 * DAY_MS)
                if later >= end_ms:
                    later = created + rng.randrange(max(1, end_ms - created))
                contacts.append((later, person.idx, copy, person))
    contacts.sort(key=lambda contact: contact[:3])
    for number, (created, _, copy, person) in enumerate(contacts, start=1):
        contact_id = f"C{number:07d}"
        out.row(_contact_row(contact_id, person, created, copy > 0, rng, clock))
        records.row(("crm", contact_id, person.person_id))


def _contact_row(
    contact_id: str, p: Person, created: int, duplicate: bool, rng: random.Random, clock: Clock
) -> tuple[str, ...]:
    random_ = rng.random
    name = write_name(p, rng, "crm_duplicate" if duplicate else "crm")
    email = ""
    if p.email is not None and not (duplicate and random_() < 0.35):
        email = write_email(p.email, rng, 0.3 if duplicate else 0.1, 0.2 if duplicate else 0.05)
    if random_() < TEST_EMAIL_RATE:
        email = rng.choice(TEST_EMAILS)
    national = p.phone
    if p.household_phone is not None and random_() < p.household_share * 0.5:
        national = p.household_phone
    elif duplicate and p.second_phone is not None and random_() < 0.5:
        national = p.second_phone
    legacy = LEGACY_PHONE_RATE_OLD_CONTACT if created < PHONE_SWITCH_MS else LEGACY_PHONE_RATE["crm"]
    phone = "" if duplicate and random_() < 0.15 else write_phone(national, rng, "crm", legacy)
    birth_date = ""
    if random_() < (0.6 if duplicate else 0.88):
        birthday = p.birthday
        if duplicate and birthday.day <= 12 and birthday.day != birthday.month and random_() < 0.08:
            birthday = birthday.replace(month=birthday.day, day=birthday.month)  # day and month typed swapped
        birth_date = birthday.isoformat()
    gender = write_gender(p.gender, rng)
    province = "" if random_() < 0.05 else write_province(p.old_province, created, rng)
    roll = random_()
    if roll < 0.05:
        address = ""
    elif roll < 0.35 or not province:
        address = p.street
    else:
        address = f"{p.street}, {write_province(p.old_province, created, rng)}"
    return (contact_id, name, email, phone, birth_date, gender, province, address, clock.iso_utc_seconds(created))
