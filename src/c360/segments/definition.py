"""Segment definitions: a tree of conditions, parsed from YAML or JSON and checked against what the data holds.

A definition is a name and one condition node (``where``). Nodes:

    all: [node, ...]          every child holds          not: node       the child does not hold
    any: [node, ...]          at least one child holds
    trait: NAME   op: OP  value: V        a profile trait or a computed trait
    event: NAME   [where: [{property, op, value}], within_days | between | since_trait,
                  at_least | at_most | exactly | performed: false | sum|avg|min|max: PROPERTY op value |
                  occurrence: first|last]
    segment: NAME                         membership of another segment
    loyalty: tier | points | points_pending   op: OP  value: V

Errors point at the node (``where.all[1].value: ...``) and nothing is saved. The checks need a ``Catalog`` of the
traits, events and properties the workspace knows, so a typo is caught when the segment is written, not when it
silently matches nobody.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from c360.errors import InvalidInput

ValueType = Literal["string", "number", "boolean", "date", "timestamp", "list", "object"]

NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")

#: Operators, as written in a definition.
COMPARE: Final = ("=", "!=", "<", "<=", ">", ">=")
OPS: Final = (
    *COMPARE,
    "in",
    "not in",
    "between",
    "contains",
    "starts with",
    "is set",
    "is not set",
    "within last days",
    "more than days ago",
    "birthday within days",
)
_ORDERED: Final = frozenset({"number", "date", "timestamp", "string"})
_TEXT_OPS: Final = frozenset({"contains", "starts with"})
_DATE_OPS: Final = frozenset({"within last days", "more than days ago", "birthday within days"})
_NO_VALUE: Final = frozenset({"is set", "is not set"})

AGGREGATES: Final = ("sum", "avg", "min", "max")
LOYALTY_FIELDS: Final[dict[str, ValueType]] = {"tier": "string", "points": "number", "points_pending": "number"}
_MAX_DEPTH: Final = 12


class DefinitionError(InvalidInput):
    """A definition that cannot be used; ``field`` is the path of the node that is wrong."""

    def __init__(self, reason: str, path: str) -> None:
        super().__init__(reason, field=path)
        self.reason = reason
        self.path = path


@dataclass(frozen=True)
class Catalog:
    """What a definition may name: trait types, computed trait types, event property types, other segments."""

    traits: Mapping[str, ValueType] = field(default_factory=dict)
    computed: Mapping[str, ValueType] = field(default_factory=dict)
    events: Mapping[str, Mapping[str, ValueType]] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()
    #: the segment whose definition is being read
    writing: str | None = None

    def trait_type(self, name: str) -> ValueType | None:
        # A profile trait wins over a computed trait of the same name (the default `province` copies the trait):
        # a condition on it is then decided from the profile, in real time too.
        return self.traits.get(name) or self.computed.get(name)

    def is_computed(self, name: str) -> bool:
        return name not in self.traits and name in self.computed


# -- the nodes ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """``op`` and ``value`` as checked: the value is a number, a string, a date, a bool, a list or a pair."""

    op: str
    value: Any
    value_type: ValueType


@dataclass(frozen=True)
class TraitCondition:
    path: str
    trait: str
    computed: bool
    test: Comparison


@dataclass(frozen=True)
class PropertyCondition:
    path: str
    property: str
    test: Comparison


@dataclass(frozen=True)
class Window:
    """When the events count: the last N days, a date range (inclusive, workspace days), or since a trait's date."""

    within_days: int | None = None
    between: tuple[dt.date, dt.date] | None = None
    since_trait: str | None = None
    since_computed: bool = False
    #: the trait is a calendar date (its day starts at the workspace's midnight), not an instant
    since_date: bool = False


@dataclass(frozen=True)
class EventCondition:
    path: str
    event: str
    where: tuple[PropertyCondition, ...]
    window: Window
    #: count (with at_least/at_most/exactly folded into the test), an aggregate of a property, or an occurrence
    measure: Literal["count", "sum", "avg", "min", "max", "first", "last"]
    property: str | None
    test: Comparison


@dataclass(frozen=True)
class SegmentCondition:
    path: str
    segment: str


@dataclass(frozen=True)
class LoyaltyCondition:
    path: str
    field: str
    test: Comparison


@dataclass(frozen=True)
class AllOf:
    path: str
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    path: str
    children: tuple[Node, ...]


@dataclass(frozen=True)
class NotOf:
    path: str
    child: Node


Node = TraitCondition | EventCondition | SegmentCondition | LoyaltyCondition | AllOf | AnyOf | NotOf
Leaf = TraitCondition | EventCondition | SegmentCondition | LoyaltyCondition


@dataclass(frozen=True)
class Definition:
    name: str
    title: str
    description: str
    where: Node
    #: the definition as written (JSON-able), which the store keeps
    source: Mapping[str, Any]

    def segments_used(self) -> set[str]:
        return {leaf.segment for leaf in leaves(self.where) if isinstance(leaf, SegmentCondition)}


def leaves(node: Node) -> list[Leaf]:
    """The conditions of a tree, in the order written."""
    if isinstance(node, AllOf | AnyOf):
        return [leaf for child in node.children for leaf in leaves(child)]
    if isinstance(node, NotOf):
        return leaves(node.child)
    return [node]


# -- parsing --------------------------------------------------------------------------------------------------------

_DEFINITION_KEYS: Final = frozenset({"name", "title", "description", "where"})
_EVENT_KEYS: Final = frozenset(
    {
        "event", "where", "within_days", "between", "since_trait", "at_least", "at_most", "exactly", "performed",
        "sum", "avg", "min", "max", "occurrence", "op", "value",
    }
)  # fmt: skip


def parse_definition(data: Any, catalog: Catalog, *, name: str | None = None) -> Definition:
    """The checked definition in ``data`` (a mapping read from YAML or JSON); ``DefinitionError`` at the bad node.

    ``name``: the segment's name when it comes from elsewhere (a URL); it must agree with ``data['name']`` if both.
    """
    if not isinstance(data, Mapping):
        raise DefinitionError("a segment definition is a mapping with `name` and `where`", "definition")
    unknown = sorted(set(data) - _DEFINITION_KEYS, key=str)
    if unknown:
        raise DefinitionError(f"unknown key; a definition has {', '.join(sorted(_DEFINITION_KEYS))}", unknown[0])
    given = data.get("name", name)
    if name is not None and data.get("name") not in (None, name):
        raise DefinitionError(f"must be {name!r}, the segment being written", "name")
    if not isinstance(given, str) or not NAME.match(given):
        raise DefinitionError("must be 1-63 lower-case letters, digits or underscores, starting with a letter", "name")
    for key in ("title", "description"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise DefinitionError("must be text", key)
    if "where" not in data:
        raise DefinitionError("is required: the condition a profile must meet", "where")
    # So that a reference to itself is named as such rather than as an unknown segment.
    catalog = dataclasses.replace(catalog, writing=given)
    where = _node(data["where"], "where", catalog, 0)
    source = {"name": given, **{k: data[k] for k in ("title", "description") if data.get(k)}, "where": data["where"]}
    return Definition(given, data.get("title") or given, data.get("description") or "", where, source)


def _node(data: Any, path: str, catalog: Catalog, depth: int) -> Node:
    if depth > _MAX_DEPTH:
        raise DefinitionError(f"nested deeper than {_MAX_DEPTH} levels", path)
    if not isinstance(data, Mapping) or not data:
        raise DefinitionError("a condition is a mapping: all / any / not, or trait / event / segment / loyalty", path)
    kinds = [k for k in ("all", "any", "not", "trait", "event", "segment", "loyalty") if k in data]
    if len(kinds) != 1:
        found = f"both {kinds[0]} and {kinds[1]}" if kinds else "none of them"
        raise DefinitionError(
            f"a condition has exactly one of all, any, not, trait, event, segment, loyalty ({found})", path
        )
    kind = kinds[0]
    if kind in ("all", "any"):
        _only(data, {kind}, path)
        children = data[kind]
        if not isinstance(children, list) or not children:
            raise DefinitionError("must be a non-empty list of conditions", f"{path}.{kind}")
        nodes = tuple(_node(child, f"{path}.{kind}[{i}]", catalog, depth + 1) for i, child in enumerate(children))
        return AllOf(path, nodes) if kind == "all" else AnyOf(path, nodes)
    if kind == "not":
        _only(data, {"not"}, path)
        return NotOf(path, _node(data["not"], f"{path}.not", catalog, depth + 1))
    if kind == "trait":
        return _trait(data, path, catalog)
    if kind == "segment":
        _only(data, {"segment"}, path)
        segment = data["segment"]
        if segment is not None and segment == catalog.writing:
            raise DefinitionError("a segment cannot contain itself", f"{path}.segment")
        if not isinstance(segment, str) or segment not in catalog.segments:
            known = ", ".join(sorted(catalog.segments)) or "none yet"
            raise DefinitionError(f"no segment {segment!r} (known: {known})", f"{path}.segment")
        return SegmentCondition(path, segment)
    if kind == "loyalty":
        _only(data, {"loyalty", "op", "value"}, path)
        name = data["loyalty"]
        if name not in LOYALTY_FIELDS:
            raise DefinitionError(f"must be one of {', '.join(LOYALTY_FIELDS)}", f"{path}.loyalty")
        return LoyaltyCondition(path, name, _comparison(data, path, LOYALTY_FIELDS[name]))
    return _event(data, path, catalog)


def _only(data: Mapping[str, Any], allowed: set[str] | frozenset[str], path: str) -> None:
    extra = sorted(set(data) - set(allowed), key=str)
    if extra:
        raise DefinitionError(f"unknown key here; allowed: {', '.join(sorted(allowed))}", f"{path}.{extra[0]}")


def _trait(data: Mapping[str, Any], path: str, catalog: Catalog) -> TraitCondition:
    _only(data, {"trait", "op", "value"}, path)
    name = data["trait"]
    if not isinstance(name, str) or not name:
        raise DefinitionError("must be a trait name", f"{path}.trait")
    kind = catalog.trait_type(name)
    if kind is None:
        raise DefinitionError(
            f"no trait {name!r}{_suggest(name, [*catalog.computed, *catalog.traits])}", f"{path}.trait"
        )
    return TraitCondition(path, name, catalog.is_computed(name), _comparison(data, path, kind))


def _event(data: Mapping[str, Any], path: str, catalog: Catalog) -> EventCondition:
    _only(data, _EVENT_KEYS, path)
    name = data["event"]
    if not isinstance(name, str) or name not in catalog.events:
        raise DefinitionError(f"no event {name!r}{_suggest(str(name), list(catalog.events))}", f"{path}.event")
    properties = catalog.events[name]
    where_data = data.get("where", [])
    if not isinstance(where_data, list):
        raise DefinitionError("must be a list of {property, op, value}", f"{path}.where")
    where = tuple(_property(item, f"{path}.where[{i}]", properties) for i, item in enumerate(where_data))
    window = _window(data, path, catalog)
    measures = [k for k in ("at_least", "at_most", "exactly", "performed", *AGGREGATES, "occurrence") if k in data]
    if len(measures) > 1:
        raise DefinitionError(f"use one of {measures[0]} and {measures[1]}, not both", f"{path}.{measures[1]}")
    measure = measures[0] if measures else "at_least"
    if measure not in AGGREGATES and ("op" in data or "value" in data):
        key = "op" if "op" in data else "value"
        raise DefinitionError("op and value go with sum / avg / min / max", f"{path}.{key}")
    if measure in ("at_least", "at_most", "exactly"):
        count = data.get(measure, 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise DefinitionError("must be a whole number of times, 0 or more", f"{path}.{measure}")
        op = {"at_least": ">=", "at_most": "<=", "exactly": "="}[measure]
        return EventCondition(path, name, where, window, "count", None, Comparison(op, count, "number"))
    if measure == "performed":
        performed = data["performed"]
        if not isinstance(performed, bool):
            raise DefinitionError("must be true or false", f"{path}.performed")
        test = Comparison(">=", 1, "number") if performed else Comparison("=", 0, "number")
        return EventCondition(path, name, where, window, "count", None, test)
    if measure == "occurrence":
        which = data["occurrence"]
        if which not in ("first", "last"):
            raise DefinitionError("must be first or last", f"{path}.occurrence")
        if window == Window():
            raise DefinitionError(
                "say when the first or last occurrence must fall: within_days, between or since_trait", path
            )
        # The window is the test: the first (last) time the event happened lies inside it.
        return EventCondition(path, name, where, window, which, None, Comparison("is set", None, "timestamp"))
    prop = data[measure]
    kind = properties.get(prop) if isinstance(prop, str) else None
    if kind is None:
        raise DefinitionError(
            f"event {name!r} has no property {prop!r}{_suggest(str(prop), list(properties))}", f"{path}.{measure}"
        )
    if kind != "number":
        raise DefinitionError(f"{measure} needs a number property; {prop!r} is {kind}", f"{path}.{measure}")
    test = _comparison(data, path, "number")
    return EventCondition(path, name, where, window, measure, prop, test)  # type: ignore[arg-type]


def _window(data: Mapping[str, Any], path: str, catalog: Catalog) -> Window:
    given = [k for k in ("within_days", "between", "since_trait") if k in data]
    if len(given) > 1:
        raise DefinitionError(f"use one of {given[0]} and {given[1]}, not both", f"{path}.{given[1]}")
    if not given:
        return Window()
    key = given[0]
    value = data[key]
    if key == "within_days":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 36_600:
            raise DefinitionError("must be a whole number of days from 1 to 36600", f"{path}.within_days")
        return Window(within_days=value)
    if key == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise DefinitionError("must be two dates [first, last]", f"{path}.between")
        first, last = (_date(v, f"{path}.between[{i}]") for i, v in enumerate(value))
        if last < first:
            raise DefinitionError("the last date is before the first", f"{path}.between")
        return Window(between=(first, last))
    kind = catalog.trait_type(value) if isinstance(value, str) else None
    if kind not in ("date", "timestamp"):
        reason = f"no trait {value!r}" if kind is None else f"trait {value!r} is {kind}, not a date"
        raise DefinitionError(reason, f"{path}.since_trait")
    return Window(since_trait=value, since_computed=catalog.is_computed(value), since_date=kind == "date")


def _property(data: Any, path: str, properties: Mapping[str, ValueType]) -> PropertyCondition:
    if not isinstance(data, Mapping) or "property" not in data:
        raise DefinitionError("must be {property, op, value}", path)
    _only(data, {"property", "op", "value"}, path)
    name = data["property"]
    kind = properties.get(name) if isinstance(name, str) else None
    if kind is None:
        raise DefinitionError(f"no property {name!r} on this event{_suggest(str(name), list(properties))}",
                              f"{path}.property")  # fmt: skip
    return PropertyCondition(path, name, _comparison(data, path, kind))


def _comparison(data: Mapping[str, Any], path: str, kind: ValueType) -> Comparison:
    op = data.get("op")
    if op not in OPS:
        raise DefinitionError(f"must be one of: {', '.join(OPS)}", f"{path}.op")
    here = f"{path}.value"
    if op in _NO_VALUE:
        if "value" in data:
            raise DefinitionError(f"`{op}` takes no value", here)
        return Comparison(op, None, kind)
    if "value" not in data:
        raise DefinitionError(f"`{op}` needs a value", here)
    value = data["value"]
    if op in _DATE_OPS:
        if kind not in ("date", "timestamp"):
            raise DefinitionError(f"`{op}` needs a date trait or property; this one is {kind}", f"{path}.op")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 36_600:
            raise DefinitionError("must be a whole number of days from 0 to 36600", here)
        if op == "birthday within days" and value > 366:
            raise DefinitionError("must be at most 366 days", here)
        return Comparison(op, value, kind)
    if op in _TEXT_OPS:
        if kind not in ("string", "list") or (op == "starts with" and kind == "list"):
            raise DefinitionError(f"`{op}` needs text; this is {kind}", f"{path}.op")
        if not isinstance(value, str) or not value:
            raise DefinitionError("must be non-empty text", here)
        return Comparison(op, value, kind)
    if kind in ("list", "object"):
        raise DefinitionError(f"`{op}` cannot compare a {kind}; use contains, is set or is not set", f"{path}.op")
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise DefinitionError("must be a non-empty list", here)
        return Comparison(op, tuple(_scalar(v, kind, f"{here}[{i}]") for i, v in enumerate(value)), kind)
    if op == "between":
        if kind not in _ORDERED or not isinstance(value, list) or len(value) != 2:
            raise DefinitionError("must be two values [low, high]", here)
        low, high = (_scalar(v, kind, f"{here}[{i}]") for i, v in enumerate(value))
        if high < low:
            raise DefinitionError("high is below low", here)
        return Comparison(op, (low, high), kind)
    if op in ("<", "<=", ">", ">=") and kind not in _ORDERED:
        raise DefinitionError(f"`{op}` needs a number, a date or text; this is {kind}", f"{path}.op")
    return Comparison(op, _scalar(value, kind, here), kind)


def _scalar(value: Any, kind: ValueType, path: str) -> Any:
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DefinitionError(f"must be a number, not {value!r}", path)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise DefinitionError(f"must be true or false, not {value!r}", path)
        return value
    if kind in ("date", "timestamp"):
        return _date(value, path) if kind == "date" else _instant(value, path)
    if not isinstance(value, str):
        raise DefinitionError(f"must be text, not {value!r}", path)
    return value


def _date(value: Any, path: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DefinitionError(f"must be a date YYYY-MM-DD, not {value!r}", path) from None


def _instant(value: Any, path: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise DefinitionError(f"must be a date or an ISO 8601 time, not {value!r}", path) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _suggest(name: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(dict.fromkeys(known)), n=3)
    if close:
        return f"; did you mean {', '.join(repr(c) for c in close)}?"
    listed = ", ".join(sorted(known)[:12])
    return f" (known: {listed}{', ...' if len(known) > 12 else ''})" if known else ""
