"""The two-engine harness (a pytest plugin, loaded by the root conftest so every test folder can use it).

- ``engine``: every test that takes it runs on DuckDB and on Spark (the Spark run carries the ``spark`` marker, so
  ``-m "not spark"`` gives the quick DuckDB-only loop).
- ONE SparkSession for the whole test run, created on first use and stopped at the end; each test gets a fresh
  ``SparkEngine`` over it whose tables are dropped afterwards.
- ``same_on_both``: run one query on both engines and assert equal results after normalising what legitimately
  differs in how each hands values to Python.
- ``events_lake``: a lake of at least 50,000 generator events plus edge cases, built once per session.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from c360.engines import Engine, Params, open_engine
from c360.sql import Query
from tests.engines.data import LakeData, build_lake
from tests.helpers import skip_or_fail

#: Seconds the shared SparkSession took to start, reported in the terminal summary.
TIMINGS: dict[str, float] = {}


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'c360[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs Java 17+ on PATH or JAVA_HOME)"
    return None


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    reason = spark_missing()
    if reason:
        skip_or_fail(reason)
    from c360.engines.spark_engine import build_session

    started = time.perf_counter()
    # Two cores, two shuffle partitions, a small driver: what engine-facts.md measured as fastest for tests.
    session = build_session(master="local[2]", app_name="c360-tests", shuffle_partitions=2, driver_memory="1g")
    TIMINGS["spark session start"] = time.perf_counter() - started
    yield session
    session.stop()


@pytest.fixture
def duckdb_engine() -> Iterator[Engine]:
    with open_engine("duckdb", threads=2) as engine:
        yield engine


@pytest.fixture
def spark_engine(spark_session: Any) -> Iterator[Engine]:
    with open_engine("spark", session=spark_session) as engine:
        yield engine


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> Engine:
    fixture: Engine = request.getfixturevalue(f"{request.param}_engine")
    return fixture


@pytest.fixture(scope="session")
def events_lake(tmp_path_factory: pytest.TempPathFactory) -> LakeData:
    started = time.perf_counter()
    data = build_lake(tmp_path_factory.mktemp("lake"))
    TIMINGS[f"lake build ({len(data.messages)} events)"] = time.perf_counter() - started
    return data


# -- comparing results -------------------------------------------------------------------------------------------


def normalise_value(value: Any) -> Any:
    """One representation per value, whatever the engine: aware UTC datetimes, ints for integral decimals."""
    if isinstance(value, dt.datetime):
        assert value.tzinfo is not None, f"an engine returned a naive datetime {value!r}"
        return value.astimezone(dt.UTC)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, list):
        return [normalise_value(item) for item in value]
    if isinstance(value, dict):
        return {key: normalise_value(item) for key, item in value.items()}
    return value


def _sort_key(row: dict[str, Any], key: Sequence[str]) -> tuple[Any, ...]:
    # NULLs first, and never compared with a value.
    return tuple((row[column] is not None, row[column]) for column in key)


def normalise(table: pa.Table, key: Sequence[str] | None) -> list[dict[str, Any]]:
    """Rows as dicts of normalised values, sorted by ``key`` (None: keep the engine's order, for ORDER BY)."""
    rows = [{name: normalise_value(value) for name, value in row.items()} for row in table.to_pylist()]
    if key is not None:
        rows.sort(key=lambda row: _sort_key(row, key))
    return rows


def type_family(data_type: pa.DataType) -> str:
    """Types compared across engines: the family, not the width or nullability (Spark's count(*) is NOT NULL)."""
    for family, test in (
        ("integer", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        ("timestamp", pa.types.is_timestamp),
        ("date", pa.types.is_date),
        ("list", lambda t: pa.types.is_list(t) or pa.types.is_large_list(t)),
        ("bool", pa.types.is_boolean),
    ):
        if test(data_type):
            return family
    return str(data_type)


def same_on_both(
    duckdb_engine: Engine,
    spark_engine: Engine,
    query: Query,
    *,
    key: Sequence[str] | None,
    params: Params = None,
) -> list[dict[str, Any]]:
    """Run ``query`` on both engines, assert the same columns, type families and rows; return the rows."""
    results = {}
    for engine in (duckdb_engine, spark_engine):
        table = engine.sql(query, params=params)
        results[engine.name] = (
            [(field.name, type_family(field.type)) for field in table.schema],
            normalise(table, key),
        )
    (duck_schema, duck_rows), (spark_schema, spark_rows) = results["duckdb"], results["spark"]
    assert duck_schema == spark_schema
    assert len(duck_rows) == len(spark_rows)
    for index, (duck_row, spark_row) in enumerate(zip(duck_rows, spark_rows, strict=True)):
        assert duck_row == spark_row, f"row {index} differs"
    return duck_rows


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for what, seconds in TIMINGS.items():
        terminalreporter.write_line(f"engines: {what}: {seconds:.1f} s")
