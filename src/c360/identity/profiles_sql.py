"""Portable SQL that turns the graph's tables into the rows the store keeps (see ``graph_sql`` for the graph).

The rows come in the order of the store's primary keys: a B-tree filled in key order appends to its last page,
while one filled at random reads and rewrites pages all over a table larger than the cache (at a million
records, most of the write's time).
"""

from __future__ import annotations

from c360.identity.graph_sql import (
    EDGES,
    EVENTS,
    LABELS,
    NAMES,
    NODES,
    NORM,
    OCC,
    PROFILES,
    RAW_NAMES,
    VALUE_NAMES,
)

MESSAGE_PROFILES = "id_message_profiles"
OLD_NODES = "id_old_nodes"


def message_profiles_sql() -> str:
    """The profile of each message: that of its strongest live identifier (none when all of them are held)."""
    return f"""
        SELECT m.message_id, p.profile_id
        FROM (
            SELECT o.message_id, l.label,
                   row_number() OVER (PARTITION BY o.message_id ORDER BY o.id_rank, o.id_value) AS pos
            FROM {OCC} o JOIN {LABELS} l ON l.node = o.id_type || '|' || o.id_value
        ) m
        JOIN {PROFILES} p ON p.label = m.label
        WHERE m.pos = 1
    """


def node_rows_sql() -> str:
    return f"""
        SELECT n.id_type, n.id_value, p.profile_id, n.source, n.first_seen_at, n.first_message_id, n.records,
               n.held_reason
        FROM {NODES} n
        LEFT JOIN {LABELS} l ON l.node = n.node_key
        LEFT JOIN {PROFILES} p ON p.label = l.label
        ORDER BY n.id_type, n.id_value
    """


def edge_rows_sql() -> str:
    """Every edge; one whose end is held belongs to the other end's profile (NULL when both are held)."""
    return f"""
        SELECT e.a_type, e.a_value, e.b_type, e.b_value, coalesce(pa.profile_id, pb.profile_id) AS profile_id,
               e.kind, e.source, e.message_id, e.ts AS seen_at, e.live, e.match_probability, e.evidence
        FROM {EDGES} e
        LEFT JOIN {LABELS} la ON la.node = e.a_key
        LEFT JOIN {PROFILES} pa ON pa.label = la.label
        LEFT JOIN {LABELS} lb ON lb.node = e.b_key
        LEFT JOIN {PROFILES} pb ON pb.label = lb.label
        ORDER BY e.a_type, e.a_value, e.b_type, e.b_value
    """


def profile_traits_sql() -> str:
    """Every message that says something about a person, grouped by profile (``traits.Traits`` ranks them), with
    what the graph already normalised of its name, emails and phones (``profile_fields.Known``)."""
    known = []
    joins = []
    for kind in ("email", "phone"):
        for side, raw in (
            ("t", f"c360_json_text(e.traits, '$.{kind}')"),
            ("c", f"c360_json_text(e.context, '$.traits.{kind}')"),
        ):
            alias = f"{kind}_{side}"
            known.append(f"{alias}.raw AS {alias}_raw, {alias}.value AS {alias}_value")
            joins.append(f"LEFT JOIN {NORM} {alias} ON {alias}.kind = '{kind}' AND {alias}.raw = {raw}")
    return f"""
        SELECT mp.profile_id, p.first_seen_at, p.first_message_id, e.source, e."timestamp" AS ts, e.message_id,
               e.traits, c360_json_text(e.context, '$.traits') AS context_traits,
               nm.raw AS name_raw, nm.name_key, nm.name_rev, {", ".join(known)}
        FROM {EVENTS} e
        JOIN {MESSAGE_PROFILES} mp ON mp.message_id = e.message_id
        JOIN {PROFILES} p ON p.profile_id = mp.profile_id
        LEFT JOIN {RAW_NAMES} rn ON rn.message_id = e.message_id
        LEFT JOIN {NAMES} nm ON nm.raw = rn.name
        {" ".join(joins)}
        WHERE e.traits IS NOT NULL OR c360_json_text(e.context, '$.traits') IS NOT NULL
        ORDER BY mp.profile_id
    """


def evidence_rows_sql() -> str:
    """What the guard weighed, for the incremental path to go on from: stronger identifiers and names per value."""
    return f"""
        SELECT DISTINCT o.id_type, o.id_value, s.id_type AS kind, s.id_value AS value
        FROM {OCC} o JOIN {OCC} s ON s.message_id = o.message_id AND s.id_rank < o.id_rank
        WHERE s.id_type IN ('user_id', 'email')
        UNION
        SELECT id_type, id_value, 'name' AS kind, name_key AS value FROM {VALUE_NAMES}
        ORDER BY 1, 2, 3, 4
    """


def bare_profiles_sql() -> str:
    """Profiles no message says anything about (an anonymous visitor): they still get a row."""
    return f"""
        SELECT p.profile_id, p.first_seen_at, p.first_message_id
        FROM {PROFILES} p
        WHERE p.profile_id NOT IN (
            SELECT mp.profile_id FROM {MESSAGE_PROFILES} mp JOIN {EVENTS} e ON e.message_id = mp.message_id
            WHERE e.traits IS NOT NULL OR c360_json_text(e.context, '$.traits') IS NOT NULL
        )
        ORDER BY p.profile_id
    """


def merges_sql() -> str:
    """Profiles of the previous run that are gone, and the profile that now holds their identifiers."""
    return f"""
        SELECT o.profile_id AS merged_id, p.profile_id AS survivor_id,
               min(o.id_type || ':' || o.id_value) AS via, count(*) AS identifiers
        FROM {OLD_NODES} o
        JOIN {NODES} n ON n.id_type = o.id_type AND n.id_value = o.id_value
        JOIN {LABELS} l ON l.node = n.node_key
        JOIN {PROFILES} p ON p.label = l.label
        WHERE o.profile_id <> p.profile_id
          AND o.profile_id NOT IN (SELECT profile_id FROM {PROFILES})
        GROUP BY o.profile_id, p.profile_id
        ORDER BY o.profile_id, p.profile_id
    """
