"""Real files: UTF-8 with and without a byte-order mark, UTF-16 from Excel (tab-separated), Windows-1258 with
its combining tone marks, NFD text — every name comes back identical, in NFC, and phones keep their 0."""

from __future__ import annotations

import codecs
import unicodedata

import pytest

from tests.importer.conftest import Importer, customers_mapping

NAMES = ["Nguyễn Thị Ánh", "Trần Văn Đức", "Lê Thị Hồng Nhung", "Phạm Minh Khôi", "Hoàng Ngọc Quỳnh", "Đặng Thuỳ Dương"]
PHONES = ["0912345678", "0388116728", "0979123415", "0903000111", "0933444555", "0868777666"]
#: The tone marks that Windows-1258 writes as separate combining characters after the letter.
TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def cp1258_bytes(text: str) -> bytes:
    """``text`` as Windows-1258 writes it: letters with â ê ô ơ ư ă đ precomposed, tone marks combining."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        try:
            char.encode("cp1258")
            out.append(char)
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", char)
            letter = unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in TONE_MARKS))
            out.append(letter + "".join(m for m in marks if m in TONE_MARKS))
    return "".join(out).encode("cp1258")


def _table(delimiter: str = ",") -> str:
    rows = [delimiter.join(("id", "name", "phone"))]
    rows += [delimiter.join((f"C{i}", name, phone)) for i, (name, phone) in enumerate(zip(NAMES, PHONES, strict=True))]
    return "\r\n".join(rows) + "\r\n"


def _check(importer: Importer, expected_encoding: str, result_encoding: str) -> None:
    assert result_encoding == expected_encoding
    events = importer.events("crm")
    assert [e["traits"]["name"] for e in events] == NAMES
    assert all(unicodedata.is_normalized("NFC", e["traits"]["name"]) for e in events)
    assert [e["traits"]["phone"] for e in events] == PHONES
    assert importer.rejects() == []


@pytest.mark.parametrize(
    ("label", "data", "codec"),
    [
        ("utf-8", _table().encode("utf-8"), "utf-8"),
        ("utf-8 with BOM", codecs.BOM_UTF8 + _table().encode("utf-8"), "utf-8"),
        ("utf-16le with BOM, tabs (Excel)", codecs.BOM_UTF16_LE + _table("\t").encode("utf-16-le"), "utf-16"),
        ("utf-16be with BOM, semicolons", codecs.BOM_UTF16_BE + _table(";").encode("utf-16-be"), "utf-16"),
        ("utf-16le without BOM, tabs", _table("\t").encode("utf-16-le"), "utf-16-le"),
        ("windows-1258", b"".join(cp1258_bytes(line) + b"\r\n" for line in _table().splitlines()), "cp1258"),
        ("utf-8 in NFD (macOS)", unicodedata.normalize("NFD", _table()).encode("utf-8"), "utf-8"),
    ],
)
def test_each_encoding_reads_back_identical_names(importer: Importer, label: str, data: bytes, codec: str) -> None:
    path = importer.folder / "people.csv"
    path.write_bytes(data)
    result = importer.run(path, customers_mapping())
    assert (result.accepted, result.rejected) == (len(NAMES), 0), result.errors
    _check(importer, codec, result.encoding)


def test_the_windows_1258_file_really_holds_combining_marks() -> None:
    raw = cp1258_bytes("Nguyễn")
    assert raw.decode("cp1258") != "Nguyễn"
    assert unicodedata.normalize("NFC", raw.decode("cp1258")) == "Nguyễn"


def test_the_mapping_can_name_the_encoding(importer: Importer) -> None:
    path = importer.folder / "people.txt"
    path.write_bytes(b"".join(cp1258_bytes(line) + b"\n" for line in _table().splitlines()))
    result = importer.run(path, customers_mapping(encoding="windows-1258"))
    _check(importer, "cp1258", result.encoding)


def test_non_ascii_far_into_a_file_still_decides_the_encoding(importer: Importer) -> None:
    """`auto` looks past the first megabyte of ASCII for the first byte that tells UTF-8 from Windows-1258."""
    filler = "".join(f"A{i},Nguyen Van An,0912000{i % 1000:03d}\n" for i in range(40_000))
    path = importer.folder / "late.csv"
    path.write_bytes(b"id,name,phone\n" + filler.encode() + b"Z1," + cp1258_bytes("Trần Văn Đức") + b",0912345678\n")
    result = importer.run(path, customers_mapping())
    assert result.encoding == "cp1258"
    assert importer.events("crm")[-1]["traits"]["name"] == "Trần Văn Đức"
