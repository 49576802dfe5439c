"""Streaming readers: a file as Arrow batches of bounded size, whatever its length.

CSV goes through pyarrow's streaming reader with every column read as text (nothing guessed: a phone
``0912...`` keeps its 0); JSON Lines is read a block of lines at a time (each line parsed by orjson, so a bad line
is rejected alone with its line number); Parquet a record batch at a time. Every row carries its line: the CSV
record number counting the header as 1 (the text line unless a quoted value spans lines or blank lines are
skipped), the JSON line, or the Parquet row number counting from 1.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

import orjson
import pyarrow as pa

from c360.importer.sniff import FileInfo, UnreadableFile, open_binary

#: What a damaged or mis-encoded file raises while it is read (a gzip stream cut short raises EOFError).
_READ_ERRORS = (pa.ArrowException, OSError, EOFError, zlib.error, UnicodeDecodeError)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A row the reader could not read at all (wrong number of CSV values, a line that is not JSON)."""

    line: int | None
    reason: str
    text: str


@dataclass(slots=True)
class RawBatch:
    table: pa.Table
    lines: pa.Array  # int64, one per row of `table`
    bytes_read: int  # of the file on disk, so far
    unreadable: list[Unreadable] = field(default_factory=list)
    objects: list[dict[str, Any]] | None = None  # JSON Lines: the parsed rows themselves


def read_batches(info: FileInfo, *, block_bytes: int = 4 << 20) -> Iterator[RawBatch]:
    if info.format == "csv":
        yield from _csv(info, block_bytes)
    elif info.format == "jsonl":
        yield from _jsonl(info, block_bytes)
    else:
        yield from _parquet(info, block_bytes)


# --- CSV -------------------------------------------------------------------------------------------------------
def _csv(info: FileInfo, block_bytes: int) -> Iterator[RawBatch]:
    import pyarrow.csv as pcsv

    invalid: list[Unreadable] = []
    columns = len(info.header)

    def on_invalid(row: Any) -> str:
        reason = f"expected {columns} values, found {row.actual_columns}"
        invalid.append(Unreadable(row.number, reason, row.text))
        return "skip"

    with open_binary(info) as (stream, counter):
        try:
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(
                    # One thread: the rows' numbers are only known then, and the streaming reader is not faster
                    # with more (measured: 0.25 s per million rows either way).
                    use_threads=False,
                    block_size=block_bytes,
                    column_names=list(info.header),
                    skip_rows=1,
                    encoding="utf8" if info.encoding == "utf-8" else info.encoding,
                ),
                parse_options=pcsv.ParseOptions(
                    delimiter=info.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=dict.fromkeys(info.header, pa.string()),
                    strings_can_be_null=True,
                    null_values=[""],  # only an empty value is missing: "NA" may be someone's initials
                    quoted_strings_can_be_null=True,
                ),
            )
        except _READ_ERRORS as exc:
            raise UnreadableFile(f"cannot read {info.path}: {_arrow_message(exc)}") from None
        numbering = _RecordNumbers()
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except _READ_ERRORS as exc:
                raise UnreadableFile(
                    f"cannot read {info.path} after line {numbering.next}: {_arrow_message(exc)}"
                ) from None
            skipped, invalid[:] = list(invalid), []
            numbering.skip(u.line for u in skipped)
            yield RawBatch(pa.Table.from_batches([batch]), numbering.take(batch.num_rows), counter.count, skipped)
        if invalid:  # rows the parser refused after the last batch
            yield RawBatch(_empty(info.header), pa.array([], pa.int64()), counter.count, list(invalid))


class _RecordNumbers:
    """Record numbers of the rows the CSV reader returns, given the numbers of the rows it refused."""

    def __init__(self) -> None:
        self.next = 2  # the header is record 1
        self._skipped: set[int] = set()

    def skip(self, numbers: Iterator[int | None] | Any) -> None:
        self._skipped.update(n for n in numbers if n is not None)

    def take(self, count: int) -> pa.Array:
        if not self._skipped:
            out = pa.array(range(self.next, self.next + count), pa.int64())
            self.next += count
            return out
        numbers: list[int] = []
        while len(numbers) < count:
            if self.next in self._skipped:
                self._skipped.discard(self.next)
            else:
                numbers.append(self.next)
            self.next += 1
        return pa.array(numbers, pa.int64())


def _empty(header: tuple[str, ...]) -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in header})


def _arrow_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "invalid UTF8" in text or "Invalid UTF8" in text:
        return f"{text}: the file is not UTF-8; set `encoding:` in the mapping (utf-16, windows-1258)"
    return text


# --- JSON Lines ------------------------------------------------------------------------------------------------
def _jsonl(info: FileInfo, block_bytes: int) -> Iterator[RawBatch]:
    with open_binary(info) as (stream, counter):
        lines: Iterator[bytes] = iter(stream)
        if info.encoding != "utf-8":  # decoded, then written as UTF-8 again for orjson
            decoded = io.TextIOWrapper(cast(BinaryIO, stream), encoding=info.encoding, newline="\n")
            lines = (line.encode("utf-8") for line in decoded)
        objects: list[dict[str, Any]] = []
        numbers: list[int] = []
        unreadable: list[Unreadable] = []
        size = 0
        number = 0
        try:
            for number, raw in enumerate(lines, start=1):
                line = raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
                if not line.strip():
                    continue
                size += len(line)
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    unreadable.append(Unreadable(number, f"not JSON: {exc}", line.decode("utf-8", "replace").rstrip()))
                else:
                    if isinstance(value, dict):
                        objects.append(value)
                        numbers.append(number)
                    else:
                        text = line.decode("utf-8", "replace").rstrip()
                        unreadable.append(Unreadable(number, "a line must hold one JSON object", text))
                if size >= block_bytes:
                    yield _json_batch(objects, numbers, counter.count, unreadable)
                    objects, numbers, unreadable, size = [], [], [], 0
        except _READ_ERRORS as exc:
            raise UnreadableFile(f"cannot read {info.path} after line {number}: {_arrow_message(exc)}") from None
        if objects or unreadable:
            yield _json_batch(objects, numbers, counter.count, unreadable)


def _as_cell(value: Any) -> str | None:
    """A JSON value as the text a CSV cell would hold."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _json_batch(objects: list[dict[str, Any]], numbers: list[int], read: int, bad: list[Unreadable]) -> RawBatch:
    names: dict[str, None] = {}
    for obj in objects:
        names.update(dict.fromkeys(obj))
    table = pa.table({name: pa.array([_as_cell(obj.get(name)) for obj in objects], pa.string()) for name in names})
    if not names:
        table = pa.table({"_": pa.nulls(len(objects), pa.string())})
    return RawBatch(table, pa.array(numbers, pa.int64()), read, bad, objects)


# --- Parquet ---------------------------------------------------------------------------------------------------
def _parquet(info: FileInfo, block_bytes: int) -> Iterator[RawBatch]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(info.path)
    except _READ_ERRORS as exc:
        raise UnreadableFile(f"cannot read {info.path}: {_arrow_message(exc)}") from None
    meta = parquet.metadata
    total = max(meta.num_rows, 1)
    row_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) // total
    batch_rows = max(1_024, min(65_536, block_bytes // max(row_bytes, 64)))
    done = 0
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            lines = pa.array(range(done + 1, done + batch.num_rows + 1), pa.int64())
            done += batch.num_rows
            yield RawBatch(pa.Table.from_batches([batch]), lines, info.size * done // total)
    except _READ_ERRORS as exc:
        raise UnreadableFile(f"cannot read {info.path} after row {done}: {_arrow_message(exc)}") from None
    finally:
        parquet.close()
