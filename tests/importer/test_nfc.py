"""The quick check that spares NFC normalisation to columns that are NFC already."""

from __future__ import annotations

import unicodedata

import pyarrow as pa
import pytest

from c360.importer.nfc import maybe_not_nfc, suspects


def test_the_planes_scanned_hold_every_suspect() -> None:
    assert suspects() == suspects((range(0x110000),))


@pytest.mark.parametrize(
    ("text", "suspect"),
    [
        ("Nguyễn Thị Ánh", False),
        ("plain ascii", False),
        (unicodedata.normalize("NFD", "Nguyễn"), True),
        ("Nguye\u0302\u0303n", True),  # Windows-1258 style: a letter, then a combining tone mark
        ("\u212b", True),  # ANGSTROM SIGN: NFC maps it to Å
        ("\u1100\u1161", True),  # Hangul jamo that compose
    ],
)
def test_maybe_not_nfc(text: str, suspect: bool) -> None:
    assert maybe_not_nfc(pa.array(["ok", text, None])) is suspect


def test_every_text_the_check_passes_is_nfc() -> None:
    """Not suspect implies NFC, over every code point the scan does not flag."""
    flagged = suspects()
    clean = "".join(chr(c) for c in range(0x20, 0x3000) if c not in flagged and not 0xD800 <= c <= 0xDFFF)
    assert not maybe_not_nfc(pa.array([clean]))
    assert unicodedata.is_normalized("NFC", clean)
