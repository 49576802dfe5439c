"""The incremental path: the event processor stitches each arriving message into the identity map.

It keeps exactly what the batch graph (``graph_sql``) computes, so a batch run over all data and the processor
reach the same graph whatever order the messages came in (a test holds them to it):

- identifiers (``identity_nodes``) with their record count and first message;
- the guard's evidence (``identity_evidence``): stronger identifiers and names seen with each value;
- every pair of identifiers one message carried (``identity_edges``), live when neither end is held;
- profiles: connected components over live edges, named after their oldest message.

A message adds evidence and edges; a value that becomes held splits its profile (its edges stop joining); the
live identifiers of the message then join their profiles — the oldest survives, and the merge is recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, tuple_, update

from c360.domain.identifiers import names_compatible
from c360.domain.timestamps import from_micros
from c360.identity.extract import Extractor, MessageIdentity, Occurrence
from c360.identity.normalize import Normalizer
from c360.identity.profile_fields import profile_fields
from c360.identity.traits import Traits, parse_object, source_rank
from c360.store.prepared import Prepared
from c360.store.schema import (
    identity_edges,
    identity_evidence,
    identity_merges,
    identity_nodes,
    identity_profiles,
    identity_rules,
)
from c360.store.types import utcnow
from c360.store.upsert import PreparedUpsert

if TYPE_CHECKING:
    from c360.processor.processor import ProcessedEvent
    from c360.settings import Settings

#: Stronger identifiers the guard weighs, in the order its reason names them.
STRONG_KINDS = ("user_id", "email")

Key = tuple[str, str]


def profile_id_for(first_message_id: str) -> str:
    """A profile is named after its oldest message, as ``graph_sql.profiles_pipeline`` names it."""
    return "prof_" + hashlib.md5(first_message_id.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class StitchOptions:
    normalizer: Normalizer
    fanout_k: int = 3
    source_priority: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> StitchOptions:
        normalizer = Normalizer.from_settings(settings)
        return cls(normalizer, settings.identity_fanout_k, tuple(settings.identity_source_priority))


@dataclass(slots=True)
class _Rules:
    allowed: set[Key]
    blocked: dict[Key, str]
    never_link: dict[tuple[Key, Key], dt.datetime]  # both orientations -> when the rule was made

    def ruled(self, a: Key, b: Key) -> bool:
        return (a, b) in self.never_link

    def bans(self, keys: Sequence[Key], received_at: dt.datetime) -> bool:
        """A message received after an unmerge that carries both of its ends joins nothing."""
        return any(
            created < received_at
            for a, b in itertools.combinations(keys, 2)
            if (created := self.never_link.get((a, b))) is not None
        )


class IdentityHandler:
    """The processor's identity handler (see the module's docstring)."""

    name = "identity"

    def __init__(self, options: StitchOptions) -> None:
        self.options = options
        self.extract = Extractor(options.normalizer)

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        self.handle_batch(conn, [event])

    def handle_batch(self, conn: Connection, events: Sequence[ProcessedEvent]) -> None:
        rules = _read_rules(conn)
        working = WorkingSet(conn)
        identities = [self.extract(event.message) for event in events]
        # One read for the whole batch instead of one per message that brings an identifier the batch had not met.
        keys = {(o.id_type, o.id_value) for identity in identities for o in identity.occurrences}
        working.load(sorted(keys))
        pairs = {
            pair
            for identity in identities
            for pair in itertools.combinations([(o.id_type, o.id_value) for o in identity.occurrences], 2)
        }
        working.load_edges(sorted(pairs))
        working.load_profiles(
            sorted({row["profile_id"] for row in working.nodes.values() if row and row["profile_id"]})
        )
        for event, identity in zip(events, identities, strict=True):
            if identity.occurrences:
                _Stitch(conn, working, self.options, rules, event, identity).run()
        working.flush()


Pair = tuple[Key, Key]
#: Identifiers or pairs per read: well under SQLite's 32,766 bound parameters (a pair takes four).
LOAD_CHUNK = 2_000
_NODE_COLUMNS = ("profile_id", "source", "first_seen_at", "first_message_id", "records", "held_reason")
_EDGE_COLUMNS = ("profile_id", "kind", "live", "source", "message_id", "seen_at")

# The statements of every batch and every merge, built once (c360.store.prepared): building and compiling a Core
# statement costs SQLAlchemy several times what SQLite takes to run it, and merges are common (a visitor who logs
# in merges the anonymous profile into the known one).
_WRITE_NODES: Final = PreparedUpsert(identity_nodes, key=("id_type", "id_value"), update=_NODE_COLUMNS)
_WRITE_EDGES: Final = PreparedUpsert(
    identity_edges, key=("a_type", "a_value", "b_type", "b_value"), update=_EDGE_COLUMNS
)
_MOVE_NODES, _MOVE_EDGES = (
    Prepared(update(table).where(table.c.profile_id == bindparam("b_from")).values(profile_id=bindparam("b_to")))
    for table in (identity_nodes, identity_edges)
)
_DROP_PROFILE: Final = Prepared(
    delete(identity_profiles).where(identity_profiles.c.profile_id == bindparam("b_profile_id"))
)
_NEW_MERGE: Final = Prepared(insert(identity_merges))
#: One profile's row by its id (also the profile API's read, c360.services.profiles).
PROFILE_BY_ID: Final = Prepared(
    select(identity_profiles).where(identity_profiles.c.profile_id == bindparam("b_profile_id"))
)
_NEW_PROFILE: Final = Prepared(insert(identity_profiles))
_SET_PROFILE: Final = Prepared(
    update(identity_profiles).where(identity_profiles.c.profile_id == bindparam("b_profile_id"))
)


class WorkingSet:
    """The identifiers, evidence and edges one batch touches, read once and written back at the end: most
    messages only add a record to identifiers they share with the messages before them, so the common path costs
    no query. Merges and splits (rare) flush it and work in SQL, then start it afresh."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.nodes: dict[Key, dict[str, Any] | None] = {}
        self.evidence: dict[Key, dict[str, set[str]]] = {}
        self.edges: dict[Pair, dict[str, Any] | None] = {}
        self.profiles: dict[str, dict[str, Any] | None] = {}
        self.dirty_nodes: set[Key] = set()
        self.dirty_edges: set[Pair] = set()
        self.new_evidence: list[dict[str, str]] = []

    def load(self, keys: Sequence[Key]) -> None:
        missing = [key for key in keys if key not in self.nodes]
        for start in range(0, len(missing), LOAD_CHUNK):
            self._load(missing[start : start + LOAD_CHUNK])

    def _load(self, missing: Sequence[Key]) -> None:
        rows = {
            (r["id_type"], r["id_value"]): dict(r)
            for r in self.conn.execute(select(identity_nodes).where(_node_filter(missing))).mappings()
        }
        for key in missing:
            self.nodes[key] = rows.get(key)
            self.evidence[key] = {}
        for r in self.conn.execute(
            select(identity_evidence).where(
                tuple_(identity_evidence.c.id_type, identity_evidence.c.id_value).in_(missing)
            )
        ).mappings():
            self.evidence[(r["id_type"], r["id_value"])].setdefault(r["kind"], set()).add(r["value"])

    def load_edges(self, pairs: Sequence[Pair]) -> None:
        missing = [pair for pair in pairs if pair not in self.edges]
        for start in range(0, len(missing), LOAD_CHUNK):
            self._load_edges(missing[start : start + LOAD_CHUNK])

    def _load_edges(self, missing: Sequence[Pair]) -> None:
        columns = (identity_edges.c.a_type, identity_edges.c.a_value, identity_edges.c.b_type, identity_edges.c.b_value)
        rows = {
            ((r["a_type"], r["a_value"]), (r["b_type"], r["b_value"])): dict(r)
            for r in self.conn.execute(
                select(identity_edges).where(tuple_(*columns).in_([(a[0], a[1], b[0], b[1]) for a, b in missing]))
            ).mappings()
        }
        for pair in missing:
            self.edges[pair] = rows.get(pair)

    def load_profiles(self, profile_ids: Sequence[str]) -> None:
        missing = [pid for pid in profile_ids if pid not in self.profiles]
        for start in range(0, len(missing), LOAD_CHUNK):
            chunk = missing[start : start + LOAD_CHUNK]
            rows = {
                row["profile_id"]: dict(row)
                for row in self.conn.execute(
                    select(identity_profiles).where(identity_profiles.c.profile_id.in_(chunk))
                ).mappings()
            }
            for pid in chunk:
                self.profiles[pid] = rows.get(pid)

    def profile(self, profile_id: str) -> dict[str, Any] | None:
        if profile_id not in self.profiles:
            row = PROFILE_BY_ID.first(self.conn, {"b_profile_id": profile_id})
            self.profiles[profile_id] = None if row is None else row._mapping
        return self.profiles[profile_id]

    def flush(self) -> None:
        if self.dirty_nodes:
            rows = [self.nodes[key] for key in sorted(self.dirty_nodes)]
            _WRITE_NODES.many(self.conn, [row for row in rows if row is not None])
        if self.new_evidence:
            self.conn.execute(insert(identity_evidence), self.new_evidence)
        if self.dirty_edges:
            rows = [self.edges[pair] for pair in sorted(self.dirty_edges)]
            _WRITE_EDGES.many(self.conn, [row for row in rows if row is not None])
        self.dirty_nodes.clear()
        self.dirty_edges.clear()
        self.new_evidence = []

    def reset(self) -> None:
        """Write everything back and forget it: SQL is about to change rows behind the cache."""
        self.flush()
        self.nodes.clear()
        self.evidence.clear()
        self.edges.clear()
        self.profiles.clear()


def _read_rules(conn: Connection) -> _Rules:
    rules = _Rules(set(), {}, {})
    for row in conn.execute(select(identity_rules).where(identity_rules.c.active.is_(True))).mappings():
        a = (row["a_type"], row["a_value"])
        if row["kind"] == "allow_value":
            rules.allowed.add(a)
        elif row["kind"] == "block_value":
            rules.blocked[a] = row["reason"]
        elif row["kind"] == "never_link" and row["b_type"] is not None:
            b = (row["b_type"], row["b_value"])
            rules.never_link[(a, b)] = rules.never_link[(b, a)] = row["created_at"]
    return rules


def _node_filter(keys: Iterable[Key]) -> Any:
    return tuple_(identity_nodes.c.id_type, identity_nodes.c.id_value).in_(list(keys))


def _ordered(keys: Iterable[Key]) -> list[Key]:
    """Strongest first: the order the SQL gives a pair's ends (``a`` outranks ``b``)."""
    return sorted(keys, key=lambda key: (Occurrence(*key).rank, key[1]))


class _Stitch:
    """One message applied to the identity map, inside the processor's transaction."""

    def __init__(
        self,
        conn: Connection,
        working: WorkingSet,
        options: StitchOptions,
        rules: _Rules,
        event: ProcessedEvent,
        identity: MessageIdentity,
    ) -> None:
        self.conn = conn
        self.working = working
        self.options = options
        self.rules = rules
        self.event = event
        self.identity = identity
        self.message_id = str(event.message.get("messageId"))
        self.ts = event.timestamp
        self.keys: list[Key] = [(o.id_type, o.id_value) for o in identity.occurrences]

    def run(self) -> None:
        working = self.working
        working.load(self.keys)
        self._count_nodes()
        self._add_evidence()
        newly_held, newly_live = self._update_held()
        if newly_held or newly_live:
            working.reset()
            for key in newly_held:
                self._hold(key)
            working.reset()
            working.load(self.keys)
        live = [key for key in self.keys if self._node(key)["held_reason"] is None]
        for key in newly_live:
            live += [k for k in self._live_neighbours(key) if k not in live]
            working.load(live)
        for group in self._groups(live):
            self._join(group, rejoined=bool(newly_live))
        self._add_edges()
        if live:
            profile = self._node(live[0])["profile_id"]
            if profile is not None:
                self._offer_traits(profile)

    def _groups(self, live: list[Key]) -> list[list[Key]]:
        """The live identifiers this message joins: all of them, unless an unmerge's rule stands between some
        (a message received after the rule that carries both its ends joins none of them)."""
        rules = self.rules
        if not rules.never_link:
            return [live] if live else []
        if rules.bans(self.keys, from_micros(self.event.raw.received_us)):
            return [[key] for key in live]
        return components(live, [(a, b) for a, b in itertools.combinations(live, 2) if not rules.ruled(a, b)])

    def _node(self, key: Key) -> dict[str, Any]:
        row = self.working.nodes[key]
        assert row is not None, f"identifier {key} is not loaded"
        return row

    # -- the identifiers -----------------------------------------------------------------------------------------

    def _count_nodes(self) -> None:
        working, ts, message_id = self.working, self.ts, self.message_id
        for key in self.keys:
            row = working.nodes[key]
            if row is None:
                working.nodes[key] = {
                    "id_type": key[0],
                    "id_value": key[1],
                    "profile_id": None,
                    "source": self.event.source,
                    "first_seen_at": ts,
                    "first_message_id": message_id,
                    "records": 1,
                    "held_reason": None,
                }
            else:
                row["records"] += 1
                if (ts, message_id) < (row["first_seen_at"], row["first_message_id"]):
                    row |= {"first_seen_at": ts, "first_message_id": message_id, "source": self.event.source}
            working.dirty_nodes.add(key)

    def _add_evidence(self) -> None:
        identity, working = self.identity, self.working
        for o in identity.occurrences:
            key = (o.id_type, o.id_value)
            offered: list[tuple[str, str]] = [
                (s.id_type, s.id_value)
                for s in identity.occurrences
                if s.rank < o.rank and s.id_type in ("user_id", "email")
            ]
            if identity.name_key is not None and o.rank > 0:
                offered.append(("name", identity.name_key))
            known = working.evidence[key]
            for kind, value in offered:
                values = known.setdefault(kind, set())
                if value not in values:
                    values.add(value)
                    working.new_evidence.append({"id_type": key[0], "id_value": key[1], "kind": kind, "value": value})

    # -- the guard -------------------------------------------------------------------------------------------------

    def _update_held(self) -> tuple[list[Key], list[Key]]:
        newly_held: list[Key] = []
        newly_live: list[Key] = []
        for key in self.keys:
            row = self._node(key)
            old = row["held_reason"]
            new = self._reason(key, row["records"])
            if new != old:
                row["held_reason"] = new
                if old is None:
                    newly_held.append(key)
                elif new is None:
                    newly_live.append(key)
        return newly_held, newly_live

    def _reason(self, key: Key, records: int) -> str | None:
        evidence = self.working.evidence[key]
        guard = None
        for kind in STRONG_KINDS:
            if len(evidence.get(kind, ())) > 1:
                guard = f"conflict: carried with {len(evidence[kind])} different {kind}s"
                break
        if guard is None and records > self.options.fanout_k:
            names = sorted(evidence.get("name", ()))
            if any(not names_compatible(a, b) for a, b in itertools.combinations(names, 2)):
                guard = f"fan-out: on {records} records with clearly different names"
        if guard is not None:
            return None if key in self.rules.allowed else guard
        if key in self.rules.blocked:
            return f"blocked by a rule: {self.rules.blocked[key]}"
        return None

    def _hold(self, key: Key) -> None:
        """A value now held stops joining: its profile is rebuilt without its edges (it may fall apart)."""
        row = self.conn.execute(select(identity_nodes.c.profile_id).where(_node_filter([key]))).first()
        profile_id = None if row is None else row.profile_id
        self.conn.execute(update(identity_nodes).where(_node_filter([key])).values(profile_id=None))
        self.conn.execute(
            update(identity_edges)
            .where(
                or_(
                    and_(identity_edges.c.a_type == key[0], identity_edges.c.a_value == key[1]),
                    and_(identity_edges.c.b_type == key[0], identity_edges.c.b_value == key[1]),
                )
            )
            .values(live=False)
        )
        if profile_id is not None:
            self._split(profile_id, reason=f"{key[0]}:{key[1]} held")

    def _live_neighbours(self, key: Key) -> list[Key]:
        out: list[Key] = []
        for column_type, column_value, other_type, other_value in (
            (identity_edges.c.a_type, identity_edges.c.a_value, identity_edges.c.b_type, identity_edges.c.b_value),
            (identity_edges.c.b_type, identity_edges.c.b_value, identity_edges.c.a_type, identity_edges.c.a_value),
        ):
            rows = self.conn.execute(
                select(other_type, other_value, identity_nodes.c.held_reason)
                .join(identity_nodes, and_(identity_nodes.c.id_type == other_type,
                                           identity_nodes.c.id_value == other_value))
                .where(column_type == key[0], column_value == key[1])
            ).all()  # fmt: skip
            out += [(t, v) for t, v, held in rows if held is None]
        return out

    # -- profiles ----------------------------------------------------------------------------------------------------

    def _join(self, live: list[Key], *, rejoined: bool) -> str | None:
        """Put the live identifiers in one profile: the oldest survives; the others merge into it."""
        if not live:
            return None
        working = self.working
        rows = [self._node(key) for key in live]
        profiles = sorted({r["profile_id"] for r in rows if r["profile_id"] is not None})
        oldest = min((r["first_seen_at"], r["first_message_id"]) for r in rows)
        existing = [p for p in (working.profile(pid) for pid in profiles) if p is not None]
        if existing:
            oldest = min(oldest, *((p["first_seen_at"], p["first_message_id"]) for p in existing))
        target = profile_id_for(oldest[1])
        if len(existing) == 1 and existing[0]["profile_id"] == target and not rejoined:
            # The common case: known identifiers of one profile, perhaps with new ones.
            for row in rows:
                if row["profile_id"] != target:
                    row["profile_id"] = target
                    working.dirty_nodes.add((row["id_type"], row["id_value"]))
            return target
        if not existing and not rejoined:
            for row in rows:
                row["profile_id"] = target
                working.dirty_nodes.add((row["id_type"], row["id_value"]))
            self._save_profile(target, oldest, Traits(), utcnow())
            return target
        return self._merge(live, existing, target, oldest)

    def _merge(self, live: list[Key], existing: list[dict[str, Any]], target: str, oldest: tuple[Any, str]) -> str:
        """Move every identifier and edge of the other profiles to ``target``, in SQL (profiles can be large) and
        in the working set alike, so the batch goes on without reading them again.

        The working set is not written back first: its rows are what the batch's last write-back will store, and
        they move to ``target`` here too, so whether the SQL below reaches them (stored) or not (new) is moot."""
        conn, working = self.conn, self.working
        traits = Traits()
        for profile in existing:
            traits.absorb(Traits.from_json(profile["traits"], profile["trait_sources"]))
        now = utcnow()
        moved: set[str] = set()
        for profile in existing:
            if profile["profile_id"] == target:
                continue
            old = profile["profile_id"]
            moved.add(old)
            _MOVE_NODES.execute(conn, {"b_from": old, "b_to": target})
            _MOVE_EDGES.execute(conn, {"b_from": old, "b_to": target})
            _DROP_PROFILE.execute(conn, {"b_profile_id": old})
            working.profiles.pop(old, None)
            evidence = {"via": self.message_id, "identifiers": [f"{t}:{v}" for t, v in live]}
            _NEW_MERGE.execute(
                conn,
                {
                    "merged_at": now, "survivor_id": target, "merged_id": old, "run": "incremental",
                    "evidence": orjson.dumps(evidence).decode(),
                },
            )  # fmt: skip
        for row in working.nodes.values():
            if row is not None and row["profile_id"] in moved:
                row["profile_id"] = target
        for edge in working.edges.values():
            if edge is not None and edge["profile_id"] in moved:
                edge["profile_id"] = target
        for key in live:
            self._node(key)["profile_id"] = target
            working.dirty_nodes.add(key)
        ordered = _ordered(live)
        pairs = list(itertools.combinations(ordered, 2))
        working.load_edges(pairs)
        for pair in pairs:
            edge = working.edges[pair]
            joins = not self.rules.ruled(*pair)
            if edge is not None and (edge["live"] != joins or edge["profile_id"] != target):
                edge |= {"live": joins, "profile_id": target}
                working.dirty_edges.add(pair)
        self._save_profile(target, oldest, traits, now)
        return target

    def _add_edges(self) -> None:
        keys = self.keys
        if self.rules.bans(keys, from_micros(self.event.raw.received_us)):
            return
        working = self.working
        pairs = list(itertools.combinations(keys, 2))  # keys are strongest first, as the SQL orders a pair
        working.load_edges(pairs)
        for a, b in pairs:
            edge = working.edges[(a, b)]
            if edge is None:
                live_a = self._node(a)["held_reason"] is None
                live_b = self._node(b)["held_reason"] is None
                working.edges[(a, b)] = {
                    "a_type": a[0], "a_value": a[1], "b_type": b[0], "b_value": b[1],
                    "profile_id": self._node(a)["profile_id"] or self._node(b)["profile_id"], "kind": "deterministic",
                    "live": live_a and live_b and not self.rules.ruled(a, b),
                    "source": self.event.source, "message_id": self.message_id,
                    "seen_at": self.ts, "match_probability": None, "evidence": None,
                }  # fmt: skip
            elif (self.ts, self.message_id) < (edge["seen_at"], edge["message_id"]):
                edge |= {"source": self.event.source, "message_id": self.message_id, "seen_at": self.ts}
            else:
                continue
            working.dirty_edges.add((a, b))

    def _save_profile(self, profile_id: str, oldest: tuple[dt.datetime, str], traits: Traits, now: dt.datetime) -> None:
        save_profile(self.conn, self.working, profile_id, oldest, traits, now, normalizer=self.options.normalizer)

    def _split(self, profile_id: str, *, reason: str) -> None:
        split_profile(self.conn, self.working, profile_id, reason=reason, via=self.message_id,
                      normalizer=self.options.normalizer)  # fmt: skip

    def _offer_traits(self, profile_id: str) -> None:
        message = self.event.message
        context = message.get("context")
        traits = parse_object_value(message.get("traits"))
        context_traits = parse_object_value(context.get("traits") if isinstance(context, dict) else None)
        if not traits and not context_traits:
            return
        profile = self.working.profile(profile_id)
        if profile is None:
            return
        current = Traits.from_json(profile["traits"], profile["trait_sources"])
        changed = current.offer_message(
            traits,
            context_traits,
            source_rank=source_rank(self.event.source, self.options.source_priority),
            ts_us=self.event.raw.timestamp_us,
            message_id=self.message_id,
        )
        if changed:
            self._save_profile(profile_id, (profile["first_seen_at"], profile["first_message_id"]), current, utcnow())


def save_profile(
    conn: Connection,
    working: WorkingSet,
    profile_id: str,
    oldest: tuple[dt.datetime, str],
    traits: Traits,
    now: dt.datetime,
    *,
    normalizer: Normalizer,
) -> None:
    fields = profile_fields(traits, normalizer)
    row = {"first_seen_at": oldest[0], "first_message_id": oldest[1], "updated_at": now, **fields}
    if working.profile(profile_id) is None:
        _NEW_PROFILE.execute(conn, {"profile_id": profile_id, **row})
    else:
        _SET_PROFILE.execute(conn, {"b_profile_id": profile_id, **row})
    working.profiles[profile_id] = {"profile_id": profile_id, **row}


def components(keys: list[Key], pairs: Iterable[tuple[Key, Key]]) -> list[list[Key]]:
    """The connected components of ``keys`` under ``pairs`` (union-find), each in the order of ``keys``."""
    parent = {key: key for key in keys}

    def find(key: Key) -> Key:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[Key, list[Key]] = {}
    for key in keys:
        groups.setdefault(find(key), []).append(key)
    return list(groups.values())


def split_profile(
    conn: Connection, working: WorkingSet, profile_id: str, *, reason: str, via: str, normalizer: Normalizer
) -> list[str]:
    """Rebuild one profile's components over its live edges (after a value was held, or an unmerge cut edges);
    returns the profiles it became. Each part keeps the profile's traits until a batch run rebuilds them."""
    working.flush()
    profile = working.profile(profile_id)
    members = {
        (r.id_type, r.id_value): (r.first_seen_at, r.first_message_id)
        for r in conn.execute(
            select(identity_nodes.c.id_type, identity_nodes.c.id_value, identity_nodes.c.first_seen_at,
                   identity_nodes.c.first_message_id).where(identity_nodes.c.profile_id == profile_id)
        )
    }  # fmt: skip
    live_edges = [
        ((e.a_type, e.a_value), (e.b_type, e.b_value))
        for e in conn.execute(
            select(identity_edges.c.a_type, identity_edges.c.a_value, identity_edges.c.b_type,
                   identity_edges.c.b_value)
            .where(identity_edges.c.profile_id == profile_id, identity_edges.c.live.is_(True))
        )
    ]  # fmt: skip
    parts = components(list(members), [(a, b) for a, b in live_edges if a in members and b in members])
    part_of = {key: profile_id_for(min(members[k] for k in keys)[1]) for keys in parts for key in keys}
    traits = Traits.from_json(profile["traits"], profile["trait_sources"]) if profile is not None else Traits()
    conn.execute(delete(identity_profiles).where(identity_profiles.c.profile_id == profile_id))
    working.profiles[profile_id] = None
    now = utcnow()
    for keys in parts:
        oldest = min(members[key] for key in keys)
        new_id = part_of[keys[0]]
        conn.execute(update(identity_nodes).where(_node_filter(keys)).values(profile_id=new_id))
        for key in keys:
            row = working.nodes.get(key)
            if row is not None:
                row["profile_id"] = new_id
        part_traits = Traits(dict(traits.values), dict(traits.ranks))
        save_profile(conn, working, new_id, oldest, part_traits, now, normalizer=normalizer)
        if new_id != profile_id:
            conn.execute(
                insert(identity_merges).values(
                    merged_at=now, survivor_id=new_id, merged_id=profile_id, run="incremental",
                    evidence=orjson.dumps({"split": reason, "via": via}).decode(),
                )
            )  # fmt: skip
    for e in conn.execute(
        select(identity_edges.c.a_type, identity_edges.c.a_value, identity_edges.c.b_type, identity_edges.c.b_value)
        .where(identity_edges.c.profile_id == profile_id)
    ).all():  # fmt: skip
        a, b = (e.a_type, e.a_value), (e.b_type, e.b_value)
        owner = a if a in members else b if b in members else None
        new_profile = part_of[owner] if owner is not None else None
        conn.execute(
            update(identity_edges)
            .where(identity_edges.c.a_type == a[0], identity_edges.c.a_value == a[1],
                   identity_edges.c.b_type == b[0], identity_edges.c.b_value == b[1])
            .values(profile_id=new_profile)
        )  # fmt: skip
        cached = working.edges.get((a, b))
        if cached is not None:
            cached["profile_id"] = new_profile
    return sorted(set(part_of.values()))


def parse_object_value(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return parse_object(value)
    return {}


__all__ = ["IdentityHandler", "Occurrence", "StitchOptions", "profile_id_for"]
