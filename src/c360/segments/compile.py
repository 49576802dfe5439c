"""Computed traits, RFM and segment definitions compiled to portable SQL (one text for DuckDB and Spark).

The build reads four registered tables -- the lake's ``events``, the identity map (``IDENTITIES``: id_type,
id_value, profile_id), the profiles (``PROFILES``: profile_id, first_seen_at, traits JSON) and the loyalty members
(``LOYALTY``) -- and makes three:

1. ``FEATURES``: one scan of the events, grouped by profile, with every count / sum / avg / min / max / first /
   last that a computed trait, RFM or a segment's event condition needs, each one ``agg(...) FILTER (WHERE ...)``.
   Identical aggregates are computed once whichever definitions ask for them.
2. ``COMPUTED``: one row per profile: its traits JSON, each computed trait as a typed column, the RFM scores and
   group, the loyalty tier and points, and the event features.
3. ``MEMBERS``: one boolean column per segment. A ``segment:`` condition is the other segment's condition inlined,
   so the order of definitions does not matter; a cycle is refused. A leaf is never NULL (``coalesce(..., false)``),
   so ``not`` means what it says for a profile that lacks the trait.

Times are fixed when the plan is made (``as_of``): the SQL holds literal instants, so the same plan gives the same
members on both engines, today or in a test a year later. Calendar days are the workspace's (``zone``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from c360.segments import rfm as rfm_rules
from c360.segments.computed import AGE_BANDS, NEGATIVE_WORDS, POSITIVE_WORDS, ComputedTrait
from c360.segments.definition import (
    AllOf,
    AnyOf,
    Comparison,
    Definition,
    DefinitionError,
    EventCondition,
    LoyaltyCondition,
    Node,
    NotOf,
    PropertyCondition,
    SegmentCondition,
    TraitCondition,
    ValueType,
    Window,
)
from c360.sql import Pipeline, Query

EVENTS: Final = "events"
IDENTITIES: Final = "seg_identities"
PROFILES: Final = "seg_profiles"
LOYALTY: Final = "seg_loyalty"
#: The last build's computed traits (its Parquet), read by previews and explanations instead of recomputing them.
SAVED: Final = "seg_saved"
FEATURES: Final = "seg_features"
COMPUTED: Final = "seg_computed"
MEMBERS: Final = "seg_members"
#: The events the most-frequent, last-value and sentiment traits read, already mapped to profiles.
RANKED_EVENTS: Final = "seg_ranked_events"

#: Columns of COMPUTED besides the computed traits and features.
RFM_COLUMNS: Final = ("rfm_recency_days", "rfm_frequency", "rfm_monetary", "rfm_r", "rfm_f", "rfm_m", "rfm_group")
LOYALTY_COLUMNS: Final = {"tier": "loyalty_tier", "points": "loyalty_points", "points_pending": "loyalty_pending"}


def column(name: str) -> str:
    """A segment's or a computed trait's column, quoted: a name such as `case` or `order` is a keyword in SQL."""
    return f'"{name}"'


def literal(value: object, kind: ValueType = "string") -> str:
    """A constant as SQL text (definitions never reach SQL any other way)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        instant = value.astimezone(dt.UTC).replace(tzinfo=None)
        return f"CAST('{instant.isoformat(sep=' ')}' AS TIMESTAMP)"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def json_value(doc: str, key: str, kind: ValueType) -> str:
    """The value at ``key`` of JSON column ``doc``, typed: a number, a date, an instant, a boolean or text."""
    text = f"c360_json_text({doc}, '$.{key}')"
    if kind == "number":
        return f"TRY_CAST({text} AS DOUBLE)"
    if kind == "date":
        # Date traits are written YYYY-MM-DD or as a whole ISO time: the first ten characters are the date.
        return f"TRY_CAST(left({text}, 10) AS DATE)"
    if kind == "timestamp":
        return f"TRY_CAST({text} AS TIMESTAMPTZ)"
    if kind == "boolean":
        return f"(lower({text}) = 'true')"
    return text


@dataclass
class _Features:
    """The aggregates the events scan computes, each named once (``f0``, ``f1`` ...) however often it is asked for."""

    columns: dict[str, str] = field(default_factory=dict)  # SQL -> column name
    events: set[str | None] = field(default_factory=set)  # None: every event
    since: dict[str, bool] = field(default_factory=dict)  # trait -> it is a date
    #: what an event must meet to count for at least one aggregate (None: every event may)
    wanted: set[str] | None = field(default_factory=set)

    def add(self, sql: str, event: str | None, condition: str) -> str:
        self.events.add(event)
        if "since_" in condition:
            # A bound read from the profile is not known before the join: keep every event of the name.
            condition = "TRUE" if event is None else f"event = {literal(event)}"
        if self.wanted is not None:
            self.wanted = None if condition == "TRUE" else self.wanted | {condition}
        if sql not in self.columns:
            self.columns[sql] = f"f{len(self.columns)}"
        return self.columns[sql]


@dataclass
class Plan:
    """What one build (or preview, or explanation) computes, fixed at ``as_of`` in time zone ``zone``."""

    as_of: dt.datetime
    zone: str
    traits: Sequence[ComputedTrait]
    definitions: Sequence[Definition]
    #: None: no RFM (a benchmark of segments alone)
    rfm: rfm_rules.RfmSettings | None = field(default_factory=rfm_rules.RfmSettings)
    #: True: compute the traits and RFM from the events; False: read them from ``SAVED`` (a preview)
    compute_traits: bool = True
    #: restrict everything to one profile (an explanation)
    profile_id: str | None = None
    #: the currency amounts (``amount_minor``) are added up in; None: every amount, whatever its currency
    currency: str | None = None
    #: province names as written -> the 2025 unit's name, for ``province`` traits (``province_names``)
    places: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        self._zone = zoneinfo.ZoneInfo(self.zone)
        self._features = _Features()
        self._coarse: dict[str, str] = {}
        self._by_name = {d.name: d for d in self.definitions}
        self._trait_sql: dict[str, str] = {}
        self._condition_sql: dict[str, str] = {}
        self._leaf_sql: dict[tuple[str, str], tuple[str, str]] = {}
        if self.compute_traits:
            self._plan_traits()
        for definition in self.definitions:
            self._condition_sql[definition.name] = self._segment(definition.name, ())

    # -- time -------------------------------------------------------------------------------------------------------

    @property
    def today(self) -> dt.date:
        """The workspace's calendar day at ``as_of``."""
        return self.as_of.astimezone(self._zone).date()

    def _days_ago(self, days: int) -> dt.datetime:
        return self.as_of - dt.timedelta(days=days)

    def _window_sql(self, window: Window, within_days: int | None = None) -> str:
        days = window.within_days or within_days
        upper = f"ts <= {literal(self.as_of)}"
        if days is not None:
            return f"ts >= {literal(self._days_ago(days))} AND {upper}"
        if window.between is not None:
            first, last = window.between
            day = f"c360_date_bucket('day', ts, '{self.zone}')"
            return f"{day} BETWEEN {literal(first)} AND {literal(last)} AND {upper}"
        if window.since_trait is not None:
            self._features.since[window.since_trait] = window.since_date
            return f"{self._since_start('ts', f'since_{window.since_trait}', window.since_date)} AND {upper}"
        return upper

    def _since_start(self, ts: str, since: str, is_date: bool) -> str:
        """``ts`` is at or after ``since``: an instant, or a date whose day starts at the workspace's midnight."""
        if is_date:
            return f"c360_date_bucket('day', {ts}, '{self.zone}') >= {since}"
        return f"{ts} >= {since}"

    # -- the events scan --------------------------------------------------------------------------------------------

    def _event_filter(self, event: str | None, where: Sequence[PropertyCondition], window_sql: str) -> str:
        parts = [] if event is None else [f"event = {literal(event)}"]
        coarse = " AND ".join(f"({p})" for p in [*parts, window_sql])
        parts += [_test(json_value("properties", c.property, c.test.value_type), c.test) for c in where]
        parts.append(window_sql)
        condition = " AND ".join(f"({p})" for p in parts)
        # The same without the property tests: what decides cheaply whether an event may count at all.
        self._coarse[condition] = coarse
        return condition

    def event_filter_sql(self, event: str, where: Sequence[PropertyCondition]) -> str:
        """The condition an event row (of the lake's ``events``) meets when it is ``event`` with ``where``."""
        return self._event_filter(event, where, "TRUE")

    def _feature(self, aggregate: str, value: str, event: str | None, condition: str) -> str:
        if "amount_minor" in value and self.currency is not None:
            # Minor units of different currencies do not add up: amounts count in the workspace's currency only.
            coarse = self._coarse.get(condition, condition)
            condition = f"{condition} AND (currency = {literal(self.currency)})"
            self._coarse[condition] = f"{coarse} AND (currency = {literal(self.currency)})"
        if aggregate == "count":
            sql = f"count(*) FILTER (WHERE {condition})"
        elif aggregate == "sum_int":
            sql = f"CAST(sum({value}) FILTER (WHERE {condition}) AS BIGINT)"
        elif aggregate == "sum":
            sql = f"CAST(sum({value}) FILTER (WHERE {condition}) AS DOUBLE)"
        else:
            sql = f"{aggregate}({value}) FILTER (WHERE {condition})"
        return self._features.add(sql, event, self._coarse.get(condition, condition))

    def features_sql(self) -> str:
        """One scan of the events that the plan needs, grouped by profile."""
        names = self._features.events
        if not self._features.columns:
            return f"SELECT profile_id FROM {PROFILES} WHERE FALSE"
        only = (
            "" if None in names else " AND e.event IN (" + ", ".join(literal(n) for n in sorted(names, key=str)) + ")"
        )
        columns = ",\n".join(f"{sql} AS {name}" for sql, name in self._features.columns.items())
        since = ""
        since_cols = ""
        if self._features.since:
            since_cols = "".join(
                f", {json_value('p.traits', t, 'date' if is_date else 'timestamp')} AS since_{t}"
                for t, is_date in sorted(self._features.since.items())
            )
            since = f" LEFT JOIN {PROFILES} p ON p.profile_id = m.profile_id"
        # Events that no aggregate counts are dropped before they are mapped to profiles: the join is the costly
        # part, and with the lake's files in time order most of a short window's misses never leave the scan.
        wanted = self._features.wanted
        keep = "" if not wanted else " WHERE " + " OR ".join(f"({c})" for c in sorted(wanted))
        return f"""
            SELECT profile_id, {columns}
            FROM (
                SELECT m.*{since_cols} FROM ({self.mapped_events_sql(only)}) m{since}{keep}
            )
            GROUP BY profile_id
        """

    def mapped_events_sql(self, condition: str = "") -> str:
        """The events with the profile each belongs to (through its userId, else its anonymousId)."""
        one = f" AND {{t}}.profile_id = {literal(self.profile_id)}" if self.profile_id else ""
        return f"""
            SELECT coalesce(u.profile_id, a.profile_id) AS profile_id, e.message_id, e.type, e.event, e.name,
                   e.source, e."timestamp" AS ts, e.properties, e.amount_minor, e.currency
            FROM {EVENTS} e
            LEFT JOIN (
                SELECT id_value, profile_id FROM {IDENTITIES} t WHERE id_type = 'user_id'{one.format(t="t")}
            ) u ON u.id_value = e.user_id
            LEFT JOIN (
                SELECT id_value, min(profile_id) AS profile_id FROM {IDENTITIES} t
                WHERE id_type IN ('anonymous_id', 'external_id'){one.format(t="t")} GROUP BY id_value
            ) a ON a.id_value = e.anonymous_id
            WHERE coalesce(u.profile_id, a.profile_id) IS NOT NULL{condition}
        """

    # -- computed traits --------------------------------------------------------------------------------------------

    def _plan_traits(self) -> None:
        for trait in self.traits:
            self._trait_sql[trait.name] = self._trait(trait)
        if self.rfm is None:
            return
        window = Window(within_days=self.rfm.window_days)
        orders = self._event_filter(self.rfm.event, (), self._window_sql(window))
        self._rfm = (
            self._feature("count", "", self.rfm.event, orders),
            self._feature("sum_int", "amount_minor", self.rfm.event, orders)
            if self.rfm.monetary == "amount"
            else self._feature(
                "sum_int", f"round({json_value('properties', self.rfm.monetary, 'number')})", self.rfm.event, orders
            ),
            self._feature("max", "ts", self.rfm.event, orders),
        )

    def _value(self, trait: ComputedTrait) -> str:
        if trait.column is not None:
            return trait.column
        kind: ValueType = "number" if trait.aggregate in ("sum", "avg", "min", "max") else "string"
        if trait.aggregate == "last_value" and trait.property is not None:
            kind = "number" if trait.value_type == "number" else "string"
        return json_value("properties", trait.property or "", kind)

    def _trait(self, trait: ComputedTrait) -> str:
        if trait.kind == "aggregate":
            where = tuple(property_conditions(trait))
            condition = self._event_filter(trait.event, where, self._window_sql(Window(), trait.within_days))
            if trait.aggregate in ("most_frequent", "last_value"):
                self._features.events.add(trait.event)
                return f"x_{trait.name}.v"
            if trait.aggregate == "count":
                return f"coalesce({self._feature('count', '', trait.event, condition)}, 0)"
            if trait.aggregate in ("first_at", "last_at"):
                return self._feature("min" if trait.aggregate == "first_at" else "max", "ts", trait.event, condition)
            if trait.aggregate == "sum":
                agg = "sum_int" if trait.column == "amount_minor" else "sum"
                return f"coalesce({self._feature(agg, self._value(trait), trait.event, condition)}, 0)"
            return self._feature(trait.aggregate or "", f"CAST({self._value(trait)} AS DOUBLE)", trait.event, condition)
        if trait.kind == "ratio":
            num, den = self._trait_sql[trait.numerator or ""], self._trait_sql[trait.denominator or ""]
            return f"CASE WHEN {den} > 0 THEN CAST({num} AS DOUBLE) / {den} END"
        if trait.kind == "days_since":
            day = f"c360_date_bucket('day', {self._trait_sql[trait.trait or '']}, '{self.zone}')"
            return f"c360_days_between({day}, {literal(self.today)})"
        if trait.kind == "copy":
            return json_value("p.traits", trait.trait or "", "string")
        if trait.kind == "province":
            raw = json_value("p.traits", trait.trait or "", "string")
            if not self.places:
                return raw
            listed = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in sorted(self.places.items()))
            # Unknown places keep their text: a foreign address is still an address.
            return f"coalesce(CASE {raw} {listed} END, {raw})"
        if trait.kind == "age_band":
            return self._age_band(f"p._age_{trait.name}")
        self._features.events.add(trait.event)
        return f"x_{trait.name}.v"

    def _age(self, birth: str) -> str:
        """Whole years from DATE ``birth`` to today."""
        today = self.today
        before = f"CASE WHEN month({birth}) * 100 + day({birth}) > {today.month * 100 + today.day} THEN 1 ELSE 0 END"
        return f"({today.year} - year({birth}) - {before})"

    def _age_band(self, age: str) -> str:
        whens = " ".join(
            f"WHEN {age} >= {low}" + (f" AND {age} <= {high}" if high is not None else "") + f" THEN '{label}'"
            for low, high, label in AGE_BANDS
        )
        return f"CASE {whens} END"

    def _ranked_sql(self, trait: ComputedTrait) -> str:
        """The per-profile step of a most-frequent, last-value or sentiment trait: columns profile_id, v."""
        where = tuple(property_conditions(trait))
        condition = self._event_filter(trait.event, where, self._window_sql(Window(), trait.within_days))
        # The events of every such trait, mapped to profiles once (RANKED_EVENTS), not once per trait.
        events = f"SELECT * FROM {RANKED_EVENTS}" + (f" WHERE event = {literal(trait.event)}" if trait.event else "")
        value = self._value(trait)
        if trait.kind == "sentiment":
            text = f"lower({json_value('properties', trait.property or '', 'string')})"
            score = _lexicon_score(text)
            return f"""
                SELECT profile_id, CASE WHEN total > 0 THEN 'positive' WHEN total < 0 THEN 'negative'
                                        ELSE 'neutral' END AS v
                FROM (
                    SELECT profile_id, CAST(sum(s) AS BIGINT) AS total
                    FROM (SELECT profile_id, CAST({score} AS BIGINT) AS s FROM ({events}) m
                          WHERE {condition} AND {text} IS NOT NULL)
                    GROUP BY profile_id
                )
            """
        if trait.aggregate == "last_value":
            return f"""
                SELECT profile_id, v FROM (
                    SELECT profile_id, {value} AS v,
                           row_number() OVER (PARTITION BY profile_id ORDER BY ts DESC, message_id DESC) AS pos
                    FROM ({events}) m WHERE {condition} AND {value} IS NOT NULL
                ) WHERE pos = 1
            """
        # A number stays a number (ties go to the smaller one); anything else is compared as text.
        typed = value if trait.value_type == "number" else f"CAST({value} AS VARCHAR)"
        return f"""
            SELECT profile_id, v FROM (
                SELECT profile_id, v, row_number() OVER (PARTITION BY profile_id ORDER BY n DESC, v ASC) AS pos
                FROM (
                    SELECT profile_id, {typed} AS v, count(*) AS n FROM ({events}) m
                    WHERE {condition} AND {value} IS NOT NULL GROUP BY profile_id, {typed}
                )
            ) WHERE pos = 1
        """

    def _rfm_sql(self) -> str:
        count, spend, last = self._rfm
        recency = f"c360_days_between(c360_date_bucket('day', {last}, '{self.zone}'), {literal(self.today)})"

        def score(column: str, order: str) -> str:
            rank = f"rank() OVER (ORDER BY {column} {order})"
            return f"least(5, 1 + (5 * ({rank} - 1)) // greatest(count(*) OVER () - 1, 1))"

        return f"""
            SELECT profile_id, rfm_recency_days, rfm_frequency, rfm_monetary, r AS rfm_r, f AS rfm_f, m AS rfm_m,
                   {rfm_rules.group_case_sql()} AS rfm_group
            FROM (
                SELECT profile_id, rfm_recency_days, rfm_frequency, rfm_monetary,
                       {score("rfm_recency_days", "DESC")} AS r,
                       {score("rfm_frequency", "ASC")} AS f,
                       {score("rfm_monetary", "ASC")} AS m
                FROM (
                    SELECT profile_id, {recency} AS rfm_recency_days, {count} AS rfm_frequency,
                           coalesce({spend}, 0) AS rfm_monetary
                    FROM {FEATURES} WHERE {count} > 0
                )
            )
        """

    def _ranked_traits(self) -> list[ComputedTrait]:
        if not self.compute_traits:
            return []
        return [t for t in self.traits if t.kind == "sentiment" or t.aggregate in ("most_frequent", "last_value")]

    def ranked_events_sql(self) -> str:
        """RANKED_EVENTS: the events the ranked traits read (their names; within the longest of their windows)."""
        traits = self._ranked_traits()
        names = {t.event for t in traits}
        conditions = []
        if traits and None not in names:
            conditions.append("e.event IN (" + ", ".join(literal(n) for n in sorted(n for n in names if n)) + ")")
        if traits and all(t.within_days is not None for t in traits):
            days = max(t.within_days or 0 for t in traits)
            conditions.append(f'e."timestamp" >= {literal(self._days_ago(days))}')
        if not traits:
            conditions.append("FALSE")
        return self.mapped_events_sql("".join(f" AND {c}" for c in conditions))

    def tables(self) -> list[tuple[str, Query]]:
        """What to materialise, in order, for MEMBERS (and COMPUTED) to exist: (table name, query)."""
        steps: list[tuple[str, Query]] = []
        if self._ranked_traits():
            steps.append((RANKED_EVENTS, self.ranked_events_sql()))
        return [*steps, (FEATURES, self.features_sql()), (COMPUTED, self.computed_pipeline()),
                (MEMBERS, self.members_sql())]  # fmt: skip

    def computed_pipeline(self) -> Pipeline:
        """The COMPUTED table as a pipeline over the registered tables and the materialised FEATURES."""
        pipe = Pipeline()
        joins: list[str] = []
        if self.compute_traits:
            for trait in self._ranked_traits():
                pipe = pipe.then(f"x_{trait.name}", self._ranked_sql(trait))
                joins.append(f"LEFT JOIN x_{trait.name} ON x_{trait.name}.profile_id = p.profile_id")
            traits = [f"{sql} AS {column(name)}" for name, sql in self._trait_sql.items()]
            if self.rfm is not None:
                pipe = pipe.then("seg_rfm", self._rfm_sql())
                joins.append("LEFT JOIN seg_rfm r ON r.profile_id = p.profile_id")
                traits += [f"r.{c}" for c in RFM_COLUMNS]
            ages = "".join(
                f", {self._age(json_value('traits', t.trait or '', 'date'))} AS _age_{t.name}"
                for t in self.traits
                if t.kind == "age_band"
            )
            base = f"(SELECT profile_id, traits{ages} FROM {PROFILES})"
        else:
            # The traits of the last build, next to the profiles' traits as they are now.
            traits = ["s.* EXCLUDE (profile_id)"]
            joins.append(f"LEFT JOIN {SAVED} s ON s.profile_id = p.profile_id")
            base = f"(SELECT profile_id, traits FROM {PROFILES})"
        if self.profile_id is not None:
            base = f"(SELECT * FROM {base} WHERE profile_id = {literal(self.profile_id)})"
        features = [f"f.{name}" for name in self._features.columns.values()]
        loyalty = [f"l.{column}" for column in LOYALTY_COLUMNS.values()]
        select = ",\n".join(["p.profile_id", "p.traits", *traits, *loyalty, *features])
        return pipe.then(
            COMPUTED,
            f"""
            SELECT {select}
            FROM {base} p
            LEFT JOIN {FEATURES} f ON f.profile_id = p.profile_id
            LEFT JOIN {LOYALTY} l ON l.profile_id = p.profile_id
            {" ".join(joins)}
            """,
        )

    def places_sql(self) -> str | None:
        """The distinct texts of the traits that ``province`` traits read (for ``province_names``)."""
        keys = sorted({t.trait or "" for t in self.traits if t.kind == "province"})
        if not keys:
            return None
        parts = [f"SELECT {json_value('traits', k, 'string')} AS raw FROM {PROFILES}" for k in keys]
        return f"SELECT DISTINCT raw FROM ({' UNION ALL '.join(parts)}) WHERE raw IS NOT NULL"

    def trait_columns(self) -> list[str]:
        """The computed traits' columns of COMPUTED, in order (what the store and the profile show)."""
        return [*self._trait_sql, *(RFM_COLUMNS if self.rfm is not None else ())]

    # -- segments ---------------------------------------------------------------------------------------------------

    def members_sql(self) -> str:
        """One boolean column per definition (named like the segment) over COMPUTED."""
        columns = [f"{self._condition_sql[d.name]} AS {column(d.name)}" for d in self.definitions]
        return f"SELECT profile_id, {', '.join(columns) or 'TRUE AS _none'} FROM {COMPUTED}"

    def condition_sql(self, name: str) -> str:
        return self._condition_sql[name]

    def leaf_sql(self, name: str, path: str) -> tuple[str, str]:
        """The (test, observed value) SQL of the condition at ``path`` of segment ``name`` over COMPUTED: what an
        explanation shows."""
        return self._leaf_sql[name, path]

    def leaf_paths(self, name: str) -> list[str]:
        return [path for segment, path in self._leaf_sql if segment == name]

    def _segment(self, name: str, stack: tuple[str, ...]) -> str:
        if name in stack:
            chain = " -> ".join((*stack, name))
            raise DefinitionError(f"segments refer to each other in a cycle: {chain}", "where")
        definition = self._by_name.get(name)
        if definition is None:
            raise DefinitionError(f"no segment {name!r}", "where")
        return self._node(definition.where, (*stack, name), record=not stack)

    def _node(self, node: Node, stack: tuple[str, ...], *, record: bool) -> str:
        if isinstance(node, AllOf | AnyOf):
            joiner = " AND " if isinstance(node, AllOf) else " OR "
            return "(" + joiner.join(self._node(child, stack, record=record) for child in node.children) + ")"
        if isinstance(node, NotOf):
            return f"(NOT {self._node(node.child, stack, record=record)})"
        if isinstance(node, SegmentCondition):
            try:
                test = self._segment(node.segment, stack)
            except DefinitionError as exc:
                if not record or exc.path != "where":
                    raise
                # Point at the condition of the segment being written through which the cycle closes.
                raise DefinitionError(exc.reason, f"{node.path}.segment") from None
            if record:
                self._leaf_sql[stack[0], node.path] = (test, "NULL")
            return test
        test, observed = self._leaf(node)
        if record:
            self._leaf_sql[stack[0], node.path] = (f"coalesce({test}, FALSE)", observed)
        return f"coalesce({test}, FALSE)"

    def _leaf(self, node: TraitCondition | EventCondition | LoyaltyCondition) -> tuple[str, str]:
        if isinstance(node, TraitCondition):
            value = column(node.trait) if node.computed else json_value("traits", node.trait, node.test.value_type)
            return self._test_relative(value, node.test), value
        if isinstance(node, LoyaltyCondition):
            value = LOYALTY_COLUMNS[node.field]
            return _test(value, node.test), value
        return self._event_leaf(node)

    def _event_leaf(self, node: EventCondition) -> tuple[str, str]:
        if node.window.since_trait is not None and node.window.since_computed:
            raise DefinitionError(
                "since_trait works with profile traits, not computed ones", f"{node.path}.since_trait"
            )
        if node.measure in ("first", "last"):
            condition = self._event_filter(node.event, node.where, self._window_sql(Window()))
            column = self._feature("min" if node.measure == "first" else "max", "ts", node.event, condition)
            return self._window_test(column, node.window), column
        condition = self._event_filter(node.event, node.where, self._window_sql(node.window))
        if node.measure == "count":
            column = f"coalesce({self._feature('count', '', node.event, condition)}, 0)"
        elif node.measure == "sum":
            value = json_value("properties", node.property or "", "number")
            column = f"coalesce({self._feature('sum', value, node.event, condition)}, 0)"
        else:
            value = json_value("properties", node.property or "", "number")
            column = self._feature(node.measure, value, node.event, condition)
        return _test(column, node.test), column

    def _window_test(self, column: str, window: Window) -> str:
        if window.within_days is not None:
            return f"({column} >= {literal(self._days_ago(window.within_days))} AND {column} <= {literal(self.as_of)})"
        if window.between is not None:
            day = f"c360_date_bucket('day', {column}, '{self.zone}')"
            return f"({day} BETWEEN {literal(window.between[0])} AND {literal(window.between[1])})"
        since = json_value("traits", window.since_trait or "", "date" if window.since_date else "timestamp")
        return f"({self._since_start(column, since, window.since_date)})"

    def _test_relative(self, value: str, test: Comparison) -> str:
        if test.op == "birthday within days":
            days = [self.today + dt.timedelta(days=i) for i in range(test.value + 1)]
            keys = {f"{d.month:02d}-{d.day:02d}" for d in days}
            if any(d.month == 3 and d.day == 1 and not calendar.isleap(d.year) for d in days):
                keys.add("02-29")  # born on 29 February: 1 March in a common year, the day the age turns too
            listed = ", ".join(literal(k) for k in sorted(keys))
            return f"(substr(CAST({value} AS VARCHAR), 6, 5) IN ({listed}))"
        if test.op in ("within last days", "more than days ago"):
            if test.value_type == "date":
                cutoff: object = self.today - dt.timedelta(days=test.value)
                now: object = self.today
            else:
                cutoff, now = self._days_ago(test.value), self.as_of
            if test.op == "within last days":
                return f"({value} >= {literal(cutoff)} AND {value} <= {literal(now)})"
            return f"({value} < {literal(cutoff)})"
        return _test(value, test)


def property_conditions(trait: ComputedTrait) -> list[PropertyCondition]:
    from c360.segments.definition import _comparison

    out = []
    for i, item in enumerate(trait.where):
        path = f"computed_traits.{trait.name}.where[{i}]"
        name = item.get("property")
        kind: ValueType = "number" if isinstance(item.get("value"), int | float) else "string"
        out.append(PropertyCondition(path, str(name), _comparison(item, path, kind)))
    return out


def _lexicon_score(text: str) -> str:
    def hits(word: str) -> str:
        return f"CASE WHEN instr({text}, {literal(word)}) > 0 THEN 1 ELSE 0 END"

    # A negative phrase that holds a positive one ("không hài lòng") would cancel out: it weighs one more for each.
    negative = [f"{1 + sum(p in n for p in POSITIVE_WORDS)} * {hits(n)}" for n in NEGATIVE_WORDS]
    return f"({' + '.join(hits(p) for p in POSITIVE_WORDS)}) - ({' + '.join(negative)})"


def _test(value: str, test: Comparison) -> str:
    op, kind = test.op, test.value_type
    if op == "is set":
        return f"({value} IS NOT NULL)"
    if op == "is not set":
        return f"({value} IS NULL)"
    if op == "contains":
        needle = f'"{test.value}"' if kind == "list" else test.value
        return f"(instr({value}, {literal(needle)}) > 0)"
    if op == "starts with":
        return f"(left({value}, {len(test.value)}) = {literal(test.value)})"
    if op in ("in", "not in"):
        listed = ", ".join(literal(v, kind) for v in test.value)
        return f"({value} {'IN' if op == 'in' else 'NOT IN'} ({listed}))"
    if op == "between":
        low, high = test.value
        return f"({value} BETWEEN {literal(low, kind)} AND {literal(high, kind)})"
    sql_op = "<>" if op == "!=" else op
    return f"({value} {sql_op} {literal(test.value, kind)})"


def province_names(texts: Sequence[str]) -> dict[str, str]:
    """Each text that names a province (any spelling, abbreviation or pre-2025 province) -> its unit's name."""
    from c360.domain.places import province_code, province_name

    out = {}
    for text in texts:
        code = province_code(text)
        if code is not None:
            out[text] = province_name(code)
    return out
