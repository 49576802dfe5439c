"""Foundation: meta, sources and keys, processor checkpoints, source and order stats, audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from c360.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "c360_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "write_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime),
    )
    op.create_table(
        "processor_checkpoints",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "processor_dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("processor", sa.String(100), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("handler", sa.String(100), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "source_stats",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("type", sa.String(20), primary_key=True),
        sa.Column("event_count", sa.BigInteger, nullable=False),
        sa.Column("first_event_at", UTCDateTime, nullable=False),
        sa.Column("last_event_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "known_users",
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("event_count", sa.BigInteger, nullable=False),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("last_seen_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "order_stats",
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("order_count", sa.BigInteger, nullable=False),
        sa.Column("total_spend_minor", sa.BigInteger, nullable=False),
        sa.Column("first_order_at", UTCDateTime, nullable=False),
        sa.Column("last_order_at", UTCDateTime, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "order_stats",
        "known_users",
        "source_stats",
        "processor_dead_letters",
        "processor_checkpoints",
        "api_keys",
        "write_keys",
        "sources",
        "c360_meta",
    ):
        op.drop_table(table)
