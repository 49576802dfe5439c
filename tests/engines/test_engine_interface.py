"""The Engine interface behaves the same on every engine (each test runs on DuckDB and on Spark)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360.engines import Engine
from c360.errors import EngineError
from c360.lake.schema import EVENT_SCHEMA
from c360.sql import Pipeline, PortabilityError

UTC = dt.UTC
PEOPLE = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "name": ["Nguyễn Văn Đức", "Trần Thị Ánh", None, "Lê Minh"],
        "at": pa.array(
            [dt.datetime(2025, 1, 1, 16, 59, tzinfo=UTC), dt.datetime(2025, 1, 1, 17, 0, tzinfo=UTC), None,
             dt.datetime(2025, 1, 2, 0, 0, tzinfo=UTC)],
            pa.timestamp("us", tz="UTC"),
        ),
    }
)  # fmt: skip


def test_no_parquet_files_give_an_empty_table_of_the_schema(engine: Engine) -> None:
    engine.register_parquet("events", [], EVENT_SCHEMA)

    table = engine.sql("SELECT * FROM events")

    assert table.num_rows == 0
    assert table.schema.names == EVENT_SCHEMA.names
    assert engine.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 0}]


def test_parquet_files_are_read_with_the_schema_and_without_partition_columns(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "events" / "date=2025-01-01"
    folder.mkdir(parents=True)
    rows = [
        {"seq": 1, "message_id": "m1", "source": "web", "type": "track", "event": "Order Completed",
         "user_id": "u1", "timestamp": dt.datetime(2025, 1, 1, 23, tzinfo=UTC),
         "received_at": dt.datetime(2025, 1, 1, 23, tzinfo=UTC), "amount_minor": 150_000, "currency": "VND",
         "properties": '{"city": "Hà Nội"}'},
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), folder / "part-1.parquet")

    engine.register_parquet("events", [folder / "part-1.parquet"], EVENT_SCHEMA)
    table = engine.sql("SELECT * FROM events")

    assert table.schema.names == EVENT_SCHEMA.names  # no `date` column from the folder name
    row = table.to_pylist()[0]
    assert row["timestamp"] == dt.datetime(2025, 1, 1, 23, tzinfo=UTC)
    assert row["properties"] == '{"city": "Hà Nội"}'


def test_registered_arrow_tables_are_queried_with_named_parameters(engine: Engine) -> None:
    engine.register_arrow("people", PEOPLE)

    table = engine.sql(
        "SELECT id, name FROM people WHERE at >= $since ORDER BY id",
        params={"since": dt.datetime(2025, 1, 2, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))},
    )

    assert table.to_pylist() == [{"id": 2, "name": "Trần Thị Ánh"}, {"id": 4, "name": "Lê Minh"}]


def test_a_pipeline_runs_as_one_query(engine: Engine) -> None:
    engine.register_arrow("people", PEOPLE)
    pipeline = (
        Pipeline()
        .then("named", "SELECT id, name FROM people WHERE name IS NOT NULL")
        .then("counted", "SELECT count(*) AS n, max(id) AS top FROM named")
    )

    assert engine.sql(pipeline).to_pylist() == [{"n": 3, "top": 4}]


def test_a_result_bigger_than_max_rows_is_an_error_not_a_full_collect(engine: Engine) -> None:
    engine.register_arrow("people", PEOPLE)

    with pytest.raises(EngineError, match="max_rows=3"):
        engine.sql("SELECT id FROM people", max_rows=3)


def test_to_parquet_writes_the_result_in_order(engine: Engine, tmp_path: Path) -> None:
    engine.register_arrow("people", PEOPLE)

    files = engine.to_parquet("SELECT id, name, at FROM people ORDER BY id DESC", tmp_path / "out")

    table = pa.concat_tables(pq.read_table(f) for f in files)
    assert table.column("id").to_pylist() == [4, 3, 2, 1]
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    with pytest.raises(EngineError, match="already exists"):
        engine.to_parquet("SELECT id FROM people", tmp_path / "out")


def test_iter_batches_streams_in_bounded_batches(engine: Engine) -> None:
    engine.register_arrow("people", PEOPLE)

    batches = list(engine.iter_batches("SELECT id, at FROM people ORDER BY id", batch_rows=2))

    assert all(batch.num_rows <= 2 for batch in batches)
    assert pa.Table.from_batches(batches).column("id").to_pylist() == [1, 2, 3, 4]
    assert batches[0].schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert sum(batch.num_rows for batch in engine.iter_batches("SELECT id FROM people WHERE id > 99")) == 0


def test_engine_errors_name_the_engine_and_carry_the_sql(engine: Engine) -> None:
    engine.register_arrow("people", PEOPLE)

    with pytest.raises(EngineError) as raised:
        engine.sql("SELECT no_such_column FROM people")

    assert raised.value.engine == engine.name
    assert "no_such_column" in (raised.value.sql or "")
    assert str(raised.value).startswith(f"[{engine.name}]")
    assert "no_such_column" in str(raised.value)
    with pytest.raises(EngineError, match=engine.name):
        list(engine.iter_batches("SELECT no_such_column FROM people"))


def test_non_portable_sql_is_refused_before_the_engine_runs_it(engine: Engine) -> None:
    engine.register_arrow("people", PEOPLE)

    with pytest.raises(PortabilityError, match="regexp_replace"):
        engine.sql("SELECT regexp_replace(name, 'a', 'b') AS n FROM people")


def test_a_closed_engine_refuses_work(engine: Engine) -> None:
    engine.close()
    engine.close()  # twice is fine

    with pytest.raises(EngineError, match="closed"):
        engine.sql("SELECT 1 AS one")


def test_registering_a_name_again_replaces_the_table(engine: Engine, tmp_path: Path) -> None:
    pq.write_table(PEOPLE, tmp_path / "people.parquet")
    schema = PEOPLE.schema

    engine.register_arrow("people", PEOPLE.slice(0, 1))
    engine.register_parquet("people", [tmp_path / "people.parquet"], schema)
    assert engine.sql("SELECT count(*) AS n FROM people").to_pylist() == [{"n": 4}]
    engine.register_parquet("people", [], schema)
    assert engine.sql("SELECT count(*) AS n FROM people").to_pylist() == [{"n": 0}]
    engine.register_arrow("people", PEOPLE.slice(0, 2))
    assert engine.sql("SELECT count(*) AS n FROM people").to_pylist() == [{"n": 2}]


def test_duckdb_spills_into_a_folder_of_its_own_that_close_removes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not DuckDB's default `.tmp` in the current directory: a resolve run from a user's home left one there."""
    import tempfile

    from c360.engines import open_engine

    monkeypatch.chdir(tmp_path)
    engine = open_engine("duckdb", threads=1, memory_limit="64MB")
    folder = Path(engine.sql("SELECT current_setting('temp_directory') AS t").column(0)[0].as_py())
    assert folder.parent == Path(tempfile.gettempdir())
    assert folder.name.startswith("c360-duckdb-")
    # A sort of ~400 MB of text in 64 MB: DuckDB has to spill, and spills there.
    engine.register_arrow("numbers", pa.table({"i": pa.array(range(4_000_000), pa.int64())}))
    rows = engine.materialize(
        "big", "SELECT i, repeat('x', 100) || CAST(i AS VARCHAR) AS s FROM numbers ORDER BY s DESC"
    )
    assert rows == 4_000_000
    assert list(folder.iterdir()), "the table does not fit in 64 MB: some of it is in the folder"
    assert not (tmp_path / ".tmp").exists()
    engine.close()
    assert not folder.exists()
