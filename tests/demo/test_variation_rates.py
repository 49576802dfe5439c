"""The documented variation rates hold on generated data (docs/demo-data.md, c360.demo.variants)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from c360.demo.stores import STORES
from c360.demo.variants import NAME_RATES
from c360.domain.names_vi import fold_name, has_diacritics
from c360.domain.phones_vi import national_digits
from tests.demo.conftest import Dataset

TOLERANCE = 0.05


@dataclass
class NameStats:
    total: int = 0
    ascii_only: int = 0
    given_first: int = 0
    typo: int = 0
    upper: int = 0

    def rate(self, field: str) -> float:
        return float(getattr(self, field)) / self.total


def classify(written: str, family: str, middle: str, given: str) -> tuple[bool, bool, bool]:
    """(given name first, typo, upper case) of a written name against the true parts."""
    words = fold_name(written).split()
    true = [fold_name(family), *fold_name(middle).split(), fold_name(given)]
    normal = words == true
    reordered = words in ([true[-1], true[0]], [*true[1:], true[0]])
    # A typo changes one word; the order tells which arrangement was used.
    given_first = reordered or (len(words) in (2, len(true)) and words[-1] == true[0] and words != true)
    typo = not normal and not reordered
    return given_first, typo, written == written.upper() and written != written.lower()


def name_stats(rows: list[tuple[str, dict[str, str]]]) -> NameStats:
    stats = NameStats()
    for written, person in rows:
        if not has_diacritics(person["full_name"]):
            continue  # an all-ASCII true name says nothing about dropped diacritics
        stats.total += 1
        stats.ascii_only += written.isascii()
        given_first, typo, upper = classify(written, person["family_name"], person["middle_name"], person["given_name"])
        stats.given_first += given_first
        stats.typo += typo
        stats.upper += upper
    return stats


def pos_names(dataset: Dataset) -> list[tuple[str, dict[str, str]]]:
    hotlines = {store.hotline for store in STORES}
    return [
        (row["customer_name"], dataset.people[dataset.person_of[("pos", row["receipt_id"])]])
        for row in dataset.pos
        if national_digits(row["phone"]) not in hotlines
    ]


def test_at_least_30_percent_of_pos_names_have_no_diacritics(dataset: Dataset) -> None:
    names = [written for written, _ in pos_names(dataset)]
    assert sum(name.isascii() for name in names) / len(names) >= 0.30


@pytest.mark.parametrize("field", ["ascii_only", "given_first", "typo", "upper"])
def test_pos_name_variation_rates(dataset: Dataset, field: str) -> None:
    stats = name_stats(pos_names(dataset))
    rates = NAME_RATES["pos"]
    expected = {
        "ascii_only": rates.no_diacritics,
        "given_first": rates.given_first,
        "typo": rates.typo,
        "upper": rates.upper,
    }[field]
    assert stats.total > 1000
    assert stats.rate(field) == pytest.approx(expected, abs=TOLERANCE)


def test_crm_duplicates_are_sloppier_than_first_contacts(dataset: Dataset) -> None:
    first: list[tuple[str, dict[str, str]]] = []
    duplicates: list[tuple[str, dict[str, str]]] = []
    seen: set[str] = set()
    for row in dataset.crm:  # ordered by creation: the first contact of a person comes first
        person_id = dataset.person_of[("crm", row["contact_id"])]
        (duplicates if person_id in seen else first).append((row["full_name"], dataset.people[person_id]))
        seen.add(person_id)
    original, copy = name_stats(first), name_stats(duplicates)
    assert original.rate("ascii_only") == pytest.approx(NAME_RATES["crm"].no_diacritics, abs=TOLERANCE)
    assert copy.rate("ascii_only") == pytest.approx(NAME_RATES["crm_duplicate"].no_diacritics, abs=0.1)
    assert copy.rate("typo") > original.rate("typo")
    assert copy.rate("given_first") > original.rate("given_first")


def test_identify_names_drop_diacritics_at_the_documented_rate(dataset: Dataset) -> None:
    rows = []
    import orjson

    with (dataset.path / "events.jsonl").open("rb") as handle:
        for line in handle:
            if b'"identify"' in line[:20]:
                message = orjson.loads(line)
                if "name" in message["traits"]:
                    rows.append((message["traits"]["name"], dataset.people[dataset.person_of_id[message["userId"]]]))
    stats = name_stats(rows)
    assert stats.total > 300
    assert stats.rate("ascii_only") == pytest.approx(NAME_RATES["identify"].no_diacritics, abs=TOLERANCE)


def test_classify_recognises_each_kind_of_variant() -> None:
    parts = ("Nguyễn", "Văn", "An")
    assert classify("Nguyễn Văn An", *parts) == (False, False, False)
    assert classify("An Nguyen", *parts) == (True, False, False)
    assert classify("Van An Nguyen", *parts) == (True, False, False)
    assert classify("Nguyen Van Na", *parts)[1]
    assert classify("Ngyen Van An", *parts)[1]
    assert classify("NGUYEN VAN AN", *parts) == (False, False, True)
