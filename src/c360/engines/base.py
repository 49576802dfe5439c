"""The narrow interface every batch engine implements, and the behaviour they share.

A backend fills in a handful of ``_``-prefixed methods that take SQL already rendered for it. Everything else --
checking names, rendering portable SQL (``c360.sql``), logging, and wrapping the engine's own exceptions in an
``EngineError`` that carries the engine's name and the SQL that failed -- lives here once.

Queries are portable SQL (DuckDB's dialect, the subset of ``c360.sql.portable``) or a ``Pipeline``. Values go in
as named parameters (``$since`` in the query, ``params={"since": ...}``), never formatted into the SQL text.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import pyarrow as pa

from c360.errors import EngineError
from c360.sql import Dialect, Query, check_name

log = logging.getLogger("c360.engines")

Params = Mapping[str, Any] | None
T = TypeVar("T")

#: ``sql()`` is for small answers; a bigger one is an error instead of a driver that runs out of memory.
DEFAULT_MAX_ROWS = 100_000
DEFAULT_BATCH_ROWS = 65_536


class Engine(ABC):
    """One batch engine session: register tables, run portable SQL, get Arrow back or write Parquet.

    Use it as a context manager, or call ``close()``. Not thread-safe: one engine per thread.
    """

    name: ClassVar[str]
    #: The exceptions of the engine's own library that ``_guard`` turns into ``EngineError``.
    native_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._closed = False

    # -- the public interface ---------------------------------------------------------------------------------------

    def register_parquet(self, name: str, files: Sequence[Path], schema: pa.Schema) -> None:
        """Make ``files`` queryable as table ``name`` with ``schema``'s columns; no files gives an empty table."""
        check_name(name, what="table name")
        paths = [Path(f) for f in files]
        log.debug("%s: table %s from %d Parquet files", self.name, name, len(paths))
        action = f"registering table {name} from {len(paths)} Parquet files"
        self._guard(action, None, self._register_parquet, name, paths, schema)

    def register_arrow(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable as ``name`` (small reference data, test fixtures)."""
        check_name(name, what="table name")
        self._guard(f"registering table {name} from Arrow", None, self._register_arrow, name, table)

    def render(self, query: Query) -> str:
        """The SQL this engine runs for ``query``; raises ``PortabilityError`` outside the portable subset."""
        return self.dialect.render(query)

    def sql(self, query: Query, *, params: Params = None, max_rows: int = DEFAULT_MAX_ROWS) -> pa.Table:
        """The result of a query whose answer is small; more than ``max_rows`` rows is an ``EngineError``."""
        sql = self.render(query)
        started = time.perf_counter()
        table = self._guard("query", sql, self._fetch, sql, params, max_rows + 1)
        if table.num_rows > max_rows:
            raise EngineError(
                f"the query returned more than max_rows={max_rows} rows; use iter_batches() or to_parquet()",
                engine=self.name,
                sql=sql,
            )
        log.info("%s: %d rows in %.3f s", self.name, table.num_rows, time.perf_counter() - started)
        return table

    def materialize(self, name: str, query: Query, *, params: Params = None) -> int:
        """Compute ``query`` now and keep its result as table ``name`` (replacing an earlier one) for the next
        queries: what an iterative job (connected components) needs between rounds. Returns the row count."""
        check_name(name, what="table name")
        sql = self.render(query)
        started = time.perf_counter()
        rows = self._guard(f"materializing table {name}", sql, self._materialize, name, sql, params)
        log.info("%s: table %s, %d rows in %.3f s", self.name, name, rows, time.perf_counter() - started)
        return rows

    def to_parquet(self, query: Query, directory: Path, *, params: Params = None) -> list[Path]:
        """Write the query's result as Parquet files into ``directory`` (which must not exist yet), on the engine's
        side -- nothing passes through Python. Returns the files written, in result order."""
        sql = self.render(query)
        directory = Path(directory)
        if directory.exists():
            raise EngineError(f"{directory} already exists; to_parquet writes a new folder", engine=self.name)
        started = time.perf_counter()
        files = self._guard(f"writing Parquet to {directory}", sql, self._write_parquet, sql, params, directory)
        log.info("%s: wrote %d Parquet files in %.3f s", self.name, len(files), time.perf_counter() - started)
        return files

    def iter_batches(
        self, query: Query, *, params: Params = None, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Generator[pa.RecordBatch, None, None]:
        """The query's result as a stream of Arrow record batches of at most ``batch_rows`` rows, in result order.

        Consume or ``close()`` the stream before running the next query on this engine.
        """
        sql = self.render(query)
        self._check_open("streaming", sql)
        return self._guarded_stream(sql, self._stream(sql, params, batch_rows))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._guard("closing", None, self._close)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- what a backend fills in -----------------------------------------------------------------------------------

    @abstractmethod
    def _register_parquet(self, name: str, files: list[Path], schema: pa.Schema) -> None: ...

    @abstractmethod
    def _register_arrow(self, name: str, table: pa.Table) -> None: ...

    @abstractmethod
    def _fetch(self, sql: str, params: Params, limit: int) -> pa.Table:
        """At most ``limit`` rows of the result."""

    @abstractmethod
    def _materialize(self, name: str, sql: str, params: Params) -> int: ...

    @abstractmethod
    def _write_parquet(self, sql: str, params: Params, directory: Path) -> list[Path]: ...

    @abstractmethod
    def _stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """A generator: nothing may run before the first ``next()``, so errors surface inside the guard."""

    @abstractmethod
    def _close(self) -> None: ...

    def _describe(self, error: BaseException) -> str:
        """The useful part of an engine's exception (Spark's carry a JVM stack trace)."""
        return str(error).strip()

    # -- shared behaviour ------------------------------------------------------------------------------------------

    def _check_open(self, action: str, sql: str | None) -> None:
        if self._closed:
            raise EngineError(f"{action}: the engine is closed", engine=self.name, sql=sql)

    def _guard(self, action: str, sql: str | None, call: Callable[..., T], *args: Any) -> T:
        if action != "closing":
            self._check_open(action, sql)
        try:
            return call(*args)
        except self.native_errors as exc:
            raise self._error(action, sql, exc) from exc

    def _guarded_stream(self, sql: str, stream: Iterator[pa.RecordBatch]) -> Generator[pa.RecordBatch, None, None]:
        started = time.perf_counter()
        rows = 0
        try:
            for batch in stream:
                rows += batch.num_rows
                yield batch
        except self.native_errors as exc:
            raise self._error("streaming", sql, exc) from exc
        finally:
            # A consumer that stops early closes this generator; pass that on so the backend cleans up now.
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        log.info("%s: streamed %d rows in %.3f s", self.name, rows, time.perf_counter() - started)

    def _error(self, action: str, sql: str | None, exc: BaseException) -> EngineError:
        message = f"{action} failed: {self._describe(exc)}"
        log.debug("%s: %s", self.name, message)
        return EngineError(message, engine=self.name, sql=sql)
