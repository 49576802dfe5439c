"""The deterministic identity graph as portable SQL: one text for DuckDB and Spark (c360.sql).

The steps, each materialised by ``c360.identity.graph`` (table names in capitals below are constants here):

1. ``RAW_IDS``: every identifier a message carries, as written — userId, anonymousId (an import's
   ``<source>:<id>`` is an ``external_id``), alias previousId, email / phone / loyalty card from ``traits`` and
   ``context.traits``, the first three ``context.externalIds`` (``<type without _id>:<id>``) and
   ``context.device.id``. ``RAW_NAMES``: the name each message gives.
2. ``OCC``: the occurrences after normalisation (joined with the Python-made ``NORM`` and ``NAMES`` tables), with
   each type's priority rank; blocked values are gone.
3. ``HELD``: the fan-out guard. A value is held back from joining anything when the messages carrying it carry
   two different identifiers of a stronger type (two user ids for one phone; two emails for one device), or
   clearly different names on more than K messages (a store's hotline typed for walk-ins). National ids are not
   weighed: a typed id has typos, and probabilistic matching compares them instead.
5. Connected components by label propagation with pointer jumping (``LABELS``), until no label changes.
6. Profiles: a component's id comes from its oldest message, so the oldest profile survives a merge and the
   batch and incremental paths name it alike.
"""

from __future__ import annotations

from c360.domain.identifiers import IdentifierType
from c360.sql import Pipeline

EVENTS = "events"
RAW_IDS = "id_raw"
RAW_NAMES = "id_raw_names"
NORM = "id_norm"
NAMES = "id_names"
BLOCKED = "id_blocked"
RULES = "id_rules"
OCC = "id_occ"
HELD = "id_held"
VALUE_NAMES = "id_value_names"
CONFLICTING = "id_conflicting_names"
EDGES = "id_edges"
NODES = "id_nodes"
LABELS = "id_labels"
STEP = "id_labels_step"
NEXT = "id_labels_next"
PROFILES = "id_profiles"

#: How many context.externalIds entries a message may contribute.
EXTERNAL_IDS_READ = 3


def _rank_case(column: str) -> str:
    whens = " ".join(f"WHEN '{t.value}' THEN {t.priority}" for t in IdentifierType)
    return f"CASE {column} {whens} END"


#: The fields of each message that identifiers come from: read once, each JSON path parsed once (``raw_ids``).
RAW_FIELDS = "id_raw_fields"
_JSON_FIELDS = {
    "import_record": "c360_json_text(context, '$.import.recordId')",
    "device_id": "c360_json_text(context, '$.device.id')",
    **{
        f"{side}_{kind}": f"c360_json_text({doc}, '{path}.{key}')"
        for kind, key in (("email", "email"), ("phone", "phone"), ("loyalty_card", "loyaltyCard"))
        for side, doc, path in (("t", "traits", "$"), ("c", "context", "$.traits"))
    },
    **{
        f"x{i}_{part}": f"c360_json_text(context, '$.externalIds[{i}].{part}')"
        for i in range(EXTERNAL_IDS_READ)
        for part in ("type", "id")
    },
}


def _ids_from(kind_sql: str, raw_sql: str, where: str = "") -> str:
    condition = f" AND ({where})" if where else ""
    return (
        f"SELECT message_id, source, ts, {kind_sql} AS kind, {raw_sql} AS raw "
        f"FROM {RAW_FIELDS} WHERE {raw_sql} IS NOT NULL{condition}"
    )


def raw_ids_sql() -> Pipeline:
    """Every identifier of every message, a row each. The fields come first, in one pass over the events: a branch
    per identifier each reading the events took twice the time (each JSON document parsed once per path and
    branch)."""
    fields = ", ".join(f"{sql} AS {name}" for name, sql in _JSON_FIELDS.items())
    parts = [
        _ids_from("'user_id'", "user_id"),
        # An import's anonymousId `<source>:<id>` is the record's own id.
        _ids_from("CASE WHEN import_record IS NULL THEN 'anonymous_id' ELSE 'external_id' END", "anonymous_id"),
        _ids_from("'anonymous_id'", "previous_id", "type = 'alias'"),
        _ids_from("'device_id'", "device_id"),
    ]
    for kind in ("email", "phone", "loyalty_card"):
        parts.append(_ids_from(f"'{kind}'", f"t_{kind}"))
        parts.append(_ids_from(f"'{kind}'", f"c_{kind}"))
    for i in range(EXTERNAL_IDS_READ):
        id_type = f"x{i}_type"
        # `crm_id` / `C1` is the same record as the import's anonymousId `crm:C1`.
        prefix = (
            f"CASE WHEN right({id_type}, 3) = '_id' THEN substr({id_type}, 1, length({id_type}) - 3) ELSE {id_type} END"
        )
        parts.append(_ids_from("'external_id'", f"{prefix} || ':' || x{i}_id", f"{id_type} IS NOT NULL"))
    return (
        Pipeline()
        .then(
            RAW_FIELDS,
            f"""SELECT message_id, source, "timestamp" AS ts, type, user_id, anonymous_id, previous_id, {fields}
            FROM {EVENTS}""",
        )
        .then(RAW_IDS, "\nUNION ALL\n".join(parts))
    )


def raw_names_sql() -> str:
    full = "trim(concat_ws(' ', c360_json_text(traits, '$.lastName'), c360_json_text(traits, '$.firstName')))"
    name = (
        f"coalesce(c360_json_text(traits, '$.name'), CASE WHEN {full} = '' THEN NULL ELSE {full} END, "
        "c360_json_text(context, '$.traits.name'))"
    )
    return f"""
        SELECT message_id, name, c360_json_text(traits, '$.nationalId') AS national_id
        FROM (SELECT message_id, traits, {name} AS name FROM {EVENTS})
        WHERE name IS NOT NULL OR c360_json_text(traits, '$.nationalId') IS NOT NULL
    """


def distinct_raw_sql() -> str:
    """The raw values Python normalises: emails and phones."""
    return f"SELECT DISTINCT kind, raw FROM {RAW_IDS} WHERE kind IN ('email', 'phone')"


def distinct_names_sql() -> str:
    return f"SELECT DISTINCT name FROM {RAW_NAMES} WHERE name IS NOT NULL"


def occurrences_sql() -> str:
    # Ids other than emails and phones are exact: trimmed, and blocked when they are a placeholder word or only
    # zeros and dashes (the domain's is_blocked, whose word list arrives as the BLOCKED table).
    return f"""
        SELECT DISTINCT message_id, source, ts, id_type, id_value, {_rank_case("id_type")} AS id_rank
        FROM (
            SELECT r.message_id, r.source, r.ts, r.kind AS id_type,
                   CASE WHEN r.kind IN ('email', 'phone') THEN n.value ELSE trim(r.raw) END AS id_value
            FROM {RAW_IDS} r
            LEFT JOIN {NORM} n ON n.kind = r.kind AND n.raw = r.raw
            WHERE r.kind IN ('email', 'phone')
               OR (lower(trim(r.raw)) NOT IN (SELECT value FROM {BLOCKED})
                   AND NOT regexp_matches(trim(r.raw), '^[-0 .+()]*$'))
        )
        WHERE id_value IS NOT NULL
    """


def value_names_sql() -> str:
    """The distinct names on the messages that carry each value (user ids aside: nothing outranks them)."""
    return f"""
        SELECT DISTINCT o.id_type, o.id_value, m.name_key
        FROM {OCC} o
        JOIN {RAW_NAMES} r ON r.message_id = o.message_id
        JOIN {NAMES} m ON m.raw = r.name
        WHERE o.id_rank > 0
    """


def name_pairs_sql() -> str:
    """The distinct pairs of names met on one value: Python decides which are clearly different."""
    return f"""
        SELECT DISTINCT a.name_key AS name_a, b.name_key AS name_b
        FROM {VALUE_NAMES} a
        JOIN {VALUE_NAMES} b ON b.id_type = a.id_type AND b.id_value = a.id_value AND b.name_key > a.name_key
    """


def held_pipeline(fanout_k: int) -> Pipeline:
    """Values held back by the guard, with the reason; ``RULES`` allows (accepted in review) or blocks values."""
    return (
        Pipeline()
        .then(
            "strong",
            f"""
            SELECT message_id, id_type AS s_type, id_value AS s_value, id_rank AS s_rank
            FROM {OCC} WHERE id_type IN ('user_id', 'email')
            """,
        )
        .then(
            "strong_conflicts",
            f"""
            SELECT o.id_type, o.id_value, s.s_type, min(s.s_rank) AS s_rank, count(DISTINCT s.s_value) AS n
            FROM {OCC} o JOIN strong s ON s.message_id = o.message_id AND s.s_rank < o.id_rank
            GROUP BY o.id_type, o.id_value, s.s_type
            HAVING count(DISTINCT s.s_value) > 1
            """,
        )
        .then(
            "name_conflicts",
            f"""
            SELECT a.id_type, a.id_value, count(*) AS pairs
            FROM {VALUE_NAMES} a
            JOIN {VALUE_NAMES} b ON b.id_type = a.id_type AND b.id_value = a.id_value AND b.name_key > a.name_key
            JOIN {CONFLICTING} c ON c.name_a = a.name_key AND c.name_b = b.name_key
            GROUP BY a.id_type, a.id_value
            """,
        )
        .then(
            "records",
            f"""
            SELECT id_type, id_value, count(DISTINCT message_id) AS records
            FROM {OCC} GROUP BY id_type, id_value
            """,
        )
        .then(
            "strongest_conflict",
            """
            SELECT id_type, id_value, s_type, n,
                   row_number() OVER (PARTITION BY id_type, id_value ORDER BY s_rank, s_type) AS nth
            FROM strong_conflicts
            """,
        )
        .then(
            "guarded",
            f"""
            SELECT id_type, id_value,
                   'conflict: carried with ' || CAST(n AS VARCHAR) || ' different ' || s_type || 's' AS reason,
                   0 AS reason_rank
            FROM strongest_conflict WHERE nth = 1
            UNION ALL
            SELECT c.id_type, c.id_value,
                   'fan-out: on ' || CAST(r.records AS VARCHAR) || ' records with clearly different names' AS reason,
                   1 AS reason_rank
            FROM name_conflicts c JOIN records r ON r.id_type = c.id_type AND r.id_value = c.id_value
            WHERE r.records > {int(fanout_k)}
            """,
        )
        .then(
            "guarded_one",
            """
            SELECT id_type, id_value, reason FROM (
                SELECT *, row_number() OVER (PARTITION BY id_type, id_value ORDER BY reason_rank) AS nth FROM guarded
            ) WHERE nth = 1
            """,
        )
        .then(
            "held",
            f"""
            SELECT g.id_type, g.id_value, g.reason
            FROM guarded_one g
            LEFT JOIN {RULES} a ON a.kind = 'allow_value' AND a.a_type = g.id_type AND a.a_value = g.id_value
            WHERE a.kind IS NULL
            UNION ALL
            SELECT b.a_type AS id_type, b.a_value AS id_value, 'blocked by a rule: ' || b.reason AS reason
            FROM {RULES} b
            LEFT JOIN guarded_one g ON g.id_type = b.a_type AND g.id_value = b.a_value
            WHERE b.kind = 'block_value' AND g.id_type IS NULL
            """,
        )
    )


def edges_pipeline() -> Pipeline:
    """Every pair of identifiers one message carries, with the first message (by time, then id) that did; ``live``
    when neither end is held. A message that carries both ends of a never-link rule (an unmerge) joins nothing.

    Pairs, not a star around the strongest identifier: when a value is held later, the others that came with it
    stay joined to each other, so holding a value never needs the messages again (the incremental path keeps
    only these edges)."""
    return (
        Pipeline()
        .then(
            "banned",
            f"""
            SELECT DISTINCT x.message_id
            FROM {OCC} x
            JOIN {OCC} y ON y.message_id = x.message_id
            JOIN {RULES} r ON r.kind = 'never_link'
                AND r.a_type = x.id_type AND r.a_value = x.id_value AND r.b_type = y.id_type AND r.b_value = y.id_value
            JOIN {EVENTS} e ON e.message_id = x.message_id AND e.received_at > r.created_at
            """,
        )
        .then(
            "ruled",
            f"""
            SELECT a_type, a_value, b_type, b_value FROM {RULES} WHERE kind = 'never_link'
            UNION
            SELECT b_type AS a_type, b_value AS a_value, a_type AS b_type, a_value AS b_value
            FROM {RULES} WHERE kind = 'never_link'
            """,
        )
        .then(
            "pairs",
            f"""
            SELECT a.id_type AS a_type, a.id_value AS a_value, b.id_type AS b_type, b.id_value AS b_value,
                   a.source, a.message_id, a.ts
            FROM {OCC} a
            JOIN {OCC} b ON b.message_id = a.message_id
                AND (a.id_rank < b.id_rank OR (a.id_rank = b.id_rank AND a.id_value < b.id_value))
            LEFT JOIN banned x ON x.message_id = a.message_id
            WHERE x.message_id IS NULL
            """,
        )
        .then(
            "firsts",
            """
            SELECT *, row_number() OVER (
                PARTITION BY a_type, a_value, b_type, b_value ORDER BY ts, message_id) AS nth
            FROM pairs
            """,
        )
        .then(
            "edges",
            f"""
            SELECT f.a_type, f.a_value, f.b_type, f.b_value, 'deterministic' AS kind, f.source, f.message_id, f.ts,
                   f.a_type || '|' || f.a_value AS a_key, f.b_type || '|' || f.b_value AS b_key,
                   CASE WHEN ha.id_type IS NULL AND hb.id_type IS NULL AND r.a_type IS NULL THEN 1 ELSE 0 END AS live,
                   CAST(NULL AS DOUBLE) AS match_probability, CAST(NULL AS VARCHAR) AS evidence
            FROM firsts f
            LEFT JOIN {HELD} ha ON ha.id_type = f.a_type AND ha.id_value = f.a_value
            LEFT JOIN {HELD} hb ON hb.id_type = f.b_type AND hb.id_value = f.b_value
            LEFT JOIN ruled r ON r.a_type = f.a_type AND r.a_value = f.a_value
                AND r.b_type = f.b_type AND r.b_value = f.b_value
            WHERE f.nth = 1
            UNION ALL
            SELECT k.a_type, k.a_value, k.b_type, k.b_value, 'manual' AS kind, CAST(NULL AS VARCHAR) AS source,
                   CAST(NULL AS VARCHAR) AS message_id, k.created_at AS ts,
                   k.a_type || '|' || k.a_value AS a_key, k.b_type || '|' || k.b_value AS b_key, 1 AS live,
                   CAST(NULL AS DOUBLE) AS match_probability, CAST(NULL AS VARCHAR) AS evidence
            FROM {RULES} k WHERE k.kind = 'link'
            """,
        )
    )


def nodes_pipeline() -> Pipeline:
    """Every identifier: where and when it was first seen, on how many messages, and why it is held."""
    return (
        Pipeline()
        .then(
            "ranked",
            f"""
            SELECT id_type, id_value, source, ts, message_id,
                   row_number() OVER (PARTITION BY id_type, id_value ORDER BY ts, message_id) AS nth,
                   count(*) OVER (PARTITION BY id_type, id_value) AS records
            FROM {OCC}
            """,
        )
        .then(
            "nodes",
            f"""
            SELECT r.id_type, r.id_value, r.id_type || '|' || r.id_value AS node_key, r.source,
                   r.ts AS first_seen_at, r.message_id AS first_message_id, r.records, h.reason AS held_reason
            FROM ranked r
            LEFT JOIN {HELD} h ON h.id_type = r.id_type AND h.id_value = r.id_value
            WHERE r.nth = 1
            """,
        )
    )


def initial_labels_sql() -> str:
    return f"SELECT node_key AS node, node_key AS label FROM {NODES} WHERE held_reason IS NULL"


def propagate_sql() -> str:
    """One round: each node takes the smallest label among itself and its neighbours."""
    return f"""
        SELECT node, min(label) AS label FROM (
            SELECT e.a_key AS node, l.label FROM {EDGES} e JOIN {LABELS} l ON l.node = e.b_key WHERE e.live = 1
            UNION ALL
            SELECT e.b_key AS node, l.label FROM {EDGES} e JOIN {LABELS} l ON l.node = e.a_key WHERE e.live = 1
            UNION ALL
            SELECT node, label FROM {LABELS}
        ) GROUP BY node
    """


def jump_sql() -> str:
    """Pointer jumping: a node takes its label's label, which halves the rounds on long chains."""
    return f"""
        SELECT s.node, least(s.label, coalesce(j.label, s.label)) AS label
        FROM {STEP} s LEFT JOIN {STEP} j ON j.node = s.label
    """


def changed_sql() -> str:
    return f"SELECT count(*) AS changed FROM {NEXT} n JOIN {LABELS} o ON o.node = n.node WHERE n.label <> o.label"


def copy_sql(table: str) -> str:
    return f"SELECT * FROM {table}"


def profiles_pipeline() -> Pipeline:
    """Each component's profile id, from its oldest message: the earliest first message of its identifiers
    (every message that carries a live identifier belongs to that identifier's component, so this is the
    component's oldest message, and the incremental path can keep it per identifier)."""
    return (
        Pipeline()
        .then(
            "oldest",
            f"""
            SELECT l.label, n.first_message_id, n.first_seen_at,
                   row_number() OVER (PARTITION BY l.label ORDER BY n.first_seen_at, n.first_message_id) AS nth
            FROM {NODES} n JOIN {LABELS} l ON l.node = n.node_key
            """,
        )
        .then(
            "profiles",
            """
            SELECT label, 'prof_' || substr(md5(first_message_id), 1, 16) AS profile_id, first_message_id,
                   first_seen_at
            FROM oldest WHERE nth = 1
            """,
        )
    )
