"""Loyalty: members with their stored balances, the ledger (entries, postings, lots, draws), orders, tier
spend and history, counters for budgets and stock, redemptions.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from c360.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_members",
        sa.Column("member_id", sa.String(40), primary_key=True),
        sa.Column("profile_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("merged_into", sa.String(40)),
        sa.Column("enrolled_at", UTCDateTime, nullable=False),
        sa.Column("birth_month", sa.Integer),
        sa.Column("referral_code", sa.String(20), nullable=False, unique=True),
        sa.Column("referred_by", sa.String(40)),
        sa.Column("first_order_at", UTCDateTime),
        sa.Column("tier", sa.String(50), nullable=False),
        sa.Column("tier_since", UTCDateTime),
        sa.Column("pending", sa.BigInteger, nullable=False),
        sa.Column("active", sa.BigInteger, nullable=False),
        sa.Column("redeemed", sa.BigInteger, nullable=False),
        sa.Column("expired", sa.BigInteger, nullable=False),
        sa.Column("reversed", sa.BigInteger, nullable=False),
        sa.Column("debt", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_loyalty_members_profile", "loyalty_members", ["profile_id"])
    op.create_table(
        "loyalty_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(400), unique=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("ref_entry_id", sa.Integer),
    )
    op.create_index("ix_loyalty_entries_member_at", "loyalty_entries", ["member_id", "at"])
    op.create_table(
        "loyalty_postings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("account", sa.String(30), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_loyalty_postings_entry", "loyalty_postings", ["entry_id"])
    op.create_index("ix_loyalty_postings_member", "loyalty_postings", ["member_id"])
    op.create_table(
        "loyalty_lots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("origin_member_id", sa.String(40), nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("earned_at", UTCDateTime, nullable=False),
        sa.Column("activates_at", UTCDateTime),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("original", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_loyalty_lots_member", "loyalty_lots", ["member_id", "state"])
    op.create_index("ix_loyalty_lots_activates", "loyalty_lots", ["state", "activates_at"])
    op.create_index("ix_loyalty_lots_expires", "loyalty_lots", ["state", "expires_at"])
    op.create_table(
        "loyalty_draws",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("lot_id", sa.Integer, nullable=False),
        sa.Column("account", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_loyalty_draws_entry", "loyalty_draws", ["entry_id"])
    op.create_table(
        "loyalty_shares",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_loyalty_shares_member_rule", "loyalty_shares", ["member_id", "rule", "at"])
    op.create_table(
        "loyalty_orders",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("order_id", sa.String(200), primary_key=True),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("lot_id", sa.Integer),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.BigInteger, nullable=False),
        sa.Column("eligible", sa.BigInteger, nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("reversed_points", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.Text),
        sa.Column("voucher_code", sa.String(40)),
    )
    op.create_table(
        "loyalty_spend",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("origin_member_id", sa.String(40), nullable=False),
        sa.Column("starts", UTCDateTime, nullable=False),
        sa.Column("ends", UTCDateTime, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_loyalty_spend_member", "loyalty_spend", ["member_id"])
    op.create_table(
        "loyalty_tier_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("tier", sa.String(50), nullable=False),
        sa.Column("previous", sa.String(50)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_loyalty_tier_history_member", "loyalty_tier_history", ["member_id", "at"])
    op.create_table(
        "loyalty_counters",
        sa.Column("name", sa.String(250), primary_key=True),
        sa.Column("used", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "loyalty_redemptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(40), nullable=False),
        sa.Column("reward_id", sa.String(64), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("entry_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("voucher_code", sa.String(40), unique=True),
        sa.Column("value", sa.BigInteger),
        sa.Column("currency", sa.String(3)),
        sa.Column("valid_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("spent_at", UTCDateTime),
        sa.Column("spent_order", sa.String(300)),
        sa.Column("cancelled_at", UTCDateTime),
    )
    op.create_index("ix_loyalty_redemptions_member", "loyalty_redemptions", ["member_id", "reward_id"])


def downgrade() -> None:
    for table in (
        "loyalty_redemptions",
        "loyalty_counters",
        "loyalty_tier_history",
        "loyalty_spend",
        "loyalty_orders",
        "loyalty_shares",
        "loyalty_draws",
        "loyalty_lots",
        "loyalty_postings",
        "loyalty_entries",
        "loyalty_members",
    ):
        op.drop_table(table)
