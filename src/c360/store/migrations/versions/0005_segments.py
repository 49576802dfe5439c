"""Segments: saved definitions, membership history, computed traits per profile, builds, the events real-time
segments count, and the outbox of entries and exits.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from c360.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("types", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "segment_memberships",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("segment", sa.String(63), nullable=False),
        sa.Column("profile_id", sa.String(40), nullable=False),
        sa.Column("entered_at", UTCDateTime, nullable=False),
        sa.Column("exited_at", UTCDateTime),
    )
    op.create_index("ix_segment_memberships_current", "segment_memberships", ["segment", "exited_at", "profile_id"])
    op.create_index("ix_segment_memberships_profile", "segment_memberships", ["profile_id"])
    op.create_table(
        "computed_traits",
        sa.Column("profile_id", sa.String(40), primary_key=True),
        sa.Column("traits", sa.Text, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "segment_builds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.Column("as_of", UTCDateTime, nullable=False),
        sa.Column("engine", sa.String(20), nullable=False),
        sa.Column("profiles", sa.BigInteger, nullable=False),
        sa.Column("computed_path", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_table(
        "segment_event_times",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(500)),
        sa.Column("anonymous_id", sa.String(500)),
        sa.Column("ts", UTCDateTime, nullable=False),
    )
    op.create_index("ix_segment_event_times_user", "segment_event_times", ["key", "user_id"])
    op.create_index("ix_segment_event_times_anonymous", "segment_event_times", ["key", "anonymous_id"])
    op.create_table(
        "segment_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("segment", sa.String(63), nullable=False),
        sa.Column("profile_id", sa.String(40), nullable=False),
        sa.Column("change", sa.String(10), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("origin", sa.String(10), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "segment_changes",
        "segment_event_times",
        "segment_builds",
        "computed_traits",
        "segment_memberships",
        "segments",
    ):
        op.drop_table(table)
