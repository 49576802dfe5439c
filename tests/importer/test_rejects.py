"""Every row ends accepted or rejected with its reason: file, line, column, the mapping key and why — and the
rejected rows can be exported, with the row itself, to fix and import again."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from tests.importer.conftest import Importer

MAPPING: dict[str, Any] = {
    "source": "pos",
    "kind": "orders",
    "record_id": "id",
    "fields": {"timestamp": "at", "total": "total", "phone": "phone", "products": "items"},
}
ORDERS = """id,at,total,phone,items
HD1,2026-03-01 10:00,1.250.000 ₫,0912345678,A:1
HD2,2026-03-01 10:05,one million,0912345678,A:1
HD3,2026-02-30 10:00,50.000 ₫,0912345678,A:1
,2026-03-01 10:10,50.000 ₫,0912345678,A:1
HD5,2026-03-01 10:15,50.000 ₫,0912345678
HD6,2026-03-01 10:20,12.50 USD,0912345678,A:two
HD7,2026-03-01 10:25,,0912345678,A:1
HD8,2026-03-01 10:30,1250.5 VND,0912345678,A:1
HD9,2026-03-01 10:35,99.000đ,0912345678,"A:1;B:3"
"""

EXPECTED = {
    # line: (column, field, words in the reason)
    3: ("total", "fields.total", "'one million' is not an amount of money"),
    4: ("at", "fields.timestamp", "not a date and time"),
    5: ("id", "record_id", "every row needs its id"),
    6: (None, None, "expected 5 values, found 4"),
    7: ("items", "fields.products", "not sku:quantity"),
    8: ("total", "fields.total", "every order needs its total"),
    9: ("total", "fields.total", "VND has no minor unit"),
}


def test_every_row_is_accepted_or_rejected_with_its_reason(importer: Importer) -> None:
    path = importer.write("orders.csv", ORDERS)
    result = importer.run(path, MAPPING)
    assert (result.rows, result.accepted, result.rejected) == (9, 2, 7)
    assert [e["properties"]["order_id"] for e in importer.events("pos")] == ["HD1", "HD9"]
    rejects = {r["line"]: r for r in importer.rejects("pos")}
    assert set(rejects) == set(EXPECTED)
    for line, (column, field, words) in EXPECTED.items():
        reject = rejects[line]
        assert (reject["file"], reject["origin"], reject["source"]) == ("orders.csv", "import", "pos")
        assert (reject["column"], reject["field"]) == (column, field), line
        assert words in reject["reason"], (line, reject["reason"])
    assert orjson.loads(rejects[3]["payload"])["total"] == "one million"
    assert rejects[6]["payload"] == "HD5,2026-03-01 10:15,50.000 ₫,0912345678"
    assert result.errors[0].startswith("line 3: fields.total: ")


def test_a_row_with_several_problems_is_rejected_once_for_the_first(importer: Importer) -> None:
    path = importer.write("orders.csv", "id,at,total,phone,items\nHD1,yesterday,lots,0912345678,A:x\n")
    result = importer.run(path, MAPPING)
    assert result.rejected == 1
    (reject,) = importer.rejects()
    assert reject["field"] == "fields.timestamp"  # fields in mapping order: the time comes before the total


def test_json_lines_that_are_not_json_are_rejected_alone(importer: Importer) -> None:
    path = importer.write(
        "orders.jsonl",
        '{"id": "HD1", "at": "2026-03-01 10:00", "total": "50.000 ₫", "phone": "0912345678"}\n'
        "{not json\n"
        "[1, 2]\n"
        "\n"
        '{"id": "HD2", "at": "2026-03-01 10:00", "total": 120000, "phone": "0912345678"}\n',
    )
    result = importer.run(path, MAPPING)
    assert (result.rows, result.accepted, result.rejected) == (4, 2, 2)
    assert [e["properties"]["total"] for e in importer.events()] == [50_000, 120_000]
    reasons = {r["line"]: r["reason"] for r in importer.rejects()}
    assert reasons[2].startswith("not JSON")
    assert reasons[3] == "a line must hold one JSON object"


def test_rows_only_rejected_still_exit_0_and_say_so(importer: Importer, run_c360: Any, tmp_path: Path) -> None:
    path = importer.write("orders.csv", "id,at,total,phone,items\nHD1,yesterday,lots,0912345678,A:1\n")
    mapping = tmp_path / "m.yml"
    mapping.write_text(orjson.dumps(MAPPING).decode(), encoding="utf-8")  # JSON is YAML too
    run = run_c360("import", str(path), "--mapping", str(mapping), "-w", str(importer.ws.path))
    assert run.exit_code == 0, run.stderr
    assert "0 accepted" in run.stdout
    assert "1 rejected" in run.stdout
    assert "1 rows were rejected" in run.stdout
    assert "c360 export rejects --source pos" in run.stdout


def test_export_rejects_as_csv_and_json_lines(importer: Importer, run_c360: Any, tmp_path: Path) -> None:
    importer.run(importer.write("orders.csv", ORDERS), MAPPING)
    other = dict(MAPPING, source="shop")
    importer.run(importer.write("other.csv", "id,at,total,phone,items\nX1,bad,1,0912345678,A:1\n"), other)
    workspace = str(importer.ws.path)

    out_csv = tmp_path / "rejects.csv"
    run = run_c360("export", "rejects", "--source", "pos", "--out", str(out_csv), "-w", workspace)
    assert run.exit_code == 0, run.stderr
    assert "Wrote 7 rejects" in run.stdout
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8", newline="")))
    assert [int(r["line"]) for r in rows] == sorted(EXPECTED)
    assert {r["source"] for r in rows} == {"pos"}
    assert all(r["reason"] and r["file"] == "orders.csv" for r in rows)
    assert orjson.loads(rows[0]["payload"])["id"] == "HD2"

    out_jsonl = tmp_path / "rejects.jsonl"
    run_c360("export", "rejects", "-s", "pos", "-o", str(out_jsonl), "-w", workspace)
    records = [orjson.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in records] == sorted(EXPECTED)
    assert records[0]["payload"]["total"] == "one million"  # the row as an object, not as text

    everything = run_c360("export", "rejects", "-w", workspace)
    assert len(list(csv.DictReader(io.StringIO(everything.stdout)))) == 8

    as_lines = run_c360("export", "rejects", "--source", "shop", "--json", "-w", workspace)
    (only,) = [orjson.loads(line) for line in as_lines.stdout.splitlines()]
    assert only["source"] == "shop"


def test_export_rejects_refuses_other_file_types(importer: Importer, run_c360: Any, tmp_path: Path) -> None:
    run = run_c360("export", "rejects", "--out", str(tmp_path / "r.xlsx"), "-w", str(importer.ws.path))
    assert run.exit_code != 0
    assert "--out: the file must end in .csv or .jsonl" in run.stderr
