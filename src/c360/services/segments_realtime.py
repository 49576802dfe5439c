"""Real-time segment membership in the event processor, and the outbox of entries and exits.

After identity has stitched a batch, the handler records the events that real-time counters count, then decides
the real-time segments (c360.segments.realtime) for every profile the batch touched and for the survivors of the
merges it made, and writes who entered and who left -- inside the processor's transaction, so a restart applies
nothing twice. Events are mapped to profiles as the batch build maps them (userId, else anonymousId), and a count
reads the identity map when it runs, so a merge needs no rewrite and a later batch build finds the same members.
Exits that come only from time passing (an order ageing out of "within 30 days") are the batch build's job.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from c360.lake.convert import order_fields
from c360.segments import realtime as rt
from c360.segments.compile import property_conditions
from c360.segments.computed import ComputedTrait
from c360.segments.definition import Definition
from c360.store.schema import (
    computed_traits,
    identity_merges,
    identity_nodes,
    identity_profiles,
    meta,
    segment_builds,
    segment_changes,
    segment_event_times,
    segment_memberships,
    segments,
)
from c360.store.types import utcnow

if TYPE_CHECKING:
    from c360.processor.processor import ProcessedEvent

log = logging.getLogger(__name__)

MERGES_SEEN = "segments.realtime.merges_seen"
_ANONYMOUS_TYPES = ("anonymous_id", "external_id")


@dataclass(frozen=True)
class Rules:
    """The real-time definitions in force and the counters they need."""

    definitions: dict[str, Definition]
    counters: dict[str, rt.Counter]
    version: tuple[Any, ...]


def insert_ignore(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows``, skipping those whose primary key is there already (events seen twice count once)."""
    if not rows:
        return
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), list(rows))


def profile_of(conn: Connection, user_id: str | None, anonymous_id: str | None) -> str | None:
    """The profile an event belongs to, as the batch build maps it: its userId's, else its anonymousId's."""
    if user_id is not None:
        found = conn.execute(
            select(identity_nodes.c.profile_id).where(
                identity_nodes.c.id_type == "user_id",
                identity_nodes.c.id_value == user_id,
                identity_nodes.c.profile_id.is_not(None),
            )
        ).scalar()
        if found is not None:
            return str(found)
    if anonymous_id is not None:
        found = conn.execute(
            select(func.min(identity_nodes.c.profile_id)).where(
                identity_nodes.c.id_type.in_(_ANONYMOUS_TYPES),
                identity_nodes.c.id_value == anonymous_id,
                identity_nodes.c.profile_id.is_not(None),
            )
        ).scalar()
        if found is not None:
            return str(found)
    return None


def count_events(conn: Connection, key: str, profile_id: str, start: dt.datetime | None, end: dt.datetime) -> int:
    """Events of counter ``key`` that belong to ``profile_id`` now, with ``start <= ts <= end``."""
    t, n = segment_event_times, identity_nodes
    users = select(n.c.id_value).where(n.c.id_type == "user_id", n.c.profile_id == profile_id)
    anonymous = select(n.c.id_value).where(n.c.id_type.in_(_ANONYMOUS_TYPES), n.c.profile_id == profile_id)
    user_elsewhere = exists().where(n.c.id_type == "user_id", n.c.id_value == t.c.user_id, n.c.profile_id.is_not(None))
    mine = or_(t.c.user_id.in_(users), and_(t.c.anonymous_id.in_(anonymous), ~user_elsewhere))
    query = select(func.count()).where(t.c.key == key, t.c.ts <= end, mine)
    if start is not None:
        query = query.where(t.c.ts >= start)
    return int(conn.execute(query).scalar_one())


def write_changes(
    conn: Connection, segment: str, entered: Iterable[str], exited: Iterable[str], at: dt.datetime, origin: str
) -> None:
    """Record entries and exits in the membership history and the outbox."""
    entered, exited = list(entered), list(exited)
    if entered:
        conn.execute(insert(segment_memberships), [{"segment": segment, "profile_id": p, "entered_at": at}
                                                   for p in entered])  # fmt: skip
    if exited:
        # One statement for every exit (a build may close thousands of stays at once).
        close = (
            update(segment_memberships)
            .where(
                segment_memberships.c.segment == segment,
                segment_memberships.c.profile_id == bindparam("pid"),
                segment_memberships.c.exited_at.is_(None),
            )
            .values(exited_at=at)
        )
        conn.execute(close, [{"pid": p} for p in exited])
    changes = [("entered", p) for p in entered] + [("exited", p) for p in exited]
    if changes:
        conn.execute(
            insert(segment_changes),
            [{"segment": segment, "profile_id": p, "change": c, "at": at, "origin": origin} for c, p in changes],
        )


def json_instant(value: dt.datetime) -> str:
    """An instant as the build writes it into computed traits."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def incremental(traits: Sequence[ComputedTrait]) -> list[ComputedTrait]:
    """The computed traits an arriving event can update: counts, sums, first and last times."""
    return [t for t in traits if t.kind == "aggregate" and t.aggregate in ("count", "sum", "first_at", "last_at")]


class TraitUpdater:
    """Adds an arriving event to the profile's computed traits where the aggregate allows it, and recomputes the
    ratios and day counts built on them. Windowed counts only grow here; what ages out leaves at the next build."""

    def __init__(self, traits: Sequence[ComputedTrait], zone: zoneinfo.ZoneInfo, default_currency: str) -> None:
        self.traits = list(traits)
        self.updated = incremental(traits)
        #: the event names these traits add up (None: every track event)
        self.events: frozenset[str | None] = frozenset(t.event for t in self.updated)
        self.where = {t.name: property_conditions(t) for t in self.updated}
        self.zone = zone
        self.default_currency = default_currency

    def _applies(self, trait: ComputedTrait, message: Mapping[str, Any], at: dt.datetime, now: dt.datetime) -> bool:
        if trait.event is not None and (message.get("type") != "track" or message.get("event") != trait.event):
            return False
        if at > now or (trait.within_days is not None and at < now - dt.timedelta(days=trait.within_days)):
            return False
        properties = message.get("properties") if isinstance(message.get("properties"), dict) else None
        return all(rt.passes(rt.json_value(properties, c.property, c.test.value_type), c.test)
                   for c in self.where[trait.name])  # fmt: skip

    def _amount(self, trait: ComputedTrait, message: Mapping[str, Any]) -> float | int | None:
        if trait.column == "amount_minor":
            _order, amount, currency = order_fields(message, self.default_currency)
            return amount if currency == self.default_currency else None  # as the build: one currency adds up
        properties = message.get("properties") if isinstance(message.get("properties"), dict) else None
        value = rt.json_value(properties, trait.property or "", "number")
        return None if value is None else float(value)

    def apply(self, conn: Connection, profile_id: str, events: Sequence[ProcessedEvent], now: dt.datetime) -> None:
        row = conn.execute(select(computed_traits.c.traits).where(computed_traits.c.profile_id == profile_id)).first()
        doc: dict[str, Any] = orjson.loads(row[0]) if row else {}
        before = dict(doc)
        for event in events:
            message, at = event.message, event.timestamp
            for trait in self.updated:
                if not self._applies(trait, message, at, now):
                    continue
                if trait.aggregate == "count":
                    doc[trait.name] = int(doc.get(trait.name) or 0) + 1
                elif trait.aggregate == "sum":
                    amount = self._amount(trait, message)
                    if amount is not None:
                        total = (doc.get(trait.name) or 0) + amount
                        doc[trait.name] = total if trait.column == "amount_minor" else round(float(total), 6)
                    else:
                        doc.setdefault(trait.name, 0)
                else:
                    current = doc.get(trait.name)
                    stamp = json_instant(at)
                    known = dt.datetime.fromisoformat(current.replace("Z", "+00:00")) if current else None
                    if known is None or (at < known if trait.aggregate == "first_at" else at > known):
                        doc[trait.name] = stamp
        if doc == before:
            return
        self._derive(doc, now)
        text = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
        if row is None:
            conn.execute(insert(computed_traits).values(profile_id=profile_id, traits=text, computed_at=now))
        else:
            conn.execute(update(computed_traits).where(computed_traits.c.profile_id == profile_id)
                         .values(traits=text, computed_at=now))  # fmt: skip

    def _derive(self, doc: dict[str, Any], now: dt.datetime) -> None:
        today = now.astimezone(self.zone).date()
        for trait in self.traits:
            if trait.kind == "ratio":
                num, den = doc.get(trait.numerator or ""), doc.get(trait.denominator or "")
                if num is not None and den:
                    doc[trait.name] = round(float(num) / float(den), 6)
            elif trait.kind == "days_since" and doc.get(trait.trait or ""):
                last = dt.datetime.fromisoformat(str(doc[trait.trait or ""]).replace("Z", "+00:00"))
                doc[trait.name] = (today - last.astimezone(self.zone).date()).days


class SegmentsHandler:
    """Decides real-time segments per event batch (after the identity handler) and adds the batch's events to the
    computed traits that allow it."""

    name = "segments"

    def __init__(
        self,
        load: Callable[[], Sequence[Definition]],
        zone: str,
        clock: Callable[[], dt.datetime] = utcnow,
        *,
        traits: Sequence[ComputedTrait] = (),
        default_currency: str = "VND",
    ) -> None:
        self._load = load
        self.zone = zoneinfo.ZoneInfo(zone)
        self.clock = clock
        self._rules: Rules | None = None
        self.traits = TraitUpdater(traits, self.zone, default_currency)
        self._built = False

    def rules(self, conn: Connection) -> Rules:
        """The rules, loaded again when a segment was saved or deleted since."""
        version = tuple(conn.execute(select(func.count(), func.max(segments.c.updated_at))).one())
        if self._rules is None or self._rules.version != version:
            every = list(self._load())
            names = rt.realtime_names(every)
            chosen = [d for d in every if d.name in names]
            self._rules = Rules({d.name: d for d in chosen}, rt.counters(chosen), version)
            log.info("real-time segments: %s", ", ".join(sorted(names)) or "none")
        return self._rules

    def handle(self, conn: Connection, event: ProcessedEvent) -> None:
        self.handle_batch(conn, [event])

    def _traits_live(self, conn: Connection) -> bool:
        """Computed traits are kept current once a build has made them (before that, nobody reads them)."""
        if not self.traits.updated:
            return False
        if not self._built:
            self._built = conn.execute(select(segment_builds.c.id).limit(1)).first() is not None
        return self._built

    def handle_batch(self, conn: Connection, events: Sequence[ProcessedEvent]) -> None:
        rules = self.rules(conn)
        traits_live = self._traits_live(conn)
        if not rules.definitions and not traits_live:
            return
        now = self.clock()
        trait_events = self.traits.events if traits_live else frozenset()
        rows: list[dict[str, Any]] = []
        touched: set[str] = set()
        by_profile: dict[str, list[ProcessedEvent]] = {}
        for event in events:
            message = event.message
            name = message.get("event") if event.type == "track" else None
            properties = message.get("properties")
            properties = properties if isinstance(properties, dict) else None
            user_id, anonymous_id = _text(message.get("userId")), _text(message.get("anonymousId"))
            counted = False
            for key, counter in rules.counters.items():
                if counter.matches(name, properties):
                    counted = True
                    rows.append({"key": key, "message_id": event.raw.message_id, "user_id": user_id,
                                 "anonymous_id": anonymous_id, "ts": event.timestamp})  # fmt: skip
            # Only events that can change a decision or a trait are looked up: traits change with identify (and
            # traits in context), counts with the events they count.
            context = message.get("context")
            changes_traits = event.type == "identify" or (isinstance(context, dict) and bool(context.get("traits")))
            decides = bool(rules.definitions) and (counted or changes_traits)
            adds = name in trait_events or (None in trait_events and event.type == "track")
            if not (decides or adds):
                continue
            profile_id = profile_of(conn, user_id, anonymous_id)
            if profile_id is None:
                continue
            if decides:
                touched.add(profile_id)
            if adds:
                by_profile.setdefault(profile_id, []).append(event)
        insert_ignore(conn, segment_event_times, rows)
        for profile_id, mine in sorted(by_profile.items()):
            self.traits.apply(conn, profile_id, mine, now)
        if not rules.definitions:
            return
        touched |= self._follow_merges(conn, rules, now)
        for profile_id in sorted(touched):
            self.decide(conn, rules, profile_id, now)

    def _follow_merges(self, conn: Connection, rules: Rules, now: dt.datetime) -> set[str]:
        """Profiles merged away leave their real-time segments; survivors are decided again."""
        seen = conn.execute(select(meta.c.value).where(meta.c.key == MERGES_SEEN)).scalar()
        query = select(identity_merges.c.id, identity_merges.c.survivor_id, identity_merges.c.merged_id)
        if seen is not None:
            query = query.where(identity_merges.c.id > int(seen))
        merges = conn.execute(query.order_by(identity_merges.c.id)).all()
        if not merges:
            return set()
        survivors: set[str] = set()
        for _id, survivor, merged in merges:
            survivors.add(survivor)
            gone = conn.execute(select(identity_profiles.c.profile_id).where(
                identity_profiles.c.profile_id == merged)).first() is None  # fmt: skip
            if gone:
                for segment in self._current(conn, rules, merged):
                    write_changes(conn, segment, [], [merged], now, "realtime")
        insert_ignore(conn, meta, [{"key": MERGES_SEEN, "value": "0"}])
        conn.execute(update(meta).where(meta.c.key == MERGES_SEEN).values(value=str(merges[-1][0])))
        return {s for s in survivors if conn.execute(select(identity_profiles.c.profile_id).where(
            identity_profiles.c.profile_id == s)).first() is not None}  # fmt: skip

    @staticmethod
    def _current(conn: Connection, rules: Rules, profile_id: str) -> set[str]:
        query = select(segment_memberships.c.segment).where(
            segment_memberships.c.profile_id == profile_id,
            segment_memberships.c.exited_at.is_(None),
            segment_memberships.c.segment.in_(list(rules.definitions)),
        )
        return set(conn.execute(query).scalars())

    def decide(self, conn: Connection, rules: Rules, profile_id: str, now: dt.datetime) -> None:
        doc = conn.execute(
            select(identity_profiles.c.traits).where(identity_profiles.c.profile_id == profile_id)
        ).scalar()
        traits = orjson.loads(doc) if doc else {}
        cache: dict[tuple[str, dt.datetime | None, dt.datetime], int] = {}

        def count(key: str, start: dt.datetime | None, end: dt.datetime) -> int:
            if (key, start, end) not in cache:
                cache[key, start, end] = count_events(conn, key, profile_id, start, end)
            return cache[key, start, end]

        facts = rt.Facts(traits, count, now, self.zone)
        inside = {name for name in rules.definitions if rt.decide(rules.definitions, name, facts)}
        before = self._current(conn, rules, profile_id)
        for name in sorted(inside - before):
            write_changes(conn, name, [profile_id], [], now, "realtime")
        for name in sorted(before - inside):
            write_changes(conn, name, [], [profile_id], now, "realtime")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)
