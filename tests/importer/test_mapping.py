"""The mapping file is a contract: every error names the key that is wrong, and says why."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from c360.importer import MappingError, load_mapping, parse_mapping
from c360.importer.fields import FIELDS
from tests.importer.conftest import EXAMPLES

BASE: dict[str, Any] = {
    "source": "crm",
    "kind": "customers",
    "record_id": "rec_id",
    "fields": {
        "first_name": "given_name",
        "birth_date": {"column": "date_of_birth", "format": "%Y%m%d"},
        "address": {"columns": ["street_number", "address_1", "address_2"], "join": " "},
    },
    "traits": ["vip_note"],
}


def _with(**changes: Any) -> dict[str, Any]:
    mapping = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            mapping.pop(key, None)
        else:
            mapping[key] = value
    return mapping


def test_the_brief_s_example_mapping_is_valid() -> None:
    mapping = parse_mapping(
        {
            **BASE,
            "timezone": "Asia/Ho_Chi_Minh",
            "encoding": "utf-8",
            "fields": {
                **BASE["fields"],
                "last_name": "surname",
                "city": "suburb",
                "province": "state",
                "postcode": "postcode",
                "national_id": "soc_sec_id",
                "phone": "phone_number",
                "email": "email",
            },
            "traits": ["vip_note", "store_code"],
        }
    )
    assert mapping.fields["birth_date"].formats == ("%Y%m%d",)
    assert mapping.fields["address"].columns == ("street_number", "address_1", "address_2")
    assert list(mapping.custom) == ["vip_note", "store_code"]
    assert mapping.record_id is not None
    assert mapping.record_id.columns == ("rec_id",)


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yml")))
def test_the_example_mappings_load(name: str) -> None:
    assert load_mapping(EXAMPLES / f"{name}.yml").source


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown top-level key", _with(colour="red"), "colour", "unknown key"),
    ("missing source", _with(source=None), "source", "required"),
    ("bad source name", _with(source="my crm"), "source", "not a source name"),
    ("unknown kind", _with(kind="contacts"), "kind", "customers"),
    ("no record id", _with(record_id=None), "record_id", "id of each row"),
    ("bad time zone", _with(timezone="Mars/Olympus"), "timezone", "IANA"),
    ("bad encoding", _with(encoding="latin-1"), "encoding", "windows-1258"),
    ("bad delimiter", _with(delimiter=";;"), "delimiter", "one-character"),
    ("bad currency", _with(currency="XYZ"), "currency", "ISO 4217"),
    (
        "unknown field",
        _with(fields={"birthday": "dob"}),
        "fields.birthday",
        "valid fields: record_id, user_id, first_name",
    ),
    (
        "format on a date: no day",
        _with(fields={"birth_date": {"column": "dob", "format": "%H:%M"}}),
        "fields.birth_date.format",
        "year, month and day",
    ),
    (
        "format without directives",
        _with(fields={"birth_date": {"column": "dob", "format": "YYYYMMDD"}}),
        "fields.birth_date.format",
        "strptime",
    ),
    (
        "format on a text field",
        _with(fields={"first_name": {"column": "a", "format": "%Y"}}),
        "fields.first_name.format",
        "only date and time fields",
    ),
    (
        "misspelt spec key",
        _with(fields={"birth_date": {"column": "dob", "fromat": "%Y"}}),
        "fields.birth_date.fromat",
        "unknown key",
    ),
    (
        "column and columns",
        _with(fields={"first_name": {"column": "a", "columns": ["b"]}}),
        "fields.first_name",
        "either `column` or `columns`",
    ),
    ("not a column", _with(fields={"first_name": 3}), "fields.first_name", "column name"),
    (
        "joined non-text",
        _with(fields={"birth_date": {"columns": ["d", "m"]}}),
        "fields.birth_date.columns",
        "only text fields",
    ),
    ("type on a field", _with(fields={"email": {"column": "e", "type": "string"}}), "fields.email.type", "custom"),
    ("group not a mapping", _with(fields={"external_ids": "pos"}), "fields.external_ids", "map names to columns"),
    ("bad group name", _with(fields={"consent": {"e-mail": "c"}}), "fields.consent.e-mail", "starts with a letter"),
    ("reserved trait", _with(traits=["email"]), "traits.email", "set by c360"),
    ("bad trait type", _with(traits={"vip": {"column": "v", "type": "money"}}), "traits.vip.type", "integer"),
    ("properties on customers", _with(properties=["x"]), "properties", "no `properties`"),
    ("event on customers", _with(event="Signed Up"), "event", "sets its own event"),
    (
        "record id twice",
        _with(fields={"record_id": "other"}),
        "fields.record_id",
        "given twice",
    ),
    (
        "orders without a total",
        {"source": "pos", "kind": "orders", "record_id": "r", "fields": {"timestamp": "t"}},
        "fields.total",
        "needs this field",
    ),
    (
        "engagement without an event",
        {"source": "esp", "kind": "engagement", "record_id": "r", "fields": {"timestamp": "t"}},
        "fields.event",
        "fixed `event:`",
    ),
    (
        "traits on orders",
        {
            "source": "pos",
            "kind": "orders",
            "record_id": "r",
            "fields": {"timestamp": "t", "total": "x"},
            "traits": ["a"],
        },
        "traits",
        "takes `properties`",
    ),
    (
        "reserved property",
        {"source": "s", "kind": "feedback", "record_id": "r", "fields": {"timestamp": "t"}, "properties": ["nps"]},
        "properties.nps",
        "set by c360",
    ),
    (
        "fields on events",
        {"source": "s", "kind": "events", "fields": {"user_id": "u"}},
        "fields.user_id",
        "Segment's own column names",
    ),
]


@pytest.mark.parametrize(("mapping", "key", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_every_mapping_error_names_its_key(mapping: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(mapping)
    assert caught.value.field == key
    assert caught.value.message.startswith(f"{key}: ")
    assert words in caught.value.message


def test_an_unknown_field_lists_every_valid_one() -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(_with(fields={"surname": "x"}))
    for name in FIELDS["customers"]:
        assert name in caught.value.message


def test_a_mapping_file_that_is_not_yaml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "m.yml"
    path.write_text("source: crm\nkind: [customers\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"not valid YAML \(line \d+, column \d+\)"):
        load_mapping(path)


def test_a_mapping_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read mapping"):
        load_mapping(tmp_path / "none.yml")


def test_a_mapping_that_is_not_a_mapping() -> None:
    with pytest.raises(MappingError, match="source:"):
        parse_mapping(["source", "crm"])


def test_the_import_guide_names_every_field_and_kind() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text(encoding="utf-8")
    for kind, fields in FIELDS.items():
        assert f"**{kind}**" in guide, kind
        for name in fields:
            assert f"`{name}" in guide, f"docs/import.md does not name {kind}.{name}"
