"""Identity resolution: identifiers and their profiles, the edges that joined them, merges, review, rules.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from c360.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_nodes",
        sa.Column("id_type", sa.String(20), primary_key=True),
        sa.Column("id_value", sa.String(500), primary_key=True),
        sa.Column("profile_id", sa.String(40)),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("first_message_id", sa.String(200), nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("held_reason", sa.Text),
    )
    op.create_index("ix_identity_nodes_profile", "identity_nodes", ["profile_id"])
    op.create_table(
        "identity_profiles",
        sa.Column("profile_id", sa.String(40), primary_key=True),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("first_message_id", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("email", sa.String(500)),
        sa.Column("phone", sa.String(40)),
        sa.Column("traits", sa.Text, nullable=False),
        sa.Column("trait_sources", sa.Text),
        sa.Column("search_text", sa.Text, nullable=False),
    )
    op.create_table(
        "identity_edges",
        sa.Column("a_type", sa.String(20), primary_key=True),
        sa.Column("a_value", sa.String(500), primary_key=True),
        sa.Column("b_type", sa.String(20), primary_key=True),
        sa.Column("b_value", sa.String(500), primary_key=True),
        sa.Column("profile_id", sa.String(40)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("live", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(100)),
        sa.Column("message_id", sa.String(200)),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.Column("match_probability", sa.Float),
        sa.Column("evidence", sa.Text),
    )
    op.create_index("ix_identity_edges_profile", "identity_edges", ["profile_id"])
    op.create_table(
        "identity_evidence",
        sa.Column("id_type", sa.String(20), primary_key=True),
        sa.Column("id_value", sa.String(500), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(500), primary_key=True),
    )
    op.create_table(
        "identity_merges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("merged_at", UTCDateTime, nullable=False),
        sa.Column("survivor_id", sa.String(40), nullable=False),
        sa.Column("merged_id", sa.String(40), nullable=False),
        sa.Column("run", sa.String(20), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_identity_merges_survivor", "identity_merges", ["survivor_id"])
    op.create_index("ix_identity_merges_merged", "identity_merges", ["merged_id"])
    op.create_table(
        "identity_review",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(1100), nullable=False, unique=True),
        sa.Column("id_type", sa.String(20)),
        sa.Column("id_value", sa.String(500)),
        sa.Column("left_profile_id", sa.String(40)),
        sa.Column("right_profile_id", sa.String(40)),
        sa.Column("match_probability", sa.Float),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("decided_at", UTCDateTime),
    )
    op.create_index("ix_identity_review_status", "identity_review", ["status"])
    op.create_table(
        "identity_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("a_type", sa.String(20), nullable=False),
        sa.Column("a_value", sa.String(500), nullable=False),
        sa.Column("b_type", sa.String(20)),
        sa.Column("b_value", sa.String(500)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "identity_rules",
        "identity_review",
        "identity_merges",
        "identity_edges",
        "identity_evidence",
        "identity_profiles",
        "identity_nodes",
    ):
        op.drop_table(table)
