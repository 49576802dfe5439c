"""CSV, JSON Lines and Parquet, gzipped or not, told apart by extension and by magic bytes."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360.importer import UnreadableFile
from c360.importer.sniff import sniff
from tests.importer.conftest import Importer, customers_mapping

ROWS = [("C1", "Nguyễn Thị Ánh", "0912345678"), ("C2", "Trần Văn Đức", "0388116728")]
CSV = "id,name,phone\n" + "".join(f"{i},{n},{p}\n" for i, n, p in ROWS)


def _names(importer: Importer) -> list[str]:
    return [e["traits"]["name"] for e in importer.events("crm")]


@pytest.mark.parametrize("name", ["people.csv.gz", "people.csv", "people.data"])
def test_gzip_by_extension_and_by_magic_bytes(importer: Importer, name: str) -> None:
    path = importer.folder / name
    path.write_bytes(gzip.compress(CSV.encode()))
    result = importer.run(path, customers_mapping())
    assert (result.format, result.accepted, result.rejected) == ("csv", 2, 0)
    assert _names(importer) == [n for _, n, _ in ROWS]


def test_json_lines_plain_and_gzipped(importer: Importer) -> None:
    lines = b"".join(orjson.dumps({"id": i, "name": n, "phone": p, "extra": {"a": 1}}) + b"\n" for i, n, p in ROWS)
    plain = importer.folder / "people.jsonl"
    plain.write_bytes(lines)
    zipped = importer.folder / "people.ndjson.gz"
    zipped.write_bytes(gzip.compress(lines))
    first = importer.run(plain, customers_mapping())
    again = importer.run(zipped, customers_mapping())
    assert (first.format, first.accepted, again.accepted, again.duplicates) == ("jsonl", 2, 0, 2)
    assert [e["context"]["import"]["line"] for e in importer.events("crm")] == [1, 2]


def test_json_lines_without_an_extension_are_recognised(importer: Importer) -> None:
    path = importer.folder / "people"
    path.write_bytes(b"".join(orjson.dumps({"id": i, "name": n, "phone": p}) + b"\n" for i, n, p in ROWS))
    assert importer.run(path, customers_mapping()).format == "jsonl"


def test_json_lines_numbers_keep_their_digits(importer: Importer) -> None:
    path = importer.folder / "people.jsonl"
    path.write_bytes(b'{"id": 17, "name": "An", "phone": "0912345678", "vip": true}\n')
    importer.run(path, customers_mapping(traits=["vip"]))
    event = importer.events("crm")[0]
    assert event["anonymousId"] == "crm:17"
    assert event["traits"]["vip"] == "true"


def test_parquet_with_typed_columns(importer: Importer) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "name": [n for _, n, _ in ROWS],
            "phone": [p for _, _, p in ROWS],
            "born": pa.array([dt.date(1990, 5, 17), None], pa.date32()),
            "changed": pa.array([dt.datetime(2026, 3, 1, 8, 30), dt.datetime(2026, 3, 2, 9, 0)], pa.timestamp("us")),
        }
    )
    path = importer.folder / "people.parquet"
    pq.write_table(table, path)
    mapping = customers_mapping(fields={"birth_date": "born", "updated_at": "changed"})
    result = importer.run(path, mapping)
    assert (result.format, result.accepted, result.rejected) == ("parquet", 2, 0)
    first, second = importer.events("crm")
    assert first["anonymousId"] == "crm:1"
    assert first["traits"]["birthday"] == "1990-05-17"
    assert "birthday" not in second["traits"]
    # a timestamp without a zone is local time of the workspace (Asia/Ho_Chi_Minh, UTC+7)
    assert first["timestamp"] == "2026-03-01T01:30:00.000Z"
    assert [e["context"]["import"]["line"] for e in (first, second)] == [1, 2]


def test_parquet_is_recognised_by_its_magic_bytes(importer: Importer) -> None:
    path = importer.folder / "people.bin"
    pq.write_table(pa.table({"id": ["C1"], "name": ["An"], "phone": ["0912345678"]}), path)
    assert importer.run(path, customers_mapping()).format == "parquet"


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ("id,name,phone", ","),
        ("id;name;phone", ";"),
        ("id\tname\tphone", "\t"),
        ("id|name|phone", "|"),
        ('"a,b";c;d', ";"),
    ],
)
def test_the_delimiter_is_found_from_the_header(tmp_path: Path, header: str, delimiter: str) -> None:
    path = tmp_path / "f.csv"
    path.write_text(header + "\n", encoding="utf-8")
    assert sniff(path).delimiter == delimiter


def test_quoted_values_with_delimiters_and_line_breaks(importer: Importer) -> None:
    path = importer.write(
        "people.csv", 'id,name,phone,note\nC1,"Trần, Văn Đức",0912345678,"two\nlines"\nC2,An,0388116728,x\n'
    )
    importer.run(path, customers_mapping(traits=["note"]))
    first, second = importer.events("crm")
    assert first["traits"]["name"] == "Trần, Văn Đức"
    assert first["traits"]["note"] == "two\nlines"
    assert second["context"]["import"]["line"] == 3  # record numbers: the header is 1


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("missing.csv", None, "cannot read"),
        ("empty.csv", b"", "no header row"),
        ("twice.csv", b"id,id\n1,2\n", "two columns are named 'id'"),
        ("blank.csv", b"id,,phone\n1,2,3\n", "column 2 of the header row has no name"),
        ("broken.csv.gz", b"\x1f\x8b\x08\x00garbage", "cannot read"),
        ("people.parquet", b"not parquet at all", "magic bytes"),
        ("people.parquet.gz", gzip.compress(b"PAR1xxxx"), "decompress it first"),
    ],
)
def test_unreadable_files_are_errors(tmp_path: Path, name: str, data: bytes | None, words: str) -> None:
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(UnreadableFile, match=words):
        sniff(path)
