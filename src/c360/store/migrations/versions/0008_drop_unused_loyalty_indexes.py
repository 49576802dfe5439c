"""Two loyalty indexes that no query reads: ``ix_loyalty_lots_activates`` (lots are found by member; settling
compares activation times in Python) and ``ix_loyalty_postings_entry`` (postings are read by member, or all of
them). Every earn still paid for both: an insert into each, and their pages in every commit's fsync (of ~75 pages a
group commit of eight operations writes, ~8 were theirs).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_loyalty_lots_activates", table_name="loyalty_lots")
    op.drop_index("ix_loyalty_postings_entry", table_name="loyalty_postings")


def downgrade() -> None:
    op.create_index("ix_loyalty_postings_entry", "loyalty_postings", ["entry_id"])
    op.create_index("ix_loyalty_lots_activates", "loyalty_lots", ["state", "activates_at"])
