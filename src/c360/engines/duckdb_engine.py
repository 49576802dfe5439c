"""DuckDB: the default engine, in-process, over the Parquet lake."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from c360.engines.base import Engine, Params
from c360.errors import EngineError
from c360.sql import DuckDBDialect, get_dialect


class DuckDBEngine(Engine):
    """An in-memory DuckDB connection; tables are views over Parquet files or registered Arrow tables.

    ``threads`` and ``memory_limit`` (``"2GB"``) default to DuckDB's own (all cores, 80% of RAM);
    ``temp_directory`` is where a query that exceeds the memory limit spills: by default a folder of the system's
    temporary directory, removed on close (DuckDB's own default is ``.tmp`` in the current directory).
    """

    name = "duckdb"
    native_errors = (duckdb.Error,)

    def __init__(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: Path | None = None,
    ) -> None:
        super().__init__(get_dialect("duckdb"))
        config: dict[str, str | int] = {}
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if temp_directory is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="c360-duckdb-")
            temp_directory = Path(self._scratch.name)
        config["temp_directory"] = str(temp_directory)
        try:
            self._con = duckdb.connect(":memory:", config=config)  # type: ignore[arg-type]
            assert isinstance(self.dialect, DuckDBDialect)
            for statement in self.dialect.session_statements():
                self._con.execute(statement)
        except duckdb.Error as exc:
            raise EngineError(f"cannot start DuckDB with {config}: {exc}", engine=self.name) from exc

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The engine's DuckDB connection, for libraries that run their own SQL on it (Splink); read-only."""
        return self._con

    def _register_parquet(self, name: str, files: list[Path], schema: pa.Schema) -> None:
        if not files:
            self._con.register(name, schema.empty_table())
            return
        # hive_partitioning off: the date=... folders would otherwise add a column the schema does not have.
        relation = self._con.read_parquet([str(f) for f in files], hive_partitioning=False)
        missing = [column for column in schema.names if column not in relation.columns]
        if missing:
            raise EngineError(f"table {name}: the Parquet files lack columns {', '.join(missing)}", engine=self.name)
        # register (not to_view) for both kinds of table: a registered name shadows a view of the same name.
        self._con.register(name, relation.select(*(duckdb.ColumnExpression(column) for column in schema.names)))

    def _register_arrow(self, name: str, table: pa.Table) -> None:
        self._con.register(name, table)

    def _fetch(self, sql: str, params: Params, limit: int) -> pa.Table:
        table = self._con.sql(sql, params=params).limit(limit).to_arrow_table()
        assert table is not None
        return table

    def _materialize(self, name: str, sql: str, params: Params) -> int:
        # A registered Arrow table or relation of the same name would shadow the new table.
        with contextlib.suppress(duckdb.Error):
            self._con.unregister(name)
        assert isinstance(self.dialect, DuckDBDialect)
        create, count = self.dialect.materialize_statements(name, sql)
        # DuckDB 2 refuses new work while a result is unfinished: fetch each to the end.
        self._con.execute(create, params).fetchall()
        ((rows,),) = self._con.execute(count).fetchall()
        return int(rows)

    def _write_parquet(self, sql: str, params: Params, directory: Path) -> list[Path]:
        directory.mkdir(parents=True)
        target = directory / "part-00000.parquet"
        self._con.sql(sql, params=params).write_parquet(str(target))
        return [target]

    def _stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        reader = self._con.sql(sql, params=params).to_arrow_reader(batch_rows)
        assert reader is not None
        try:
            yield from reader
        finally:
            reader.close()

    def _close(self) -> None:
        try:
            self._con.close()
        finally:
            if self._scratch is not None:
                self._scratch.cleanup()
