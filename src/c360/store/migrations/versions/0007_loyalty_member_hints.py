"""Two hints on a loyalty member's row that spare an earn re-reading the member's whole past: ``settle_due``, the
earliest time one of its lots activates or expires (NULL: not known, so the next settling reads the lots), and
``tier_digest``, a digest of the tier history its last review recorded (NULL: not known).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from c360.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both start unknown: the first settling and the first tier review of each member read its past, as before.
    op.add_column("loyalty_members", sa.Column("settle_due", UTCDateTime, nullable=True))
    op.add_column("loyalty_members", sa.Column("tier_digest", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loyalty_members") as batch:
        batch.drop_column("tier_digest")
        batch.drop_column("settle_due")
