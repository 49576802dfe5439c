"""Probabilistic matching inside `c360 resolve`: records of different deterministic profiles that are probably
the same person become graph edges (or review items), and the components are computed again.

Runs after ``graph.build_graph`` on the same engine: the records come from ``records_sql``, Splink scores them
(``matching.match_records``), and the pairs at or above the upper threshold join their two profiles — unless the
two sides hold different user ids, or a never-link rule stands between them, which sends the pair to review
instead. Pairs between the thresholds go to review.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from c360.domain.names_vi import fold_name
from c360.domain.places import province_code
from c360.engines import Engine
from c360.identity import graph_sql as q
from c360.identity import records_sql as rs
from c360.identity.graph import connected_components, rows_of
from c360.identity.matching import MatchSettings, match_records

MATCHES = "id_matches"
MATCH_PAIRS = "id_match_pairs"
DETERMINISTIC_EDGES = "id_edges_deterministic"
FIRST_LABELS = "id_labels_deterministic"


@dataclass(frozen=True, slots=True)
class MatchStats:
    records: int
    pairs: int
    merged: int
    review: int
    rounds: int


def place_table(rows: list[tuple[str, str]]) -> pa.Table:
    """Province texts -> the 2025 unit's code; other place texts (city, street) -> folded."""
    values = [province_code(raw) if kind == "province" else (fold_name(raw) or None) for kind, raw in rows]
    return pa.table(
        {
            "kind": pa.array([kind for kind, _ in rows], pa.string()),
            "raw": pa.array([raw for _, raw in rows], pa.string()),
            "value": pa.array(values, pa.string()),
        }
    )


def match_pairs_sql(upper: float) -> str:
    """Scored pairs between two deterministic profiles, with the decision: merge, or review and why."""
    return f"""
        SELECT p.cl, p.cr, p.match_probability, p.evidence,
               CASE WHEN p.match_probability < {float(upper)} THEN 'review: between the thresholds'
                    WHEN ul.n > 0 AND ur.n > 0 THEN 'review: the two profiles hold different user ids'
                    WHEN nl.cl IS NOT NULL THEN 'review: a never-link rule separates them'
                    ELSE 'merge' END AS decision
        FROM (
            SELECT CASE WHEN l.cluster < r.cluster THEN l.cluster ELSE r.cluster END AS cl,
                   CASE WHEN l.cluster < r.cluster THEN r.cluster ELSE l.cluster END AS cr,
                   max(m.match_probability) AS match_probability, max(m.evidence) AS evidence
            FROM {MATCHES} m
            JOIN {rs.RECORDS} l ON l.record_key = m.record_key_l
            JOIN {rs.RECORDS} r ON r.record_key = m.record_key_r
            WHERE l.cluster <> r.cluster
            GROUP BY 1, 2
        ) p
        LEFT JOIN (
            SELECT l.label, count(*) AS n FROM {q.NODES} n JOIN {FIRST_LABELS} l ON l.node = n.node_key
            WHERE n.id_type = 'user_id' GROUP BY l.label
        ) ul ON ul.label = p.cl
        LEFT JOIN (
            SELECT l.label, count(*) AS n FROM {q.NODES} n JOIN {FIRST_LABELS} l ON l.node = n.node_key
            WHERE n.id_type = 'user_id' GROUP BY l.label
        ) ur ON ur.label = p.cr
        LEFT JOIN (
            SELECT DISTINCT
                   CASE WHEN la.label < lb.label THEN la.label ELSE lb.label END AS cl,
                   CASE WHEN la.label < lb.label THEN lb.label ELSE la.label END AS cr
            FROM {q.RULES} k
            JOIN {FIRST_LABELS} la ON la.node = k.a_type || '|' || k.a_value
            JOIN {FIRST_LABELS} lb ON lb.node = k.b_type || '|' || k.b_value
            WHERE k.kind = 'never_link'
        ) nl ON nl.cl = p.cl AND nl.cr = p.cr
    """


def edges_with_matches_sql() -> str:
    """The deterministic edges and one probabilistic edge per merged pair, between the two profiles' anchors
    (their smallest node key, which is what a label is)."""
    return f"""
        SELECT a_type, a_value, b_type, b_value, kind, source, message_id, ts, a_key, b_key, live,
               match_probability, evidence
        FROM {DETERMINISTIC_EDGES}
        UNION ALL
        SELECT substr(p.cl, 1, instr(p.cl, '|') - 1) AS a_type, substr(p.cl, instr(p.cl, '|') + 1) AS a_value,
               substr(p.cr, 1, instr(p.cr, '|') - 1) AS b_type, substr(p.cr, instr(p.cr, '|') + 1) AS b_value,
               'probabilistic' AS kind, CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS message_id,
               n.first_seen_at AS ts, p.cl AS a_key, p.cr AS b_key, 1 AS live, p.match_probability, p.evidence
        FROM {MATCH_PAIRS} p
        JOIN {q.NODES} n ON n.node_key = p.cr
        LEFT JOIN {DETERMINISTIC_EDGES} d
            ON (d.a_key = p.cl AND d.b_key = p.cr) OR (d.a_key = p.cr AND d.b_key = p.cl)
        WHERE p.decision = 'merge' AND d.a_key IS NULL
    """


def review_pairs_sql() -> str:
    """Pairs for people to decide, named by the profiles they are now in."""
    return f"""
        SELECT pl.profile_id AS left_profile_id, pr.profile_id AS right_profile_id, p.match_probability,
               p.evidence, p.decision
        FROM {MATCH_PAIRS} p
        JOIN {q.LABELS} ll ON ll.node = p.cl
        JOIN {q.PROFILES} pl ON pl.label = ll.label
        JOIN {q.LABELS} lr ON lr.node = p.cr
        JOIN {q.PROFILES} pr ON pr.label = lr.label
        WHERE p.decision <> 'merge' AND pl.profile_id <> pr.profile_id
        ORDER BY pl.profile_id, pr.profile_id
    """


def match_and_join(engine: Engine, settings: MatchSettings, say: Callable[[str], None]) -> MatchStats:
    """Score the records, add the merges to the graph's edges and recompute its components and profiles."""
    say("matching records that share no identifier")
    engine.materialize(rs.RAW_PLACES, rs.raw_places_sql())
    places = [(kind, raw) for kind, raw in rows_of(engine, rs.distinct_places_sql())]
    engine.register_arrow(rs.PLACES, place_table(places))
    records = engine.materialize(rs.RECORDS, rs.records_sql())
    engine.register_arrow(MATCHES, match_records(engine, rs.RECORDS, settings))
    engine.materialize(FIRST_LABELS, q.copy_sql(q.LABELS))
    pairs = engine.materialize(MATCH_PAIRS, match_pairs_sql(settings.threshold_upper))
    merged = engine.sql(f"SELECT count(*) AS n FROM {MATCH_PAIRS} WHERE decision = 'merge'").column(0)[0].as_py()
    engine.materialize(DETERMINISTIC_EDGES, q.copy_sql(q.EDGES))
    engine.materialize(q.EDGES, edges_with_matches_sql())
    rounds = connected_components(engine)
    engine.materialize(q.PROFILES, q.profiles_pipeline())
    return MatchStats(records, pairs, merged, pairs - merged, rounds)
