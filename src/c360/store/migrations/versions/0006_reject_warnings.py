"""Rejects get a severity: ``error`` (not accepted, every row until now) or ``warning`` (an imported row accepted
with a value left missing, as the mapping's ``invalid: missing`` says).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rejects", sa.Column("severity", sa.String(20), nullable=False, server_default="error"))


def downgrade() -> None:
    with op.batch_alter_table("rejects") as batch:
        batch.drop_column("severity")
