"""The deterministic identity graph on a batch engine: the SQL of ``graph_sql`` run step by step.

The engine does the work; Python only normalises the distinct emails, phones and names (``normalize``) and
decides when label propagation has converged. Every step's result stays in the engine as a table, so the
resolver (``c360.services.identity``) reads nodes, edges and profiles from there in batches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from c360.domain.identifiers import BLOCKED_WORDS, names_compatible
from c360.engines import Engine
from c360.errors import EngineError
from c360.identity import graph_sql as q
from c360.identity.normalize import Normalizer, name_table

log = logging.getLogger(__name__)

RULES_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("a_type", pa.string()),
        ("a_value", pa.string()),
        ("b_type", pa.string()),
        ("b_value", pa.string()),
        ("reason", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)

#: Label propagation halves a chain's length each round with pointer jumping; 64 rounds is far beyond any graph.
MAX_ROUNDS = 64

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class GraphOptions:
    normalizer: Normalizer = field(default_factory=Normalizer)
    fanout_k: int = 3


@dataclass(frozen=True, slots=True)
class GraphStats:
    occurrences: int
    nodes: int
    held: int
    edges: int
    profiles: int
    rounds: int


def rows_of(engine: Engine, sql: str) -> Iterator[tuple[str, ...]]:
    """A query's rows as tuples, streamed."""
    for batch in engine.iter_batches(sql):
        columns = [column.to_pylist() for column in batch.columns]
        yield from zip(*columns, strict=True)


def build_graph(
    engine: Engine, options: GraphOptions, rules: pa.Table | None = None, progress: Progress | None = None
) -> GraphStats:
    """Build the graph over the engine's ``events`` table (registered by the caller); the results stay in the
    engine as ``graph_sql.NODES``, ``EDGES``, ``LABELS`` and ``PROFILES``."""
    say = progress or (lambda _step: None)
    say("reading identifiers")
    occurrences = engine.materialize(q.RAW_IDS, q.raw_ids_sql())
    engine.materialize(q.RAW_NAMES, q.raw_names_sql())

    say("normalising emails, phones and names")
    raws = [(kind, raw) for kind, raw in rows_of(engine, q.distinct_raw_sql())]
    engine.register_arrow(q.NORM, options.normalizer.table(raws))
    names = [name for (name,) in rows_of(engine, q.distinct_names_sql())]
    engine.register_arrow(q.NAMES, name_table(names))
    blocked = sorted(BLOCKED_WORDS | {value.strip().lower() for value in options.normalizer.blocked})
    engine.register_arrow(q.BLOCKED, pa.table({"value": pa.array(blocked, pa.string())}))
    engine.register_arrow(q.RULES, rules if rules is not None else RULES_SCHEMA.empty_table())
    engine.materialize(q.OCC, q.occurrences_sql())

    say("guarding against shared values")
    engine.materialize(q.VALUE_NAMES, q.value_names_sql())
    conflicting = [(a, b) for a, b in rows_of(engine, q.name_pairs_sql()) if not names_compatible(a, b)]
    engine.register_arrow(
        q.CONFLICTING,
        pa.table(
            [pa.array([a for a, _ in conflicting], pa.string()), pa.array([b for _, b in conflicting], pa.string())],
            names=["name_a", "name_b"],
        ),
    )
    held = engine.materialize(q.HELD, q.held_pipeline(options.fanout_k))
    edges = engine.materialize(q.EDGES, q.edges_pipeline())
    nodes = engine.materialize(q.NODES, q.nodes_pipeline())

    say("joining identifiers into profiles")
    rounds = connected_components(engine)
    profiles = engine.materialize(q.PROFILES, q.profiles_pipeline())
    stats = GraphStats(occurrences, nodes, held, edges, profiles, rounds)
    log.info("identity graph: %s", stats)
    return stats


def connected_components(engine: Engine) -> int:
    """Label every live node with the smallest node key of its component (``graph_sql.LABELS``); returns the
    number of rounds it took."""
    engine.materialize(q.LABELS, q.initial_labels_sql())
    for round_no in range(1, MAX_ROUNDS + 1):
        engine.materialize(q.STEP, q.propagate_sql())
        engine.materialize(q.NEXT, q.jump_sql())
        changed = engine.sql(q.changed_sql()).column(0)[0].as_py()
        engine.materialize(q.LABELS, q.copy_sql(q.NEXT))
        log.debug("connected components: round %d, %d labels changed", round_no, changed)
        if changed == 0:
            return round_no
    raise EngineError(f"connected components did not converge in {MAX_ROUNDS} rounds", engine=engine.name)
