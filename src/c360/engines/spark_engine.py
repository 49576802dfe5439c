"""Spark: the same SQL over the same Parquet lake, for data that outgrows one machine (``pip install 'c360[spark]'``).

Results never come back through ``collect()``: ``sql()`` is capped at ``max_rows`` and arrives as Arrow,
``to_parquet()`` writes on the executors, and ``iter_batches()`` has Spark write Parquet into a scratch folder that
is then read one record batch at a time -- exact Arrow types (UTC instants, BIGINT), memory bounded by one row
group, and no Python worker processes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from c360.engines.base import Engine, Params
from c360.errors import EngineError

try:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession
    from pyspark.sql.pandas.types import from_arrow_schema
except ImportError as exc:  # pragma: no cover - exercised by a test that hides pyspark
    raise EngineError(
        f"the Spark engine needs PySpark, which is not installed ({exc}): pip install 'c360[spark]'",
        engine="spark",
    ) from exc

from c360.sql import get_dialect

#: Settings every c360 Spark session gets; the engine checks them again on a session it is handed.
SESSION_CONF = {
    # The c360_* date functions assume UTC; with another zone day buckets would shift.
    "spark.sql.session.timeZone": "UTC",
    # Spark's default INT96 timestamps are read back by Arrow as naive values; micros keep the UTC instant.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def build_session(
    *,
    master: str = "local[*]",
    app_name: str = "c360",
    shuffle_partitions: int = 8,
    driver_memory: str = "2g",
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A SparkSession with c360's settings. In local mode Spark's defaults are tuned for a cluster: the UI,
    200 shuffle partitions and the C2 JIT cost seconds per test and a JVM twice as big (engine-facts.md)."""
    conf = {
        **SESSION_CONF,
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.driver.memory": driver_memory,
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Duser.timezone=UTC",
        **(extra_conf or {}),
    }
    jars = [jar for jar in (conf.get("spark.jars"), _splink_similarity_jar()) if jar]
    if jars:
        conf["spark.jars"] = ",".join(jars)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except (PySparkException, Py4JError, OSError) as exc:
        hint = "" if shutil.which("java") else " (no `java` on PATH: Spark needs Java 17 or newer, or JAVA_HOME)"
        raise EngineError(f"cannot start Spark{hint}: {exc}", engine="spark") from exc
    session.sparkContext.setLogLevel("ERROR")
    # PySpark logs every failed query with its JVM stack trace; the engine raises an EngineError with the message
    # and the SQL instead, so the log would only repeat it.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return session


def _splink_similarity_jar() -> str | None:
    """The jar of Splink's string similarity functions (jaro_winkler, ...) that probabilistic matching needs; jars
    are only read when the JVM starts. None when Splink is not installed."""
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:  # pragma: no cover - splink is a dependency, but the engine does not need it
        return None
    return str(similarity_jar_location())


class SparkEngine(Engine):
    """A Spark session: its own (stopped on ``close()``) or one handed in with ``session=`` (left running, so tests
    and notebooks can share one JVM; ``close()`` then only drops the engine's tables). Other options go to
    ``build_session``."""

    name = "spark"
    native_errors = (PySparkException, Py4JError)

    def __init__(self, *, session: SparkSession | None = None, scratch_dir: Path | None = None, **options: Any):
        super().__init__(get_dialect("spark"))
        self._owns_session = session is None
        self.session = session if session is not None else build_session(**options)
        for key, value in SESSION_CONF.items():
            # Runtime SQL settings, so a borrowed session gets them too.
            self.session.conf.set(key, value)
        self._views: set[str] = set()
        self._scratch = Path(tempfile.mkdtemp(prefix="c360-spark-", dir=scratch_dir))

    def _register_parquet(self, name: str, files: list[Path], schema: pa.Schema) -> None:
        spark_schema = from_arrow_schema(schema)
        if files:
            # select: Spark adds the date=... folder as a column of its own unless told which columns to keep.
            frame = self.session.read.schema(spark_schema).parquet(*(str(f) for f in files)).select(*schema.names)
        else:
            frame = self.session.createDataFrame([], spark_schema)
        frame.createOrReplaceTempView(name)
        self._views.add(name)

    def _register_arrow(self, name: str, table: pa.Table) -> None:
        self.session.createDataFrame(table).createOrReplaceTempView(name)
        self._views.add(name)

    def _fetch(self, sql: str, params: Params, limit: int) -> pa.Table:
        return self.session.sql(sql, args=dict(params) if params else None).limit(limit).toArrow()

    def _materialize(self, name: str, sql: str, params: Params) -> int:
        # A local checkpoint computes the result now and cuts its lineage, so round N of an iterative job does not
        # re-plan rounds 1..N-1.
        frame = self.session.sql(sql, args=dict(params) if params else None).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self._views.add(name)
        return int(frame.count())

    def _write_parquet(self, sql: str, params: Params, directory: Path) -> list[Path]:
        frame = self.session.sql(sql, args=dict(params) if params else None)
        frame.write.mode("errorifexists").parquet(str(directory))
        # Part files are numbered in partition order, which is the result's order after an ORDER BY.
        return sorted(directory.glob("part-*.parquet"))

    def _stream(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        folder = self._scratch / uuid.uuid4().hex
        try:
            for file in self._write_parquet(sql, params, folder):
                with pq.ParquetFile(file) as parquet:
                    yield from parquet.iter_batches(batch_size=batch_rows)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _close(self) -> None:
        try:
            if self._owns_session:
                self.session.stop()
            else:
                for view in self._views:
                    self.session.catalog.dropTempView(view)
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _describe(self, error: BaseException) -> str:
        java = getattr(error, "java_exception", None)
        if java is not None:
            # A failure while results travel to Python arrives wrapped ("Exception thrown in awaitResult"); the
            # root cause says what went wrong.
            while java.getCause() is not None:
                java = java.getCause()
            return str(java.toString())
        # The first lines carry Spark's error class and message; the rest is the logical plan and JVM frames.
        lines = str(error).strip().splitlines()
        return "\n".join(lines[:3]) if lines else type(error).__name__
