"""SQL written once for every batch engine: a portable subset of DuckDB's dialect, ``c360_*`` functions for the
differences, and pipelines of named steps. Nothing here runs SQL; ``c360.engines`` does."""

from c360.sql.dialects import DIALECTS, Dialect, DuckDBDialect, Query, SparkDialect, get_dialect
from c360.sql.pipeline import Pipeline, Step, check_name
from c360.sql.portable import FORBIDDEN_FUNCTIONS, PortabilityError, check_portable

__all__ = [
    "DIALECTS",
    "FORBIDDEN_FUNCTIONS",
    "Dialect",
    "DuckDBDialect",
    "Pipeline",
    "PortabilityError",
    "Query",
    "SparkDialect",
    "Step",
    "check_name",
    "check_portable",
    "get_dialect",
]
