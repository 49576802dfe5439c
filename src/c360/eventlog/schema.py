"""Tables of the event log database (its own database: appends never wait on the operational store)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, MetaData, String, Table

log_metadata = MetaData()

# SQLite needs INTEGER (not BIGINT) for the rowid alias, and AUTOINCREMENT so that a seq is never handed out
# twice after the newest rows are pruned: a reused seq would make the lake count an event twice.
SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    log_metadata,
    Column("seq", SEQ_TYPE, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("type", String(20), nullable=False),
    Column("timestamp_us", BigInteger, nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)

# One row: the highest seq ever committed. `max(seq)` of `events` would fall back (to 0) once pruning has
# removed the newest rows, and "events accepted" must not shrink when the log is compacted.
log_state = Table(
    "log_state",
    log_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("high_water", BigInteger, nullable=False),
)

# The messageIds the log has taken, per source, for the dedupe window: an SDK's retry of a batch that was in fact
# stored must not be counted twice. Kept apart from `events`, which is pruned once the lake has them.
# The key leads with message_id (what the dedupe lookup asks by) and, on SQLite, is the table itself (WITHOUT
# ROWID): one B-tree of random keys per insert instead of three is most of the append's cost.
message_ids = Table(
    "message_ids",
    log_metadata,
    Column("message_id", String(200), primary_key=True),
    Column("source", String(100), primary_key=True),
    Column("received_us", BigInteger, nullable=False),
    Index("ix_message_ids_received_us", "received_us"),
    sqlite_with_rowid=False,
)
