"""What a file is, from its name and its first bytes: format, compression, text encoding, CSV delimiter, header.

Real exports come as UTF-8 with or without a byte-order mark, UTF-16 from Excel ("Unicode text", tab-separated),
or Windows-1258 (the Vietnamese Windows code page), sometimes gzipped. The magic bytes win over the extension.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import unicodedata
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from c360.errors import InvalidInput

Format = Literal["csv", "jsonl", "parquet"]
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_EXTENSIONS: dict[str, Format] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip
#: Codec names for the mapping's ``encoding:`` values.
CODECS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
    "windows-1258": "cp1258",
    "cp1258": "cp1258",
}
_SAMPLE_BYTES = 1 << 20
#: How far ``auto`` looks for the first non-ASCII byte to tell UTF-8 from Windows-1258.
_SCAN_LIMIT = 64 << 20
_DELIMITERS = (",", "\t", ";", "|")


class UnreadableFile(InvalidInput):
    """A file that cannot be imported at all (missing, not a known format, not text)."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: Path
    size: int
    format: Format
    gzip: bool
    encoding: str  # a Python codec name; "utf-8" for Parquet
    bom: bool
    delimiter: str  # CSV only
    header: tuple[str, ...]  # CSV only: the column names, NFC and trimmed


class CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read from it (the progress bar shows bytes of the file on disk)."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        got = self._raw.readinto(buffer)
        self.count += got
        return got

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def open_binary(info: FileInfo) -> Iterator[tuple[io.BufferedIOBase, CountingReader]]:
    """The file's content (decompressed) and the counter of bytes read from disk."""
    counter = CountingReader(info.path.open("rb"))
    stream: io.BufferedIOBase = io.BufferedReader(counter, 1 << 20)
    if info.gzip:
        stream = gzip.GzipFile(fileobj=stream, mode="rb")
    try:
        yield stream, counter
    finally:
        stream.close()
        counter.close()


def sniff(path: Path, *, encoding: str = "auto", delimiter: str | None = None) -> FileInfo:
    """Look at ``path`` and say how to read it; UnreadableFile when it cannot be read."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise UnreadableFile(f"cannot read {path}: {exc.strerror}") from None
    if not path.is_file():
        raise UnreadableFile(f"{path} is not a file")
    compressed = head.startswith(_GZIP_MAGIC)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    by_name = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if head == _PARQUET_MAGIC:
        return FileInfo(path, size, "parquet", False, "utf-8", False, ",", ())
    if compressed and by_name == "parquet":
        raise UnreadableFile(f"{path}: a gzipped Parquet file; decompress it first (Parquet compresses itself)")
    if by_name == "parquet":
        raise UnreadableFile(f"{path} is named like Parquet but does not start with Parquet's magic bytes")
    sample = _sample(path, compressed)
    codec, bom = _encoding(path, compressed, sample, encoding)
    text = _decode_sample(path, sample, codec)
    kind = by_name or ("jsonl" if text.lstrip().startswith("{") else "csv")
    if kind == "jsonl":
        return FileInfo(path, size, "jsonl", compressed, codec, bom, ",", ())
    sep = delimiter or _delimiter(text)
    header = _header(path, text, sep)
    return FileInfo(path, size, "csv", compressed, codec, bom, sep, header)


def _sample(path: Path, compressed: bool) -> bytes:
    try:
        with path.open("rb") as handle:
            if not compressed:
                return handle.read(_SAMPLE_BYTES)
            with gzip.GzipFile(fileobj=handle) as inflated:
                return _read_up_to(inflated, _SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableFile(f"cannot read {path}: {exc}") from None


def _read_up_to(stream: BinaryIO | gzip.GzipFile, limit: int) -> bytes:
    """Up to ``limit`` bytes; a truncated gzip stream gives what could be inflated."""
    chunks: list[bytes] = []
    total = 0
    try:
        while total < limit and (chunk := stream.read(min(1 << 16, limit - total))):
            chunks.append(chunk)
            total += len(chunk)
    except EOFError:
        if not chunks:
            raise
    return b"".join(chunks)


def _encoding(path: Path, compressed: bool, sample: bytes, wanted: str) -> tuple[str, bool]:
    """(codec, has a byte-order mark)."""
    if sample.startswith(codecs.BOM_UTF8):
        bom_codec = "utf-8"
    elif sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        bom_codec = "utf-16"
    else:
        bom_codec = ""
    if wanted != "auto":
        codec = CODECS[wanted]
        return codec, bool(bom_codec) and codec.startswith(bom_codec)
    if bom_codec:
        return bom_codec, True
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) == 0:
        return "utf-16-le", False  # ASCII-range text in UTF-16 without a mark: every second byte is zero
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4 and sample[1::2].count(0) == 0:
        return "utf-16-be", False
    return ("utf-8" if _looks_utf8(path, compressed, sample) else "cp1258"), False


def _looks_utf8(path: Path, compressed: bool, sample: bytes) -> bool:
    """Whether the text around the first non-ASCII byte is UTF-8 (Windows-1258 text almost never is)."""
    if not sample.isascii():
        return _decodes(sample)
    # All ASCII so far: look further, a block at a time, for the first byte that tells.
    with path.open("rb") as handle:
        stream: BinaryIO | gzip.GzipFile = gzip.GzipFile(fileobj=handle) if compressed else handle
        scanned = 0
        carry = b""
        try:
            while scanned < _SCAN_LIMIT and (block := stream.read(_SAMPLE_BYTES)):
                scanned += len(block)
                if not block.isascii():
                    return _decodes(carry + block)
                carry = block[-3:]
        except (OSError, EOFError, zlib.error):
            pass
    return True


def _decodes(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=False)  # a character cut at the end of the block is not an error
    except UnicodeDecodeError:
        return False
    return True


def _decode_sample(path: Path, sample: bytes, codec: str) -> str:
    decoder = codecs.getincrementaldecoder("utf-8-sig" if codec == "utf-8" else codec)(errors="strict")
    try:
        return unicodedata.normalize("NFC", decoder.decode(sample, final=False)).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{path} is not {codec} text (byte {exc.start} of the file); set `encoding:` in the mapping"
        ) from None


def _delimiter(text: str) -> str:
    """The most frequent candidate on the header line, outside quotes (a comma when there is none)."""
    first = _first_record(text)
    counts = {d: _count_outside_quotes(first, d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _first_record(text: str) -> str:
    quoted = False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            return text[:i]
    return text


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _header(path: Path, text: str, delimiter: str) -> tuple[str, ...]:
    try:
        row = next(csv.reader(io.StringIO(_first_record(text)), delimiter=delimiter), [])
    except csv.Error as exc:
        raise UnreadableFile(f"{path}: the header row cannot be read: {exc}") from None
    header = tuple(name.strip() for name in row)
    if not header or not any(header):
        raise UnreadableFile(f"{path} has no header row (the first line names the columns)")
    blank = [i + 1 for i, name in enumerate(header) if not name]
    if blank:
        raise UnreadableFile(f"{path}: column {blank[0]} of the header row has no name")
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise UnreadableFile(f"{path}: two columns are named {name!r}")
        seen.add(name)
    return header
