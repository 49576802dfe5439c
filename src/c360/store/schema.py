"""Tables of the operational store. Migrations (``migrations/versions``) create them; a test checks that the
migrated database matches these definitions exactly."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
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
    # "error": not accepted; "warning": an imported row accepted with this value left missing (`invalid: missing`)
    Column("severity", String(20), nullable=False, server_default="error"),
    Column("file", Text),
    Column("line", BigInteger),
    Column("column", String(200)),
    Column("field", String(200)),
    Column("reason", Text, nullable=False),
    Column("payload", Text),
    Index("ix_rejects_source_received_at", "source", "received_at"),
)


# -- identity resolution (c360.identity) --------------------------------------------------------------------------
# One row per normalised identifier (`phone`, `+84912345678`): the profile it belongs to, or NULL and a reason when
# the identifier is held back from joining anything (the fan-out guard, a limit). `records` counts the messages
# that carried it; `source` is where it was first seen.
identity_nodes = Table(
    "identity_nodes",
    metadata,
    Column("id_type", String(20), primary_key=True),
    Column("id_value", String(500), primary_key=True),
    Column("profile_id", String(40)),
    Column("source", String(100), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("first_message_id", String(200), nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("held_reason", Text),
    Index("ix_identity_nodes_profile", "profile_id"),
)

# The unified profiles. `search_text` holds the folded name keys (both orders), emails and phone digits that
# `GET /v1/profiles/search` matches; `traits` is the JSON of the traits after precedence.
identity_profiles = Table(
    "identity_profiles",
    metadata,
    Column("profile_id", String(40), primary_key=True),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("first_message_id", String(200), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("name", Text),
    Column("email", String(500)),
    Column("phone", String(40)),
    Column("traits", Text, nullable=False),
    # Where each trait's value came from, for the incremental path's precedence: {key: [source rank, timestamp]}.
    Column("trait_sources", Text),
    Column("search_text", Text, nullable=False),
)

# Why identifiers are together: one row per pair joined, with the first message that joined them (deterministic)
# or the match probability and the comparisons that decided it (probabilistic), or who decided (manual).
identity_edges = Table(
    "identity_edges",
    metadata,
    Column("a_type", String(20), primary_key=True),
    Column("a_value", String(500), primary_key=True),
    Column("b_type", String(20), primary_key=True),
    Column("b_value", String(500), primary_key=True),
    Column("profile_id", String(40)),  # NULL when both ends are held
    Column("kind", String(20), nullable=False),  # deterministic | probabilistic | manual
    Column("live", Boolean, nullable=False),  # False when an end is held: kept to explain, joins nothing
    Column("source", String(100)),
    Column("message_id", String(200)),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("match_probability", Float),
    Column("evidence", Text),
    Index("ix_identity_edges_profile", "profile_id"),
)

# What the fan-out guard weighs, kept by the incremental path: for each identifier, the stronger identifiers
# (`user_id`, `email`, `national_id`) and the folded names (`name`) seen on the messages that carried it.
identity_evidence = Table(
    "identity_evidence",
    metadata,
    Column("id_type", String(20), primary_key=True),
    Column("id_value", String(500), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("value", String(500), primary_key=True),
)

# Every merge: which profile absorbed which, when, by which run and on what evidence.
identity_merges = Table(
    "identity_merges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("merged_at", UTCDateTime, nullable=False),
    Column("survivor_id", String(40), nullable=False),
    Column("merged_id", String(40), nullable=False),
    Column("run", String(20), nullable=False),  # batch | incremental | manual
    Column("evidence", Text, nullable=False),
    Index("ix_identity_merges_survivor", "survivor_id"),
    Index("ix_identity_merges_merged", "merged_id"),
)

# Decisions a person makes: matches between the thresholds and values held by the fan-out guard wait here.
identity_review = Table(
    "identity_review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # held_value | match
    Column("key", String(1100), nullable=False, unique=True),  # what is reviewed, so a rerun does not ask twice
    Column("id_type", String(20)),
    Column("id_value", String(500)),
    Column("left_profile_id", String(40)),
    Column("right_profile_id", String(40)),
    Column("match_probability", Float),
    Column("reason", Text, nullable=False),
    Column("evidence", Text),
    Column("status", String(20), nullable=False),  # open | accepted | rejected
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Index("ix_identity_review_status", "status"),
)

# Rules both paths honour: `never_link` (an unmerge: a_* and b_* never end up in one profile), `allow_value` (a
# held value accepted in review) and `block_value` (a value rejected in review or blocked by hand).
identity_rules = Table(
    "identity_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("a_type", String(20), nullable=False),
    Column("a_value", String(500), nullable=False),
    Column("b_type", String(20)),
    Column("b_value", String(500)),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("active", Boolean, nullable=False),
)

# Loyalty. Members are profiles (the member id is the profile id at enrolment). The member row holds the stored
# balances of the six member accounts; every change to them is an entry with postings that add up to zero.
loyalty_members = Table(
    "loyalty_members",
    metadata,
    Column("member_id", String(40), primary_key=True),
    Column("profile_id", String(40), nullable=False),
    Column("status", String(10), nullable=False),  # active | merged
    Column("merged_into", String(40)),
    Column("enrolled_at", UTCDateTime, nullable=False),
    Column("birth_month", Integer),
    Column("referral_code", String(20), nullable=False, unique=True),
    Column("referred_by", String(40)),
    Column("first_order_at", UTCDateTime),
    Column("tier", String(50), nullable=False),
    Column("tier_since", UTCDateTime),
    Column("pending", BigInteger, nullable=False),
    Column("active", BigInteger, nullable=False),
    Column("redeemed", BigInteger, nullable=False),
    Column("expired", BigInteger, nullable=False),
    Column("reversed", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Hints that spare an earn re-reading the member's past (c360.services.loyalty.books); NULL means not known.
    Column("settle_due", UTCDateTime),  # no lot activates or expires before this
    Column("tier_digest", String(32)),  # digest of the tier history the last review recorded
    Index("ix_loyalty_members_profile", "profile_id"),
)

# An entry is one business fact (an earn, a spend, an expiry ...); `key` makes it idempotent.
loyalty_entries = Table(
    "loyalty_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("key", String(400), unique=True),
    Column("at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", Text),
    Column("ref_entry_id", Integer),
    Index("ix_loyalty_entries_member_at", "member_id", "at"),
)

loyalty_postings = Table(
    "loyalty_postings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, nullable=False),
    Column("member_id", String(40), nullable=False),
    Column("account", String(30), nullable=False),  # a member account, or program.issued / program.adjustments
    Column("amount", BigInteger, nullable=False),
    Index("ix_loyalty_postings_member", "member_id"),
)

loyalty_lots = Table(
    "loyalty_lots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), nullable=False),
    Column("origin_member_id", String(40), nullable=False),  # who earned it: an unmerge gives it back
    Column("entry_id", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # pending | active | expired
    Column("earned_at", UTCDateTime, nullable=False),
    Column("activates_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("original", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Index("ix_loyalty_lots_member", "member_id", "state"),
    Index("ix_loyalty_lots_expires", "state", "expires_at"),
)

# What each entry took from each lot, so a cancelled spend puts the points back where they came from.
loyalty_draws = Table(
    "loyalty_draws",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, nullable=False),
    Column("lot_id", Integer, nullable=False),
    Column("account", String(20), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Index("ix_loyalty_draws_entry", "entry_id"),
)

# Each rule's share of an award: caps are counted from it, and explanations read it.
loyalty_shares = Table(
    "loyalty_shares",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, nullable=False),
    Column("member_id", String(40), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("points", BigInteger, nullable=False),
    Index("ix_loyalty_shares_member_rule", "member_id", "rule", "at"),
)

loyalty_orders = Table(
    "loyalty_orders",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("order_id", String(200), primary_key=True),
    Column("member_id", String(40), nullable=False),
    Column("entry_id", Integer, nullable=False),
    Column("lot_id", Integer),
    Column("at", UTCDateTime, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("eligible", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False),  # eligible minor units refunded so far
    Column("reversed_points", BigInteger, nullable=False),
    Column("lines", Text),  # JSON: sku, category, eligible amount of each line
    Column("voucher_code", String(40)),
)

# Qualifying spend for tiers: an order counts from its time for the window; a refund takes its share back.
loyalty_spend = Table(
    "loyalty_spend",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), nullable=False),
    Column("origin_member_id", String(40), nullable=False),
    Column("starts", UTCDateTime, nullable=False),
    Column("ends", UTCDateTime, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("entry_id", Integer, nullable=False),
    Index("ix_loyalty_spend_member", "member_id"),
)

loyalty_tier_history = Table(
    "loyalty_tier_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("tier", String(50), nullable=False),
    Column("previous", String(50)),
    Column("reason", Text, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_loyalty_tier_history_member", "member_id", "at"),
)

# Counters that many members draw on at once: a row each, locked while one transaction uses it.
loyalty_counters = Table(
    "loyalty_counters",
    metadata,
    Column("name", String(250), primary_key=True),  # campaign:NAME or reward:ID
    Column("used", BigInteger, nullable=False),
)

loyalty_redemptions = Table(
    "loyalty_redemptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), nullable=False),
    Column("reward_id", String(64), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("entry_id", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # issued | spent | cancelled
    Column("voucher_code", String(40), unique=True),
    Column("value", BigInteger),
    Column("currency", String(3)),
    Column("valid_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("spent_at", UTCDateTime),
    Column("spent_order", String(300)),
    Column("cancelled_at", UTCDateTime),
    Index("ix_loyalty_redemptions_member", "member_id", "reward_id"),
)

# -- segments and computed traits (c360.segments) ------------------------------------------------------------------
# A saved segment: its definition as written (JSON), checked when saved.
segments = Table(
    "segments",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("definition", Text, nullable=False),
    # The types of the traits and event properties it names, as known when it was saved, so reading it again
    # never depends on which events the catalog happens to sample.
    Column("types", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Membership history: one row per stay of a profile in a segment; the current members have no `exited_at`.
segment_memberships = Table(
    "segment_memberships",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("segment", String(63), nullable=False),
    Column("profile_id", String(40), nullable=False),
    Column("entered_at", UTCDateTime, nullable=False),
    Column("exited_at", UTCDateTime),
    Index("ix_segment_memberships_current", "segment", "exited_at", "profile_id"),
    Index("ix_segment_memberships_profile", "profile_id"),
)

# The computed traits of each profile as of the last build (JSON of typed values).
computed_traits = Table(
    "computed_traits",
    metadata,
    Column("profile_id", String(40), primary_key=True),
    Column("traits", Text, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)

# Each build: when, as of when, on which engine, where its computed traits' Parquet is, and what changed.
segment_builds = Table(
    "segment_builds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("as_of", UTCDateTime, nullable=False),
    Column("engine", String(20), nullable=False),
    Column("profiles", BigInteger, nullable=False),
    Column("computed_path", Text, nullable=False),
    Column("summary", Text, nullable=False),
)

# The events that real-time segments count ("performed X at least N times within D days"), one row per matching
# event under the counter's key, with the identifiers the batch path maps events by, so merges need no rewrite.
segment_event_times = Table(
    "segment_event_times",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("message_id", String(200), primary_key=True),
    Column("user_id", String(500)),
    Column("anonymous_id", String(500)),
    Column("ts", UTCDateTime, nullable=False),
    Index("ix_segment_event_times_user", "key", "user_id"),
    Index("ix_segment_event_times_anonymous", "key", "anonymous_id"),
)

# Entries into and exits from segments, in order, for activation to read (an outbox): from builds and from the
# real-time path.
segment_changes = Table(
    "segment_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("segment", String(63), nullable=False),
    Column("profile_id", String(40), nullable=False),
    Column("change", String(10), nullable=False),  # entered | exited
    Column("at", UTCDateTime, nullable=False),
    Column("origin", String(10), nullable=False),  # build | realtime
)
