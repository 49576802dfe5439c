"""`invalid: missing`: a value an optional field cannot read leaves that field missing instead of rejecting the
row, and is recorded as a warning (counted in the summary, listed by `c360 export rejects --severity warning`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from c360.importer import MappingError, parse_mapping
from c360.importer.readers import RawBatch
from c360.importer.run import Job
from c360.services.rejects import iter_rejects
from tests.importer.conftest import Importer, customers_mapping

PEOPLE = """id,name,phone,dob,visits
C1,An,0912345678,19560131,3
C2,Binh,0912345679,19560231,x
C3,Chi,0912345670,0,4
C4,Dung,0912345671,,5
"""
LEFT_MISSING = customers_mapping(
    fields={"birth_date": {"column": "dob", "format": "%Y%m%d", "invalid": "missing"}},
    traits={"visits": {"column": "visits", "type": "integer", "invalid": "missing"}},
)


def _birthdays(importer: Importer) -> dict[str, Any]:
    return {e["anonymousId"]: e["traits"].get("birthday") for e in importer.events("crm")}


def test_an_unreadable_optional_date_is_left_missing_with_a_warning(importer: Importer) -> None:
    result = importer.run(importer.write("people.csv", PEOPLE), LEFT_MISSING)
    assert (result.rows, result.accepted, result.rejected) == (4, 4, 0)
    assert result.left_missing == {"fields.birth_date": 2, "traits.visits": 1}
    assert result.warned == 3
    assert _birthdays(importer) == {"crm:C1": "1956-01-31", "crm:C2": None, "crm:C3": None, "crm:C4": None}
    visits = {e["anonymousId"]: e["traits"].get("visits") for e in importer.events("crm")}
    assert visits == {"crm:C1": 3, "crm:C2": None, "crm:C3": 4, "crm:C4": 5}
    assert importer.rejects("crm") == []  # the rejects proper: none
    warnings = list(iter_rejects(importer.ws.store, source="crm", severity="warning"))
    found = [(w["line"], w["column"], w["field"], w["reason"]) for w in warnings]
    assert found == [
        (3, "dob", "fields.birth_date", "not a date in the format %Y%m%d: '19560231'"),
        (3, "visits", "traits.visits", "not a whole number: 'x'"),
        (4, "dob", "fields.birth_date", "not a date in the format %Y%m%d: '0'"),
    ]
    assert {(w["file"], w["origin"], w["severity"]) for w in warnings} == {("people.csv", "import", "warning")}
    assert orjson.loads(warnings[0]["payload"])["dob"] == "19560231"  # the row itself
    assert result.warnings[0] == "line 3: fields.birth_date: not a date in the format %Y%m%d: '19560231'"
    assert result.as_dict()["left_missing"] == {"fields.birth_date": 2, "traits.visits": 1}


def test_by_default_an_unreadable_date_still_rejects_the_row(importer: Importer) -> None:
    mapping = customers_mapping(fields={"birth_date": {"column": "dob", "format": "%Y%m%d"}})
    result = importer.run(importer.write("people.csv", PEOPLE), mapping)
    assert (result.accepted, result.rejected, result.left_missing, result.warned) == (2, 2, {}, 0)
    assert [(r["line"], r["severity"]) for r in importer.rejects("crm")] == [(3, "error"), (4, "error")]
    assert list(iter_rejects(importer.ws.store, severity="warning")) == []
    explicit = customers_mapping(fields={"birth_date": {"column": "dob", "format": "%Y%m%d", "invalid": "reject"}})
    assert parse_mapping(explicit) == parse_mapping(mapping)


def test_a_row_rejected_for_another_field_gets_no_warning(importer: Importer) -> None:
    path = importer.write("people.csv", "id,name,phone,dob,visits\n,An,0912345678,19560231,1\n")
    result = importer.run(path, LEFT_MISSING)
    assert (result.accepted, result.rejected, result.warned) == (0, 1, 0)
    (reject,) = list(iter_rejects(importer.ws.store, severity=None))
    assert (reject["severity"], reject["field"]) == ("error", "record_id")


def test_the_fast_path_writes_the_reference_bytes_with_values_left_missing() -> None:
    mapping = parse_mapping(LEFT_MISSING)
    table = pa.Table.from_pylist(list(csv.DictReader(io.StringIO(PEOPLE))))
    lines = pa.array(range(2, table.num_rows + 2), pa.int64())
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    out = []
    for vectorised in (True, False):
        job = Job(mapping, "people.csv", "Asia/Ho_Chi_Minh", "VND", at, vectorised=vectorised, clock=lambda: at)
        try:
            out.append(job.batch(RawBatch(table, lines, 0)))
        finally:
            job.close()
    (fast, fast_warnings), (slow, slow_warnings) = out
    assert fast == slow
    assert len(fast) == 4
    assert fast_warnings == slow_warnings
    assert [w.severity for w in fast_warnings] == ["warning"] * 3


def test_the_cli_counts_and_lists_the_values_left_missing(importer: Importer, run_c360: Any, tmp_path: Path) -> None:
    data = importer.write("people.csv", PEOPLE)
    mapping = tmp_path / "m.yml"
    mapping.write_text(orjson.dumps(LEFT_MISSING).decode(), encoding="utf-8")  # JSON is YAML too
    workspace = str(importer.ws.path)
    run = run_c360("import", str(data), "--mapping", str(mapping), "-w", workspace)
    assert run.exit_code == 0, run.stderr
    assert "4 accepted, 0 duplicates, 0 rejected, 3 values left missing in " in run.stdout
    assert "(fields.birth_date 2, traits.visits 1)" in run.stdout
    assert "line 4: fields.birth_date: not a date in the format %Y%m%d: '0'" in run.stdout
    assert "c360 export rejects --source crm --severity warning" in run.stdout

    summary = orjson.loads(run_c360("import", str(data), "-m", str(mapping), "-w", workspace, "--json").stdout)
    assert (summary["rejected"], summary["warned"]) == (0, 3)  # a re-import reads the values again
    assert summary["left_missing"] == {"fields.birth_date": 2, "traits.visits": 1}
    assert len(summary["warnings"]) == 3

    out = tmp_path / "warnings.csv"
    listed = run_c360("export", "rejects", "-s", "crm", "--severity", "warning", "-o", str(out), "-w", workspace)
    assert listed.exit_code == 0, listed.stderr
    assert "Wrote 6 warnings" in listed.stdout
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [(r["severity"], r["file"], r["line"], r["column"]) for r in rows[:3]] == [
        ("warning", "people.csv", "3", "dob"),
        ("warning", "people.csv", "3", "visits"),
        ("warning", "people.csv", "4", "dob"),
    ]
    assert rows[0]["reason"] == "not a date in the format %Y%m%d: '19560231'"
    default = run_c360("export", "rejects", "-s", "crm", "-w", workspace)
    assert list(csv.DictReader(default.stdout.splitlines())) == []  # rejects proper only, by default
    both = run_c360("export", "rejects", "--severity", "all", "--json", "-w", workspace)
    assert len(both.stdout.splitlines()) == 6
    wrong = run_c360("export", "rejects", "--severity", "maybe", "-w", workspace)
    assert wrong.exit_code == 2


ORDERS: dict[str, Any] = {
    "source": "pos",
    "kind": "orders",
    "record_id": "id",
    "fields": {"timestamp": "at", "total": "total"},
}


def _orders(**fields: Any) -> dict[str, Any]:
    return ORDERS | {"fields": ORDERS["fields"] | fields}


@pytest.mark.parametrize(
    ("mapping", "key", "words"),
    [
        (_orders(timestamp={"column": "at", "invalid": "missing"}), "fields.timestamp.invalid", "every row needs"),
        (_orders(total={"column": "total", "invalid": "missing"}), "fields.total.invalid", "every row needs"),
        (_orders(order_id={"column": "o", "invalid": "missing"}), "fields.order_id.invalid", "every row needs"),
        (
            customers_mapping(record_id=None, fields={"record_id": {"column": "id", "invalid": "missing"}}),
            "fields.record_id.invalid",
            "every row needs",
        ),
        (
            customers_mapping(fields={"birth_date": {"column": "dob", "invalid": "maybe"}}),
            "fields.birth_date.invalid",
            "Input should be 'reject' or 'missing'",
        ),
        (
            customers_mapping(fields={"email": {"column": "mail", "invalid": "missing"}}),
            "fields.email.invalid",
            "only date, time, number and yes/no fields",
        ),
        (_orders(currency={"column": "c", "invalid": "missing"}), "fields.currency.invalid", "a currency field"),
        (customers_mapping(traits={"note": {"column": "n", "invalid": "missing"}}), "traits.note.invalid", "text"),
    ],
)
def test_invalid_missing_where_it_cannot_apply_is_a_mapping_error(
    mapping: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(mapping)
    assert caught.value.field == key
    assert words in caught.value.reason


def test_invalid_missing_is_taken_by_optional_dates_times_numbers_and_yes_no() -> None:
    mapping = parse_mapping(
        customers_mapping(
            fields={
                "birth_date": {"column": "dob", "invalid": "missing"},
                "created_at": {"column": "created", "invalid": "missing"},
                "consent": {"email_marketing": {"column": "opt_in", "invalid": "missing"}},
            },
            traits={"score": {"column": "score", "type": "number", "invalid": "missing"}},
        )
    )
    assert mapping.fields["birth_date"].invalid == mapping.fields["created_at"].invalid == "missing"
    assert mapping.groups["consent"]["email_marketing"].invalid == "missing"
    assert mapping.custom["score"].invalid == "missing"
    assert mapping.fields["phone"].invalid == "reject"
