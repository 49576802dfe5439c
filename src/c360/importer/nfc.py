"""A fast check for text that may not be in Unicode NFC, so that only such columns pay for normalising.

Windows-1258 text decodes to letters plus combining tone marks (``Nguyễn``), macOS exports write NFD; c360
keeps NFC. Normalising costs about as much as all the rest of a column's work, and almost every column of a UTF-8
export is NFC already: a regular expression finds the characters that can make a text not NFC (Unicode's
NFC_Quick_Check "No" or "Maybe": combining marks, composition second parts, singletons) and only a column that
has one is normalised.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

#: Code point ranges that hold characters with decompositions or combining classes. The planes beyond (3 to 16)
#: have none; a test checks this against a scan of every code point.
_SCANNED = (range(0x20000), range(0x2F800, 0x2FA20))
_HANGUL_VOWELS_AND_TAILS = (range(0x1161, 0x1176), range(0x11A8, 0x11C3))


def suspects(planes: tuple[range, ...] = _SCANNED) -> set[int]:
    """Code points that may make a text not NFC, from the running Python's Unicode database."""
    found: set[int] = set()
    for block in planes:
        for code in block:
            if 0xD800 <= code <= 0xDFFF:
                continue
            char = chr(code)
            if unicodedata.combining(char):
                found.add(code)
            decomposition = unicodedata.decomposition(char)
            if decomposition and not decomposition.startswith("<"):  # canonical: only these matter to NFC
                if unicodedata.normalize("NFC", char) != char:
                    found.add(code)  # a singleton or excluded composition: never in NFC text
                parts = decomposition.split()
                if len(parts) == 2:
                    first, second = (chr(int(part, 16)) for part in parts)
                    if unicodedata.normalize("NFC", first + second) == char:
                        found.add(ord(second))  # it composes with the character before it
    for block in _HANGUL_VOWELS_AND_TAILS:
        found.update(block)
    return found


@cache
def _pattern() -> str:
    ranges: list[list[int]] = []
    for code in sorted(suspects()):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" if a != b else f"\\x{{{a:x}}}" for a, b in ranges) + "]"


def maybe_not_nfc(values: pa.Array) -> bool:
    """Whether some value of ``values`` (text) holds a character that may need NFC normalisation."""
    return bool(pc.any(pc.match_substring_regex(values, _pattern())).as_py())
