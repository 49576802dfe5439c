"""Rejects: every event or imported row that was not accepted, with where it came from and why.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from c360.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("file", sa.Text),
        sa.Column("line", sa.BigInteger),
        sa.Column("column", sa.String(200)),
        sa.Column("field", sa.String(200)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.Text),
    )
    op.create_index("ix_rejects_source_received_at", "rejects", ["source", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_rejects_source_received_at", "rejects")
    op.drop_table("rejects")
