"""Tables of the operational store. Migrations (``migrations/versions``) create them; a test checks that the
migrated database matches these definitions exactly."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from c360.store.types import UTCDateTime

metadata = MetaData()

meta = Table(
    "c360_meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# Write keys identify a source on the tracking API; only a hash is stored. Several keys per source let a key be
# rotated without downtime; a revoked key stays for the audit trail.
write_keys = Table(
    "write_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

processor_checkpoints = Table(
    "processor_checkpoints",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Events a handler could not apply: kept with the error so the processor never stalls on one bad event.
processor_dead_letters = Table(
    "processor_dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("processor", String(100), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("handler", String(100), nullable=False),
    Column("error", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

# Maintained per event by the built-in `source_stats` handler.
source_stats = Table(
    "source_stats",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("type", String(20), primary_key=True),
    Column("event_count", BigInteger, nullable=False),
    Column("first_event_at", UTCDateTime, nullable=False),
    Column("last_event_at", UTCDateTime, nullable=False),
)

# Every userId the processor has seen; Identity resolution turns these into profiles.
known_users = Table(
    "known_users",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("event_count", BigInteger, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
)

# Written by the order-stats batch job (DuckDB or Spark over the lake).
order_stats = Table(
    "order_stats",
    metadata,
    Column("user_id", String(200), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("order_count", BigInteger, nullable=False),
    Column("total_spend_minor", BigInteger, nullable=False),
    Column("first_order_at", UTCDateTime, nullable=False),
    Column("last_order_at", UTCDateTime, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", String(200)),
    Column("detail", JSON),
    Index("ix_audit_log_at", "at"),
)

# Every event or imported row that was not accepted: where it came from, which field, why, and the payload
# itself (so it can be exported, fixed and sent again).
rejects = Table(
    "rejects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("origin", String(20), nullable=False),  # "api" or "import"
    Column("file", Text),
    Column("line", BigInteger),
    Column("column", String(200)),
    Column("field", String(200)),
    Column("reason", Text, nullable=False),
    Column("payload", Text),
    Index("ix_rejects_source_received_at", "source", "received_at"),
)
