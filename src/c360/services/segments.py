"""Segments and computed traits of a workspace: save definitions, build on the engine, read members, explain.

The build (``build``) runs the compiled SQL (c360.segments.compile) on the workspace's engine over the lake, the
identity map and the profiles; it writes the computed traits as Parquet (what previews and explanations read
afterwards) and into the store, and records who entered and who left each segment. Only changes are written, so a
second build of unchanged data writes nothing but its own row.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, text, update

from c360.engines import Engine
from c360.errors import InvalidInput, NotFound
from c360.lake import EVENT_SCHEMA
from c360.segments import catalog as cat
from c360.segments import compile as sc
from c360.segments import realtime as rt
from c360.segments import rfm
from c360.segments.computed import DEFAULT_TRAITS, ComputedTrait, parse_traits
from c360.segments.definition import (
    AllOf,
    AnyOf,
    Catalog,
    Definition,
    DefinitionError,
    EventCondition,
    LoyaltyCondition,
    Node,
    NotOf,
    SegmentCondition,
    TraitCondition,
    leaves,
    parse_definition,
)
from c360.services.compaction import compact
from c360.services.identity import open_workspace_engine
from c360.services.segments_realtime import insert_ignore, json_instant, write_changes
from c360.store.prepared import Prepared
from c360.store.schema import (
    computed_traits,
    identity_nodes,
    identity_profiles,
    loyalty_members,
    segment_builds,
    segment_event_times,
    segment_memberships,
    segments,
)
from c360.store.types import utcnow
from c360.workspace import Workspace
from c360.yamlfile import read_yaml

log = logging.getLogger(__name__)

TRAITS_FILE = "traits.yaml"
#: Names a segment cannot take: they are paths of the API beside /v1/segments/{name}.
RESERVED_NAMES = frozenset({"preview", "overlap", "rfm", "catalog", "build", "profile_id"})
BATCH_ROWS = 5_000
#: Events read from the newest lake files to learn the event catalog.
CATALOG_SAMPLE = 200_000

Progress = Callable[[str], None]
#: How many steps ``build`` reports to its progress callback.
BUILD_STEPS = 5


# -- definitions ----------------------------------------------------------------------------------------------------


def _traits_file(ws: Workspace) -> Any:
    path = ws.path / TRAITS_FILE
    if not path.exists():
        return None
    return read_yaml(path, InvalidInput)


def load_traits(ws: Workspace) -> tuple[ComputedTrait, ...]:
    """The default computed traits plus the workspace's ``traits.yaml``, if it has one."""
    data = _traits_file(ws)
    return DEFAULT_TRAITS if data is None else parse_traits(data)


def load_rfm(ws: Workspace) -> rfm.RfmSettings:
    """How RFM is computed: the ``rfm:`` part of ``traits.yaml``, or the defaults (365 days, order totals)."""
    data = _traits_file(ws)
    return rfm.parse_rfm(data.get("rfm") if isinstance(data, dict) else None)


def ready_made() -> list[Definition]:
    """One segment per RFM group (``rfm_champions`` ...), which a build always makes."""
    names = {g.name for g in rfm.GROUPS}
    catalog = Catalog(computed={"rfm_group": "string"})
    out = []
    for group in rfm.GROUPS:
        data = {
            "name": rfm.SEGMENT_PREFIX + group.slug,
            "title": f"RFM: {group.name}",
            "description": f"Scored {group.rule} (see docs/segments.md, RFM)",
            "where": {"trait": "rfm_group", "op": "=", "value": group.name},
        }
        out.append(parse_definition(data, catalog))
    assert len(names) == len(out)
    return out


def _sample_events(ws: Workspace) -> Iterator[tuple[str | None, str | None]]:
    read = 0
    for path in reversed(ws.lake.committed_files()):
        table = pq.read_table(path, columns=["event", "properties"])
        names, docs = table.column("event").to_pylist(), table.column("properties").to_pylist()
        yield from zip(names, docs, strict=True)
        read += table.num_rows
        if read >= CATALOG_SAMPLE:
            return


def catalog(ws: Workspace, traits: Sequence[ComputedTrait] | None = None, *, exclude: str | None = None) -> Catalog:
    """What definitions in this workspace may name (``exclude``: a segment being rewritten)."""
    traits = load_traits(ws) if traits is None else traits
    with ws.store.read() as conn:
        docs = conn.execute(select(identity_profiles.c.traits).limit(20_000)).scalars().all()
        saved = set(conn.execute(select(segments.c.name)).scalars())
    computed = {t.name: t.value_type for t in traits}
    computed.update({c: ("string" if c == "rfm_group" else "number") for c in sc.RFM_COLUMNS})
    names = (saved | {d.name for d in ready_made()}) - ({exclude} if exclude else set())
    return Catalog(cat.trait_types(docs), computed, cat.event_types(_sample_events(ws)), frozenset(names))


def _saved(conn: Connection) -> dict[str, dict[str, Any]]:
    rows = conn.execute(select(segments).order_by(segments.c.name)).mappings()
    return {r["name"]: dict(r) for r in rows}


def _used_types(definition: Definition, catalog_: Catalog) -> dict[str, Any]:
    """The types of the profile traits and event properties ``definition`` names."""
    traits: dict[str, str] = {}
    events: dict[str, dict[str, str]] = {}
    for leaf in leaves(definition.where):
        if isinstance(leaf, TraitCondition) and not leaf.computed:
            traits[leaf.trait] = leaf.test.value_type
        elif isinstance(leaf, EventCondition):
            props = events.setdefault(leaf.event, {})
            for condition in leaf.where:
                props[condition.property] = condition.test.value_type
            if leaf.property is not None:
                props[leaf.property] = "number"
            since = leaf.window.since_trait
            if since is not None and not leaf.window.since_computed:
                traits[since] = catalog_.traits[since]
    return {"traits": traits, "events": events}


def definitions(
    ws: Workspace, traits: Sequence[ComputedTrait] | None = None, *, strict: bool = True
) -> list[Definition]:
    """Every segment a build makes: the ready-made RFM ones and the saved ones, read with the types they were
    saved with (and the computed traits declared now). A saved one that no longer reads (it names a computed trait
    taken out of traits.yaml) is an error naming it, or with ``strict`` off (the event processor, which must not
    stall) left out with a warning."""
    traits = load_traits(ws) if traits is None else traits
    with ws.store.read() as conn:
        saved = _saved(conn)
    computed = {t.name: t.value_type for t in traits}
    computed.update({c: ("string" if c == "rfm_group" else "number") for c in sc.RFM_COLUMNS})
    names = frozenset(saved) | {d.name for d in ready_made()}
    out = ready_made()
    for name, row in saved.items():
        types = orjson.loads(row["types"])
        catalog_ = Catalog(types["traits"], computed, types["events"], names)
        try:
            out.append(parse_definition(orjson.loads(row["definition"]), catalog_, name=name))
        except DefinitionError as exc:
            if strict:
                raise InvalidInput(f"segment {name!r} no longer reads: {exc.message}", field="name") from None
            log.warning("segment %s left out: %s", name, exc.message)
    return out


def _check_no_cycle(ws: Workspace, definition: Definition) -> None:
    # The definition being written first, so that a cycle is reported at its own condition.
    others = [d for d in definitions(ws) if d.name != definition.name]
    sc.Plan(utcnow(), ws.settings.timezone, (), [definition, *others], compute_traits=False)


def save(ws: Workspace, data: Any, *, name: str | None = None, replace: bool = False) -> dict[str, Any]:
    """Check and save a definition; ``replace``: it must exist (an update), else it must not (a create)."""
    catalog_ = catalog(ws, exclude=name if replace else None)
    definition = parse_definition(data, catalog_, name=name)
    if definition.name.startswith(rfm.SEGMENT_PREFIX):
        raise DefinitionError(f"names starting with {rfm.SEGMENT_PREFIX} are the ready-made RFM segments", "name")
    if definition.name in RESERVED_NAMES:
        raise DefinitionError(f"{definition.name!r} is reserved (an API path under /v1/segments, or a column)", "name")
    _check_no_cycle(ws, definition)
    now = utcnow()
    row = {
        "title": definition.title,
        "description": definition.description,
        "definition": orjson.dumps(definition.source).decode(),
        "types": orjson.dumps(_used_types(definition, catalog_)).decode(),
        "updated_at": now,
    }
    with ws.store.write() as conn:
        exists = conn.execute(select(segments.c.name).where(segments.c.name == definition.name)).first()
        if replace and exists is None:
            raise NotFound(f"no segment {definition.name!r}")
        if not replace and exists is not None:
            raise InvalidInput(f"segment {definition.name!r} exists; update it instead", field="name")
        if replace:
            conn.execute(update(segments).where(segments.c.name == definition.name).values(**row))
        else:
            conn.execute(insert(segments).values(name=definition.name, created_at=now, **row))
    return get(ws, definition.name)


def delete_segment(ws: Workspace, name: str) -> None:
    """Delete a saved segment; refused while another segment refers to it. Its membership history goes too."""
    with ws.store.write() as conn:
        if conn.execute(select(segments.c.name).where(segments.c.name == name)).first() is None:
            raise NotFound(f"no segment {name!r}")
        for other, row in _saved(conn).items():
            if other != name and f'"segment":"{name}"' in row["definition"]:
                raise InvalidInput(f"segment {other!r} refers to {name!r}; change it first", field="name")
        conn.execute(delete(segments).where(segments.c.name == name))
        conn.execute(delete(segment_memberships).where(segment_memberships.c.segment == name))


def _member_count(conn: Connection, name: str) -> int:
    query = select(func.count()).where(segment_memberships.c.segment == name, segment_memberships.c.exited_at.is_(None))
    return int(conn.execute(query).scalar_one())


def get(ws: Workspace, name: str) -> dict[str, Any]:
    with ws.store.read() as conn:
        row = conn.execute(select(segments).where(segments.c.name == name)).mappings().first()
        if row is None:
            made = {d.name: d for d in ready_made()}.get(name)
            if made is None:
                raise NotFound(f"no segment {name!r}")
            return {"name": name, "title": made.title, "description": made.description, "ready_made": True,
                    "definition": dict(made.source), "members": _member_count(conn, name)}  # fmt: skip
        return {
            "name": name,
            "title": row["title"],
            "description": row["description"],
            "ready_made": False,
            "definition": orjson.loads(row["definition"]),
            "members": _member_count(conn, name),
            "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat(),
        }


def list_segments(ws: Workspace) -> list[dict[str, Any]]:
    with ws.store.read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                select(segment_memberships.c.segment, func.count())
                .where(segment_memberships.c.exited_at.is_(None))
                .group_by(segment_memberships.c.segment)
            ).all()
        )
        saved = _saved(conn)
    out = [{"name": d.name, "title": d.title, "ready_made": True, "members": counts.get(d.name, 0)}
           for d in ready_made()]  # fmt: skip
    out += [
        {"name": n, "title": r["title"], "ready_made": False, "members": counts.get(n, 0)} for n, r in saved.items()
    ]
    return out


# -- the engine's inputs --------------------------------------------------------------------------------------------


def _arrow(conn: Connection, query: Any, schema: pa.Schema) -> pa.Table:
    rows = conn.execute(query).all()
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.table([pa.array(list(c), f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


IDENTITY_SCHEMA = pa.schema([("id_type", pa.string()), ("id_value", pa.string()), ("profile_id", pa.string())])
PROFILE_SCHEMA = pa.schema([("profile_id", pa.string()), ("traits", pa.string())])
LOYALTY_SCHEMA = pa.schema(
    [("profile_id", pa.string()), ("loyalty_tier", pa.string()), ("loyalty_points", pa.int64()),
     ("loyalty_pending", pa.int64())]
)  # fmt: skip


def register_inputs(engine: Engine, ws: Workspace) -> int:
    """Register the lake, the identity map, the profiles and the loyalty members; returns the profile count."""
    engine.register_parquet(sc.EVENTS, ws.lake.committed_files(), EVENT_SCHEMA)
    with ws.store.read() as conn:
        ids = _arrow(
            conn,
            select(identity_nodes.c.id_type, identity_nodes.c.id_value, identity_nodes.c.profile_id).where(
                identity_nodes.c.profile_id.is_not(None),
                identity_nodes.c.id_type.in_(("user_id", "anonymous_id", "external_id")),
            ),
            IDENTITY_SCHEMA,
        )
        profiles = _arrow(conn, select(identity_profiles.c.profile_id, identity_profiles.c.traits), PROFILE_SCHEMA)
        loyalty = _arrow(
            conn,
            select(
                loyalty_members.c.profile_id,
                loyalty_members.c.tier,
                loyalty_members.c.active,
                loyalty_members.c.pending,
            ).where(loyalty_members.c.status == "active"),
            LOYALTY_SCHEMA,
        )
    engine.register_arrow(sc.IDENTITIES, ids)
    engine.register_arrow(sc.PROFILES, profiles)
    engine.register_arrow(sc.LOYALTY, loyalty)
    return int(profiles.num_rows)


def places(engine: Engine, traits: Sequence[ComputedTrait]) -> dict[str, str]:
    """The province names of the registered profiles, as ``province`` computed traits read them."""
    sql = sc.Plan(utcnow(), "UTC", traits, (), rfm=None).places_sql()
    if sql is None:
        return {}
    return sc.province_names(engine.sql(sql, max_rows=1_000_000).column("raw").to_pylist())


def _latest_build(conn: Connection) -> Mapping[str, Any] | None:
    query = select(segment_builds).order_by(segment_builds.c.id.desc()).limit(1)
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def _register_saved(engine: Engine, ws: Workspace) -> bool:
    """Register the last build's computed traits as SAVED; False when there is no build yet."""
    with ws.store.read() as conn:
        latest = _latest_build(conn)
    if latest is None:
        return False
    path = Path(latest["computed_path"])
    files = sorted(path.glob("*.parquet"))
    if not files:
        return False
    engine.register_parquet(sc.SAVED, files, pq.read_schema(files[0]))
    return True


# -- the build ------------------------------------------------------------------------------------------------------


@dataclass
class BuildResult:
    as_of: dt.datetime
    engine: str
    profiles: int
    segments: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> members, entered, exited
    traits_written: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "engine": self.engine, "profiles": self.profiles,
                "segments": self.segments, "traits_written": self.traits_written,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}  # fmt: skip


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return json_instant(value)
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def _trait_docs(batch: pa.RecordBatch, names: Sequence[str]) -> Iterator[tuple[str, str]]:
    columns = [batch.column(n).to_pylist() for n in names]
    for i, profile_id in enumerate(batch.column("profile_id").to_pylist()):
        doc = {n: _json_value(col[i]) for n, col in zip(names, columns, strict=True) if col[i] is not None}
        yield profile_id, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()


def _write_traits(conn: Connection, engine: Engine, names: Sequence[str], now: dt.datetime) -> int:
    """Write the computed traits that changed since the last build; returns the rows written."""
    old = dict(conn.execute(select(computed_traits.c.profile_id, computed_traits.c.traits)).all())
    written = 0
    fresh: set[str] = set()
    query = f"SELECT profile_id, {', '.join(sc.column(n) for n in names)} FROM {sc.COMPUTED}"
    for batch in engine.iter_batches(query, batch_rows=BATCH_ROWS):
        inserts, updates = [], []
        for profile_id, doc in _trait_docs(batch, names):
            fresh.add(profile_id)
            before = old.get(profile_id)
            if before is None:
                inserts.append({"profile_id": profile_id, "traits": doc, "computed_at": now})
            elif before != doc:
                updates.append({"pid": profile_id, "traits": doc, "computed_at": now})
        if inserts:
            conn.execute(insert(computed_traits), inserts)
        if updates:
            stmt = (
                update(computed_traits)
                .where(computed_traits.c.profile_id == bindparam("pid"))
                .values(traits=bindparam("traits"), computed_at=bindparam("computed_at"))
            )
            conn.execute(stmt, updates)
        written += len(inserts) + len(updates)
    gone = [p for p in old if p not in fresh]
    for start in range(0, len(gone), BATCH_ROWS):
        conn.execute(delete(computed_traits).where(computed_traits.c.profile_id.in_(gone[start : start + BATCH_ROWS])))
    return written + len(gone)


CURRENT = "seg_current"
CURRENT_SCHEMA = pa.schema([("segment", pa.string()), ("profile_id", pa.string())])


def _changes_sql(names: Sequence[str]) -> str:
    """Who entered (in now, not before) and who left (before, not now), per segment, over MEMBERS and CURRENT."""
    now = "\nUNION ALL\n".join(
        f"SELECT '{n}' AS segment, profile_id FROM {sc.MEMBERS} WHERE {sc.column(n)}" for n in names
    )
    return f"""
        SELECT coalesce(n.segment, c.segment) AS segment, coalesce(n.profile_id, c.profile_id) AS profile_id,
               CASE WHEN c.profile_id IS NULL THEN 'entered' ELSE 'exited' END AS change
        FROM ({now}) n
        FULL OUTER JOIN {CURRENT} c ON c.segment = n.segment AND c.profile_id = n.profile_id
        WHERE n.profile_id IS NULL OR c.profile_id IS NULL
    """


def _write_memberships(conn: Connection, engine: Engine, names: Sequence[str], now: dt.datetime) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {n: {"entered": 0, "exited": 0} for n in names}
    for batch in engine.iter_batches(_changes_sql(names), batch_rows=BATCH_ROWS):
        by_segment: dict[str, dict[str, list[str]]] = {}
        for r in batch.to_pylist():
            by_segment.setdefault(r["segment"], {"entered": [], "exited": []})[r["change"]].append(r["profile_id"])
        for segment, change in by_segment.items():
            write_changes(conn, segment, change["entered"], change["exited"], now, "build")
            counts[segment]["entered"] += len(change["entered"])
            counts[segment]["exited"] += len(change["exited"])
    return counts


def _counted_events_sql(plan: sc.Plan, key: str, counter: rt.Counter, since: dt.datetime | None) -> str:
    where = plan.event_filter_sql(counter.event, counter.where)
    if since is not None:
        where += f' AND "timestamp" >= {sc.literal(since)}'
    return f"""SELECT '{key}' AS key, message_id, user_id, anonymous_id, "timestamp" AS ts
               FROM {sc.EVENTS} WHERE {where}"""


def _write_event_times(conn: Connection, engine: Engine, plan: sc.Plan, defs: Sequence[Definition]) -> int:
    """Give the real-time counters the events of the lake they count (so the stream goes on from history), and
    forget those older than any condition looks back."""
    chosen = [d for d in defs if d.name in rt.realtime_names(defs)]
    written = 0
    for key, counter in rt.counters(chosen).items():
        days = rt.longest_window(chosen, key)
        since = None if days is None else plan.as_of - dt.timedelta(days=days)
        for batch in engine.iter_batches(_counted_events_sql(plan, key, counter, since), batch_rows=BATCH_ROWS):
            insert_ignore(conn, segment_event_times, batch.to_pylist())
            written += batch.num_rows
        if since is not None:
            conn.execute(delete(segment_event_times).where(segment_event_times.c.key == key,
                                                           segment_event_times.c.ts < since))  # fmt: skip
    return written


def _lock_builds(conn: Connection) -> None:
    """Serialise builds: SQLite's write transaction already does; PostgreSQL takes a transaction advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('c360.segments.build'))"))


def _current_members(conn: Connection) -> pa.Table:
    query = select(segment_memberships.c.segment, segment_memberships.c.profile_id).where(
        segment_memberships.c.exited_at.is_(None)
    )
    return _arrow(conn, query, CURRENT_SCHEMA)


def build(
    ws: Workspace, *, as_of: dt.datetime | None = None, engine: Engine | None = None, progress: Progress | None = None
) -> BuildResult:
    """Compute every computed trait, the RFM scores and every segment; write what changed to the store."""
    say = progress or (lambda _step: None)
    started_at = utcnow()
    as_of = as_of or started_at
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    say("compacting the event log into the lake")
    compact(ws.log, ws.lake, batch_events=ws.settings.compaction_batch_events,
            default_currency=ws.settings.default_currency)  # fmt: skip
    traits = load_traits(ws)
    defs = definitions(ws, traits)
    own = engine is None
    engine = engine or open_workspace_engine(ws.settings)
    try:
        profiles = register_inputs(engine, ws)
        plan = sc.Plan(as_of, ws.settings.timezone, traits, defs, places=places(engine, traits),
                       currency=ws.settings.default_currency, rfm=load_rfm(ws))  # fmt: skip
        lap("inputs")
        steps = {sc.FEATURES: "computing event features", sc.COMPUTED: "computing traits and RFM",
                 sc.MEMBERS: "evaluating segments"}  # fmt: skip
        for table, query in plan.tables():
            if table in steps:
                say(steps[table])
            engine.materialize(table, query)
        lap("compute")
        folder = ws.path / "segments" / "computed" / started_at.strftime("%Y%m%dT%H%M%S%fZ")
        folder.parent.mkdir(parents=True, exist_ok=True)
        names = plan.trait_columns()
        engine.to_parquet(f"SELECT profile_id, {', '.join(sc.column(n) for n in names)} FROM {sc.COMPUTED}", folder)
        lap("parquet")
        say("writing computed traits and memberships")
        now = utcnow()
        result = BuildResult(as_of, engine.name, profiles)
        with ws.store.write() as conn:
            # Two builds at once would both see the same members and both record the same entries: the second
            # waits here, then reads the members the first one wrote.
            _lock_builds(conn)
            engine.register_arrow(CURRENT, _current_members(conn))
            result.traits_written = _write_traits(conn, engine, names, now)
            changes = _write_memberships(conn, engine, [d.name for d in defs], now)
            _write_event_times(conn, engine, plan, defs)
            for d in defs:
                changes[d.name]["members"] = _member_count(conn, d.name)
            result.segments = changes
            lap("store")
            result.seconds = seconds
            conn.execute(
                insert(segment_builds).values(
                    started_at=started_at, finished_at=utcnow(), as_of=as_of, engine=engine.name,
                    profiles=profiles, computed_path=str(folder),
                    summary=orjson.dumps(result.as_dict()).decode(),
                )
            )  # fmt: skip
    finally:
        if own:
            engine.close()
    log.info("segments build: %s", result.as_dict())
    return result


# -- previews, members, overlap, explanations -----------------------------------------------------------------------


def _draft_plan(ws: Workspace, draft: Definition, others: Sequence[Definition], engine: Engine,
                profile_id: str | None = None, as_of: dt.datetime | None = None) -> sc.Plan:  # fmt: skip
    """A plan for ``draft`` (and the segments it names) that reads the last build's traits when there is one."""
    wanted = {draft.name}
    by_name = {d.name: d for d in others}
    queue = list(draft.segments_used())
    while queue:
        name = queue.pop()
        if name not in wanted and name in by_name:
            wanted.add(name)
            queue.extend(by_name[name].segments_used())
    defs = [draft, *(d for d in others if d.name in wanted and d.name != draft.name)]
    register_inputs(engine, ws)
    saved = _register_saved(engine, ws)
    traits = load_traits(ws)
    found = {} if saved else places(engine, traits)
    if as_of is None:
        # With the last build's traits, its instant too: events counted "within 30 days" of when the traits
        # were computed, so an explanation agrees with the membership it explains.
        with ws.store.read() as conn:
            latest = _latest_build(conn)
        as_of = latest["as_of"] if saved and latest is not None else utcnow()
    return sc.Plan(as_of, ws.settings.timezone, traits, defs, compute_traits=not saved, profile_id=profile_id,
                   places=found, currency=ws.settings.default_currency, rfm=load_rfm(ws))  # fmt: skip


def _materialize(engine: Engine, plan: sc.Plan) -> None:
    for table, query in plan.tables():
        engine.materialize(table, query)


def preview(
    ws: Workspace, data: Any, *, engine: Engine | None = None, as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """How many profiles a draft definition holds, without saving it: as of the last build (whose computed traits
    it reads), or ``as_of``, or now when nothing was built yet."""
    draft = parse_definition({**data, "name": data.get("name") or "draft"} if isinstance(data, Mapping) else data,
                             catalog(ws))  # fmt: skip
    own = engine is None
    engine = engine or open_workspace_engine(ws.settings)
    try:
        plan = _draft_plan(ws, draft, definitions(ws), engine, as_of=as_of)
        _materialize(engine, plan)
        row = engine.sql(
            f"SELECT count(*) AS profiles, count(*) FILTER (WHERE {plan.condition_sql(draft.name)}) AS size "
            f"FROM {sc.COMPUTED}"
        ).to_pylist()[0]
    finally:
        if own:
            engine.close()
    return {"size": int(row["size"]), "profiles": int(row["profiles"]), "as_of": plan.as_of.isoformat()}


def _known(conn: Connection, name: str) -> None:
    if name.startswith(rfm.SEGMENT_PREFIX) and name in {d.name for d in ready_made()}:
        return
    if conn.execute(select(segments.c.name).where(segments.c.name == name)).first() is None:
        raise NotFound(f"no segment {name!r}")


def members(ws: Workspace, name: str, *, limit: int = 100, after: str | None = None) -> dict[str, Any]:
    """The current members, by profile id, ``limit`` at a time after profile id ``after``."""
    if not 1 <= limit <= 1000:
        raise InvalidInput("must be from 1 to 1000", field="limit")
    m, p = segment_memberships, identity_profiles
    with ws.store.read() as conn:
        _known(conn, name)
        query = (
            select(m.c.profile_id, m.c.entered_at, p.c.name, p.c.email, p.c.phone)
            .select_from(m.outerjoin(p, p.c.profile_id == m.c.profile_id))
            .where(m.c.segment == name, m.c.exited_at.is_(None))
            .order_by(m.c.profile_id)
            .limit(limit + 1)
        )
        if after:
            query = query.where(m.c.profile_id > after)
        rows = conn.execute(query).mappings().all()
        total = _member_count(conn, name)
    page = [{**dict(r), "entered_at": r["entered_at"].isoformat()} for r in rows[:limit]]
    more = len(rows) > limit
    return {"segment": name, "total": total, "members": page, "next": page[-1]["profile_id"] if more else None}


def write_members_csv(ws: Workspace, name: str, out: TextIO) -> int:
    """Every current member as CSV (profile_id, name, email, phone, entered_at); returns the row count."""
    with ws.store.read() as conn:
        _known(conn, name)  # before the header: an unknown segment writes nothing
    writer = csv.writer(out)
    writer.writerow(["profile_id", "name", "email", "phone", "entered_at"])
    after: str | None = None
    written = 0
    while True:
        page = members(ws, name, limit=1000, after=after)
        for r in page["members"]:
            writer.writerow([r["profile_id"], r["name"] or "", r["email"] or "", r["phone"] or "", r["entered_at"]])
        written += len(page["members"])
        after = page["next"]
        if after is None:
            return written


def overlap(ws: Workspace, a: str, b: str) -> dict[str, Any]:
    """How many current members two segments share."""
    m = segment_memberships
    with ws.store.read() as conn:
        _known(conn, a)
        _known(conn, b)
        other = m.alias("other")
        both = conn.execute(
            select(func.count())
            .select_from(
                m.join(
                    other, and_(other.c.profile_id == m.c.profile_id, other.c.segment == b, other.c.exited_at.is_(None))
                )
            )
            .where(m.c.segment == a, m.c.exited_at.is_(None))
        ).scalar_one()
        size_a, size_b = _member_count(conn, a), _member_count(conn, b)
    return {"a": a, "b": b, "a_size": size_a, "b_size": size_b, "both": int(both),
            "only_a": size_a - int(both), "only_b": size_b - int(both)}  # fmt: skip


def history(ws: Workspace, profile_id: str) -> list[dict[str, Any]]:
    """The profile's stays in segments, newest first."""
    m = segment_memberships
    with ws.store.read() as conn:
        rows = conn.execute(
            select(m.c.segment, m.c.entered_at, m.c.exited_at)
            .where(m.c.profile_id == profile_id)
            .order_by(m.c.entered_at.desc(), m.c.id.desc())
        ).all()
    return [{"segment": s, "entered_at": e.isoformat(), "exited_at": x.isoformat() if x else None} for s, e, x in rows]


# A profile lookup, the API's hottest read, runs both: prepared (c360.store.prepared).
_COMPUTED_OF: Final = Prepared(
    select(computed_traits.c.traits, computed_traits.c.computed_at).where(
        computed_traits.c.profile_id == bindparam("b_profile_id")
    )
)
_SEGMENTS_OF: Final = Prepared(
    select(segment_memberships.c.segment)
    .where(segment_memberships.c.profile_id == bindparam("b_profile_id"), segment_memberships.c.exited_at.is_(None))
    .order_by(segment_memberships.c.segment)
)


def profile_view(conn: Connection, profile_id: str) -> dict[str, Any]:
    """The computed traits and current segments of one profile, for the unified profile."""
    traits = _COMPUTED_OF.first(conn, {"b_profile_id": profile_id})
    names = [row[0] for row in _SEGMENTS_OF.rows(conn, {"b_profile_id": profile_id})]
    return {
        "computed_traits": orjson.loads(traits[0]) if traits else {},
        "computed_at": traits[1].isoformat() if traits else None,
        "segments": list(names),
    }


def _describe(node: Node) -> str:
    if isinstance(node, AllOf):
        return "all of"
    if isinstance(node, AnyOf):
        return "any of"
    if isinstance(node, NotOf):
        return "not"
    if isinstance(node, SegmentCondition):
        return f"in segment {node.segment}"
    if isinstance(node, TraitCondition):
        value = "" if node.test.value is None else f" {_show(node.test.value)}"
        return f"trait {node.trait} {node.test.op}{value}"
    if isinstance(node, LoyaltyCondition):
        return f"loyalty {node.field} {node.test.op} {_show(node.test.value)}"
    assert isinstance(node, EventCondition)
    window = node.window
    when = (f" within {window.within_days} days" if window.within_days else
            f" between {window.between[0]} and {window.between[1]}" if window.between else
            f" since {window.since_trait}" if window.since_trait else "")  # fmt: skip
    where = "".join(f" where {c.property} {c.test.op} {_show(c.test.value)}" for c in node.where)
    if node.measure == "count":
        return f"{node.event}{where} {node.test.op} {node.test.value} times{when}"
    if node.measure in ("first", "last"):
        return f"{node.measure} {node.event}{where}{when}"
    return f"{node.measure} of {node.property} of {node.event}{where}{when} {node.test.op} {_show(node.test.value)}"


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def explain(
    ws: Workspace, name: str, profile_id: str, *, engine: Engine | None = None, as_of: dt.datetime | None = None
) -> dict[str, Any]:
    """Why a profile is in or out of a segment, condition by condition, with the values that decided: as of the
    last build (whose computed traits it reads), or ``as_of``."""
    from c360.services.profiles import current_profile_id

    with ws.store.read() as conn:
        current = current_profile_id(conn, profile_id)
        if current is None:
            raise NotFound(f"no profile {profile_id!r}")
        stored = conn.execute(
            select(segment_memberships.c.entered_at).where(
                segment_memberships.c.segment == name, segment_memberships.c.profile_id == current,
                segment_memberships.c.exited_at.is_(None))
        ).first()  # fmt: skip
    defs = definitions(ws)
    target = next((d for d in defs if d.name == name), None)
    if target is None:
        raise NotFound(f"no segment {name!r}")
    own = engine is None
    engine = engine or open_workspace_engine(ws.settings)
    try:
        plan = _draft_plan(ws, target, defs, engine, profile_id=current, as_of=as_of)
        _materialize(engine, plan)
        paths = plan.leaf_paths(name)
        columns = [plan.condition_sql(name) + " AS c_root"]
        for i, path in enumerate(paths):
            test, observed = plan.leaf_sql(name, path)
            columns += [f"{test} AS t{i}", f"CAST({observed} AS VARCHAR) AS v{i}"]
        rows = engine.sql(f"SELECT {', '.join(columns)} FROM {sc.COMPUTED}").to_pylist()
    finally:
        if own:
            engine.close()
    if not rows:
        raise NotFound(f"no profile {profile_id!r} in the last build's data")
    row = rows[0]
    results = {path: (bool(row[f"t{i}"]), row[f"v{i}"]) for i, path in enumerate(paths)}

    def walk(node: Node) -> dict[str, Any]:
        if isinstance(node, AllOf | AnyOf):
            children = [walk(c) for c in node.children]
            ok = all(c["met"] for c in children) if isinstance(node, AllOf) else any(c["met"] for c in children)
            return {"path": node.path, "condition": _describe(node), "met": ok, "children": children}
        if isinstance(node, NotOf):
            child = walk(node.child)
            return {"path": node.path, "condition": "not", "met": not child["met"], "children": [child]}
        met, observed = results[node.path]
        return {"path": node.path, "condition": _describe(node), "met": met, "observed": observed}

    tree = walk(target.where)
    return {
        "segment": name,
        "profile_id": current,
        "as_of": plan.as_of.isoformat(),
        "member": bool(row["c_root"]),
        "member_since_last_build": stored is not None,
        "explanation": tree,
        "conditions": [leaf.path for leaf in leaves(target.where)],
    }


def rfm_grid(ws: Workspace) -> dict[str, Any]:
    """Counts and value per RFM group, and the R x F grid of counts, as of the last build."""
    groups: dict[str, dict[str, Any]] = {
        g.name: {"group": g.name, "rule": g.rule, "profiles": 0, "monetary": 0} for g in rfm.GROUPS
    }
    grid = [[0] * 5 for _ in range(5)]  # grid[r - 1][f - 1]
    scored = 0
    with ws.store.read() as conn:
        for (doc,) in conn.execute(select(computed_traits.c.traits)):
            traits = orjson.loads(doc)
            group = traits.get("rfm_group")
            if group is None:
                continue
            scored += 1
            groups[group]["profiles"] += 1
            groups[group]["monetary"] += int(traits.get("rfm_monetary") or 0)
            grid[int(traits["rfm_r"]) - 1][int(traits["rfm_f"]) - 1] += 1
        latest = _latest_build(conn)
    return {
        "as_of": latest["as_of"].isoformat() if latest else None,
        "scored": scored,
        "groups": list(groups.values()),
        "grid": {"rows": "recency 1-5", "columns": "frequency 1-5", "counts": grid},
        "currency": ws.settings.default_currency,
    }


def describe_catalog(ws: Workspace) -> dict[str, Any]:
    """What definitions may name: traits, computed traits, events with their properties, segments."""
    found = catalog(ws)
    return {
        "traits": dict(sorted(found.traits.items())),
        "computed_traits": dict(found.computed),
        "events": cat.describe(found.events),
        "segments": sorted(found.segments),
    }


EXAMPLES = Path(__file__).resolve().parent.parent / "segments" / "examples.yaml"


def write_example_segments(ws: Workspace) -> list[str]:
    """Save the shipped example segments that are not there yet; returns the names saved."""
    items = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    with ws.store.read() as conn:
        saved = set(conn.execute(select(segments.c.name)).scalars())
    written = []
    for item in items:
        if item["name"] not in saved:
            save(ws, item)
            written.append(item["name"])
    return written
