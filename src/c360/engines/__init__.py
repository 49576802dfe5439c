"""Batch engines: the only code that talks to DuckDB or Spark.

``open_engine("duckdb")`` (the default) or ``open_engine("spark")`` returns an ``Engine``; engine modules are imported
only then, so ``import c360.engines`` needs neither DuckDB nor PySpark loaded.
"""

from __future__ import annotations

import importlib
from typing import Any

from c360.engines.base import DEFAULT_BATCH_ROWS, DEFAULT_MAX_ROWS, Engine, Params
from c360.errors import ConfigError, EngineError

#: name -> (module, class); the module is imported on first use.
ENGINES: dict[str, tuple[str, str]] = {
    "duckdb": ("c360.engines.duckdb_engine", "DuckDBEngine"),
    "spark": ("c360.engines.spark_engine", "SparkEngine"),
}


def open_engine(name: str = "duckdb", **options: Any) -> Engine:
    """A new engine session. Options are the engine class's keyword arguments (DuckDB: ``threads``,
    ``memory_limit``, ``temp_directory``; Spark: ``session``, ``master``, ``shuffle_partitions``, ...)."""
    try:
        module_name, class_name = ENGINES[name]
    except KeyError:
        raise ConfigError(f"unknown batch engine {name!r}; choose one of {', '.join(ENGINES)}") from None
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine = engine_class(**options)
    assert isinstance(engine, Engine)
    return engine


__all__ = ["DEFAULT_BATCH_ROWS", "DEFAULT_MAX_ROWS", "ENGINES", "Engine", "EngineError", "Params", "open_engine"]
