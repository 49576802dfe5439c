"""`c360 resolve`: the batch identity resolution over the whole lake, written to the store in one transaction.

Normalise, build the deterministic graph (c360.identity.graph, on the workspace's engine), assemble each profile's
traits by precedence, record what merged since the last run, queue held values for review, and replace the
store's identity tables. Rules that people made (unmerges, review decisions) are read first and honoured.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import Connection, Table, delete, insert, select

from c360.engines import Engine, open_engine
from c360.identity import graph_sql as q
from c360.identity import profiles_sql as ps
from c360.identity.graph import RULES_SCHEMA, GraphOptions, GraphStats, build_graph
from c360.identity.matching import MatchSettings
from c360.identity.normalize import Normalizer
from c360.identity.probabilistic import MatchStats, match_and_join, review_pairs_sql
from c360.identity.profile_assembly import Assembly, AssemblyOptions
from c360.lake import EVENT_SCHEMA
from c360.services.compaction import compact
from c360.settings import Settings
from c360.store import Database
from c360.store.bulk import insert_arrow
from c360.store.schema import (
    identity_edges,
    identity_evidence,
    identity_merges,
    identity_nodes,
    identity_profiles,
    identity_review,
    identity_rules,
)
from c360.store.types import utcnow
from c360.workspace import Workspace

log = logging.getLogger(__name__)

#: Rows per batch read from the engine and written to the store.
BATCH_ROWS = 20_000

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ResolveResult:
    graph: GraphStats
    matching: MatchStats | None
    profiles: int
    merges: int
    review_items: int
    seconds: float
    engine: str


def open_workspace_engine(settings: Settings) -> Engine:
    """The workspace's batch engine, configured from its settings."""
    if settings.engine == "duckdb":
        return open_engine("duckdb", threads=settings.duckdb_threads, memory_limit=settings.duckdb_memory_limit)
    return open_engine("spark", master=settings.spark_master)


def match_settings(settings: Settings) -> MatchSettings:
    return MatchSettings(
        threshold_upper=settings.match_threshold_upper,
        threshold_lower=settings.match_threshold_lower,
        max_pairs=settings.match_max_pairs,
        u_pairs=settings.match_u_pairs,
    )


def graph_options(settings: Settings) -> GraphOptions:
    return GraphOptions(normalizer=Normalizer.from_settings(settings), fanout_k=settings.identity_fanout_k)


def resolve(ws: Workspace, progress: Progress | None = None, *, engine: Engine | None = None) -> ResolveResult:
    """Resolve every event in the workspace (the log is compacted into the lake first)."""
    say = progress or (lambda _step: None)
    started = time.perf_counter()
    say("compacting the event log into the lake")
    compact(ws.log, ws.lake, batch_events=ws.settings.compaction_batch_events,
            default_currency=ws.settings.default_currency)  # fmt: skip
    own_engine = engine is None
    engine = engine or open_workspace_engine(ws.settings)
    try:
        engine.register_parquet(q.EVENTS, ws.lake.committed_files(), EVENT_SCHEMA)
        stats = build_graph(engine, graph_options(ws.settings), rules=read_rules(ws.store), progress=say)
        matched = match_and_join(engine, match_settings(ws.settings), say) if ws.settings.identity_matching else None
        say("assembling profiles")
        engine.materialize(ps.MESSAGE_PROFILES, ps.message_profiles_sql())
        engine.register_arrow(ps.OLD_NODES, read_old_nodes(ws.store))
        merges = engine.sql(ps.merges_sql(), max_rows=10_000_000).to_pylist()
        say("writing the identity map")
        now = utcnow()
        # The profiles' rows are started before the store's write transaction, which holds the store's write lock
        # (SQLite) until it commits: the messages' export and the workers' start-up need no lock.
        with (
            tempfile.TemporaryDirectory(prefix="c360-resolve-") as workdir,
            Assembly(
                engine, assembly_options(ws.settings, now), workers=ws.settings.resolve_workers, workdir=Path(workdir)
            ) as assembly,  # fmt: skip
            ws.store.write() as conn,
        ):
            profiles = write_results(conn, engine, assembly, merges, now)
            review = queue_held_values(conn, engine, now)
            if matched is not None:
                review += queue_matches(conn, engine, now)
        engine_name = engine.name
    finally:
        if own_engine:
            engine.close()
    result = ResolveResult(stats, matched, profiles, len(merges), review, time.perf_counter() - started, engine_name)
    log.info("resolve: %s", result)
    return result


def read_rules(store: Database) -> pa.Table:
    with store.read() as conn:
        rows = conn.execute(
            select(
                identity_rules.c.kind,
                identity_rules.c.a_type,
                identity_rules.c.a_value,
                identity_rules.c.b_type,
                identity_rules.c.b_value,
                identity_rules.c.reason,
                identity_rules.c.created_at,
            ).where(identity_rules.c.active.is_(True))
        ).all()
    return pa.Table.from_pylist([row._asdict() for row in rows], schema=RULES_SCHEMA)


def read_old_nodes(store: Database) -> pa.Table:
    """The previous run's identifier -> profile map, to tell which profiles merged since."""
    schema = pa.schema([("id_type", pa.string()), ("id_value", pa.string()), ("profile_id", pa.string())])
    batches: list[pa.RecordBatch] = []
    with store.read() as conn:
        result = conn.execution_options(yield_per=50_000).execute(
            select(identity_nodes.c.id_type, identity_nodes.c.id_value, identity_nodes.c.profile_id).where(
                identity_nodes.c.profile_id.is_not(None)
            )
        )
        for chunk in result.partitions():
            columns = list(zip(*chunk, strict=True)) if chunk else [(), (), ()]
            batches.append(pa.record_batch([pa.array(c, pa.string()) for c in columns], schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


def _copy(conn: Connection, engine: Engine, table: Table, sql: str) -> int:
    """The engine's rows of ``sql`` into ``table``, a batch at a time (the columns are named as the table's)."""
    return sum(insert_arrow(conn, table, batch) for batch in engine.iter_batches(sql, batch_rows=BATCH_ROWS))


def assembly_options(settings: Settings, now: dt.datetime) -> AssemblyOptions:
    return AssemblyOptions(
        tuple(settings.identity_source_priority), Normalizer.from_settings(settings), now.astimezone(dt.UTC)
    )


def write_results(
    conn: Connection, engine: Engine, assembly: Assembly, merges: list[dict[str, Any]], now: dt.datetime
) -> int:
    """Replace the store's nodes, edges and profiles with the engine's; append the merges. Returns profiles."""
    conn.execute(delete(identity_nodes))
    conn.execute(delete(identity_edges))  # manual edges come back from their `link` rules
    conn.execute(delete(identity_profiles))
    conn.execute(delete(identity_evidence))
    _copy(conn, engine, identity_evidence, ps.evidence_rows_sql())
    with _indexes_built_after(conn, identity_nodes, identity_edges):
        _copy(conn, engine, identity_nodes, ps.node_rows_sql())
        _copy(conn, engine, identity_edges, ps.edge_rows_sql())
    # The profiles' rows were assembled meanwhile, by other processes when there are many.
    written = sum(insert_arrow(conn, identity_profiles, batch) for batch in assembly.batches())
    if merges:
        conn.execute(
            insert(identity_merges),
            [
                {
                    "merged_at": now,
                    "survivor_id": m["survivor_id"],
                    "merged_id": m["merged_id"],
                    "run": "batch",
                    "evidence": orjson.dumps({"via": m["via"], "identifiers": m["identifiers"]}).decode(),
                }
                for m in merges
            ],
        )
    return written


@contextmanager
def _indexes_built_after(conn: Connection, *tables: Table) -> Iterator[None]:
    """On SQLite, the tables' secondary indexes (by profile) dropped for the block and built again after it: one
    sort instead of an insert at a random place of the index per row. Readers do not see it (WAL: they read the
    last commit). PostgreSQL keeps them: dropping one would lock the table against the API's reads until commit,
    and COPY keeps its indexes cheaply enough."""
    indexes = [index for table in tables for index in table.indexes] if conn.dialect.name == "sqlite" else []
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def queue_held_values(conn: Connection, engine: Engine, now: Any) -> int:
    """Held values wait for a person's decision; a value already queued (or decided) is not asked again."""
    known = set(conn.execute(select(identity_review.c.key).where(identity_review.c.kind == "held_value")).scalars())
    held = engine.sql(f"SELECT id_type, id_value, reason FROM {q.HELD} ORDER BY id_type, id_value", max_rows=10_000_000)
    rows = []
    for item in held.to_pylist():
        key = f"held_value:{item['id_type']}:{item['id_value']}"
        if key in known:
            continue
        rows.append(
            {
                "kind": "held_value",
                "key": key,
                "id_type": item["id_type"],
                "id_value": item["id_value"],
                "reason": item["reason"],
                "status": "open",
                "created_at": now,
            }
        )
    for chunk in _chunks(rows, BATCH_ROWS):
        conn.execute(insert(identity_review), chunk)
    return len(rows)


def queue_matches(conn: Connection, engine: Engine, now: Any) -> int:
    """Matches between the thresholds (or held back by a conflict) wait for a decision, once per pair of profiles."""
    known = set(conn.execute(select(identity_review.c.key).where(identity_review.c.kind == "match")).scalars())
    rows = []
    for pair in engine.sql(review_pairs_sql(), max_rows=10_000_000).to_pylist():
        key = f"match:{pair['left_profile_id']}:{pair['right_profile_id']}"
        if key in known:
            continue
        known.add(key)
        rows.append(
            {
                "kind": "match",
                "key": key,
                "left_profile_id": pair["left_profile_id"],
                "right_profile_id": pair["right_profile_id"],
                "match_probability": pair["match_probability"],
                "reason": pair["decision"],
                "evidence": pair["evidence"],
                "status": "open",
                "created_at": now,
            }
        )
    for chunk in _chunks(rows, BATCH_ROWS):
        conn.execute(insert(identity_review), chunk)
    return len(rows)
