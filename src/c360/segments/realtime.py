"""Real-time segments: which definitions can be decided per event, and deciding them for one profile.

A definition is real-time when every condition changes only when an event arrives: profile trait conditions
(not the relative-date ones, which change as days pass), counts of an event (with property conditions) within N
days or ever, references to other real-time segments, and all / any / not of those. Computed traits, sums and
averages, occurrences, loyalty and relative dates are left to the batch build.

``decide`` evaluates one profile with the same meaning as the compiled SQL (c360.segments.compile): values are
read from JSON the way ``c360_json_text`` reads them and cast like ``TRY_CAST``; a missing value fails every test
but ``is not set``. A test (tests/segments) holds the two to the same answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from c360.segments.definition import (
    AllOf,
    AnyOf,
    Comparison,
    Definition,
    EventCondition,
    Node,
    NotOf,
    PropertyCondition,
    SegmentCondition,
    TraitCondition,
    ValueType,
    leaves,
)

_RELATIVE: Final = frozenset({"within last days", "more than days ago", "birthday within days"})


@dataclass(frozen=True)
class Counter:
    """The events one count condition counts: an event name and its property conditions (the window is the
    condition's, applied when counting)."""

    key: str
    event: str
    where: tuple[PropertyCondition, ...]

    def matches(self, event: str | None, properties: Mapping[str, Any] | None) -> bool:
        if event != self.event:
            return False
        return all(passes(json_value(properties, c.property, c.test.value_type), c.test) for c in self.where)


def counter_of(node: EventCondition) -> Counter:
    spec = orjson.dumps([node.event, [[c.property, c.test.op, _plain(c.test.value)] for c in node.where]])
    return Counter(hashlib.sha256(spec).hexdigest()[:32], node.event, node.where)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _leaf_is_realtime(node: Node) -> bool:
    if isinstance(node, TraitCondition):
        return not node.computed and node.test.op not in _RELATIVE
    if isinstance(node, EventCondition):
        return node.measure == "count" and node.window.since_trait is None
    return isinstance(node, SegmentCondition)


def realtime_names(definitions: Sequence[Definition]) -> set[str]:
    """The definitions that can be decided per event (a reference makes a segment real-time only when the
    segment it names is)."""
    by_name = {d.name: d for d in definitions}
    decided: dict[str, bool] = {}

    def check(name: str, stack: tuple[str, ...]) -> bool:
        if name in decided:
            return decided[name]
        if name in stack or name not in by_name:
            return False
        ok = all(
            _leaf_is_realtime(leaf) and (not isinstance(leaf, SegmentCondition) or check(leaf.segment, (*stack, name)))
            for leaf in leaves(by_name[name].where)
        )
        decided[name] = ok
        return ok

    return {d.name for d in definitions if check(d.name, ())}


def counters(definitions: Sequence[Definition]) -> dict[str, Counter]:
    """Every counter the real-time definitions need, by key."""
    out: dict[str, Counter] = {}
    for definition in definitions:
        for leaf in leaves(definition.where):
            if isinstance(leaf, EventCondition):
                counter = counter_of(leaf)
                out[counter.key] = counter
    return out


def longest_window(definitions: Sequence[Definition], key: str) -> int | None:
    """The most days any condition counts ``key`` back from now; None when one counts every event ever."""
    days: list[int] = []
    for definition in definitions:
        for leaf in leaves(definition.where):
            if isinstance(leaf, EventCondition) and counter_of(leaf).key == key:
                if leaf.window.within_days is None and leaf.window.between is None:
                    return None
                if leaf.window.within_days is not None:
                    days.append(leaf.window.within_days)
    return max(days) if days else None


# -- one profile ----------------------------------------------------------------------------------------------------


def json_text(doc: Mapping[str, Any] | None, path: str) -> str | None:
    """What ``c360_json_text(doc, '$.path')`` gives: the text of a scalar, the JSON of a list or object, None for
    missing or JSON null."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def json_value(doc: Mapping[str, Any] | None, path: str, kind: ValueType) -> Any:
    """The typed value, as ``compile.json_value`` casts it."""
    text = json_text(doc, path)
    if text is None:
        return None
    if kind == "number":
        try:
            number = float(text.strip())
        except ValueError:
            return None
        return None if math.isnan(number) else number
    if kind == "date":
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return None
    if kind == "timestamp":
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if kind == "boolean":
        return text.lower() == "true"
    return text


def passes(value: Any, test: Comparison) -> bool:
    op = test.op
    if op == "is set":
        return value is not None
    if op == "is not set":
        return value is None
    if value is None:
        return False
    expected = test.value
    if op == "contains":
        return (f'"{expected}"' if test.value_type == "list" else expected) in str(value)
    if op == "starts with":
        return str(value).startswith(expected)
    if op == "in":
        return value in expected
    if op == "not in":
        return value not in expected
    if op == "between":
        return bool(expected[0] <= value <= expected[1])
    result = {
        "=": lambda: value == expected,
        "!=": lambda: value != expected,
        "<": lambda: value < expected,
        "<=": lambda: value <= expected,
        ">": lambda: value > expected,
        ">=": lambda: value >= expected,
    }[op]()
    return bool(result)


@dataclass(frozen=True)
class Facts:
    """What deciding one profile needs: its traits, and how many events of a counter it has in a window."""

    traits: Mapping[str, Any]
    #: (counter key, first instant counted or None for ever, last instant counted) -> events
    count: Callable[[str, dt.datetime | None, dt.datetime], int]
    as_of: dt.datetime
    zone: dt.tzinfo


def decide(definitions: Mapping[str, Definition], name: str, facts: Facts) -> bool:
    """Whether the profile of ``facts`` is in segment ``name`` now (``definitions``: every real-time one)."""
    return _node(definitions[name].where, definitions, facts)


def _node(node: Node, definitions: Mapping[str, Definition], facts: Facts) -> bool:
    if isinstance(node, AllOf):
        return all(_node(child, definitions, facts) for child in node.children)
    if isinstance(node, AnyOf):
        return any(_node(child, definitions, facts) for child in node.children)
    if isinstance(node, NotOf):
        return not _node(node.child, definitions, facts)
    if isinstance(node, SegmentCondition):
        return decide(definitions, node.segment, facts)
    if isinstance(node, TraitCondition):
        return passes(json_value(facts.traits, node.trait, node.test.value_type), node.test)
    if isinstance(node, EventCondition):
        return passes(_count(node, facts), node.test)
    raise ValueError(f"{type(node).__name__} at {node.path} is not decided in real time")


def _count(node: EventCondition, facts: Facts) -> int:
    key = counter_of(node).key
    window = node.window
    if window.within_days is not None:
        return facts.count(key, facts.as_of - dt.timedelta(days=window.within_days), facts.as_of)
    if window.between is not None:
        first, last = window.between
        start = dt.datetime.combine(first, dt.time(), facts.zone)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), facts.zone) - dt.timedelta(microseconds=1)
        return facts.count(key, start, min(end, facts.as_of))  # as the build: nothing after now counts
    return facts.count(key, None, facts.as_of)
