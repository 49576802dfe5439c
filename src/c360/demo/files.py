"""Output files that count their rows and hash their bytes while they are written (no second read)."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

_FLUSH_ROWS = 4096


class CsvOut:
    """A UTF-8 CSV file with a header row; `rows` excludes the header."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.rows = 0
        self._file = path.open("wb")
        self._hash = hashlib.sha256()
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\n")
        self._writer.writerow(header)
        self._pending = 0
        self.sha256 = ""

    def row(self, values: Sequence[Any]) -> None:
        self._writer.writerow(values)
        self.rows += 1
        self._pending += 1
        if self._pending >= _FLUSH_ROWS:
            self._drain()

    def _drain(self) -> None:
        data = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        self._file.write(data)
        self._hash.update(data)
        self._pending = 0

    def close(self) -> None:
        if self._file.closed:
            return
        self._drain()
        self._file.close()
        self.sha256 = self._hash.hexdigest()

    def __enter__(self) -> CsvOut:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class LinesOut:
    """A file of byte lines (JSON Lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._file = path.open("wb")
        self._hash = hashlib.sha256()
        self._lines: list[bytes] = []
        self.sha256 = ""

    def line(self, data: bytes) -> None:
        self._lines.append(data)
        if len(self._lines) >= _FLUSH_ROWS:
            self._drain()

    def _drain(self) -> None:
        if not self._lines:
            return
        self.rows += len(self._lines)
        data = b"\n".join(self._lines) + b"\n"
        self._lines = []
        self._file.write(data)
        self._hash.update(data)

    def close(self) -> None:
        if self._file.closed:
            return
        self._drain()
        self._file.close()
        self.sha256 = self._hash.hexdigest()

    def __enter__(self) -> LinesOut:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
