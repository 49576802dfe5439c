"""The lake: Parquet files of compacted events, partitioned by the event's UTC date."""

from c360.lake.lake import Lake
from c360.lake.schema import EVENT_COLUMNS, EVENT_SCHEMA

__all__ = ["EVENT_COLUMNS", "EVENT_SCHEMA", "Lake"]
