"""Segment definitions: every node kind parses into its checked form, and every mistake is a ``DefinitionError`` whose
``path`` names the node that is wrong (pure: no store, no engine)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from c360.errors import InvalidInput
from c360.segments.catalog import SPEC_EVENTS, SPEC_TRAITS
from c360.segments.compile import RFM_COLUMNS
from c360.segments.computed import DEFAULT_TRAITS, ComputedTrait
from c360.segments.definition import (
    OPS,
    AllOf,
    AnyOf,
    Catalog,
    Comparison,
    Definition,
    DefinitionError,
    EventCondition,
    LoyaltyCondition,
    NotOf,
    PropertyCondition,
    SegmentCondition,
    TraitCondition,
    Window,
    leaves,
    parse_definition,
)

CATALOG = Catalog(
    traits={**SPEC_TRAITS, "vip": "boolean", "score": "number", "tags": "list", "signup_date": "date"},
    computed={
        **{t.name: t.value_type for t in DEFAULT_TRAITS},
        **{c: ("string" if c == "rfm_group" else "number") for c in RFM_COLUMNS},
    },
    events=SPEC_EVENTS,
    segments=frozenset({"big_spenders", "vip_club"}),
)

ORDER = "Order Completed"


def parse(where: Any, *, name: str = "test_segment", **extra: Any) -> Definition:
    return parse_definition({"name": name, "where": where, **extra}, CATALOG)


def error(data: Any, **kwargs: Any) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data, CATALOG, **kwargs)
    return caught.value


def where_error(where: Any) -> DefinitionError:
    return error({"name": "test_segment", "where": where})


# --- every node kind -------------------------------------------------------------------------------------------


def test_a_trait_condition_of_a_profile_trait() -> None:
    node = parse({"trait": "city", "op": "=", "value": "Hà Nội"}).where
    assert node == TraitCondition("where", "city", False, Comparison("=", "Hà Nội", "string"))


def test_a_profile_trait_wins_over_a_computed_trait_of_the_same_name() -> None:
    catalog = Catalog(traits={"city": "string"}, computed={"city": "string", "total_spend_365d": "number"})
    node = parse_definition({"name": "x", "where": {"trait": "city", "op": "=", "value": "Huế"}}, catalog).where
    assert isinstance(node, TraitCondition)
    assert not node.computed
    computed = parse({"trait": "total_spend_365d", "op": ">", "value": 0}).where
    assert isinstance(computed, TraitCondition)
    assert computed.computed


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"trait": "score", "op": "between", "value": [10, 50]}, Comparison("between", (10, 50), "number")),
        ({"trait": "city", "op": "in", "value": ["Huế", "Hà Nội"]}, Comparison("in", ("Huế", "Hà Nội"), "string")),
        ({"trait": "city", "op": "not in", "value": ["Huế"]}, Comparison("not in", ("Huế",), "string")),
        ({"trait": "city", "op": "contains", "value": "Nội"}, Comparison("contains", "Nội", "string")),
        ({"trait": "city", "op": "starts with", "value": "Hà"}, Comparison("starts with", "Hà", "string")),
        ({"trait": "tags", "op": "contains", "value": "vip"}, Comparison("contains", "vip", "list")),
        ({"trait": "city", "op": "is set"}, Comparison("is set", None, "string")),
        ({"trait": "address", "op": "is not set"}, Comparison("is not set", None, "object")),
        ({"trait": "vip", "op": "=", "value": True}, Comparison("=", True, "boolean")),
        ({"trait": "vip", "op": "!=", "value": False}, Comparison("!=", False, "boolean")),
        ({"trait": "score", "op": ">=", "value": 2.5}, Comparison(">=", 2.5, "number")),
        (
            {"trait": "signup_date", "op": "between", "value": ["2025-01-01", "2025-12-31"]},
            Comparison("between", (dt.date(2025, 1, 1), dt.date(2025, 12, 31)), "date"),
        ),
        (
            {"trait": "createdAt", "op": ">", "value": "2026-01-01T07:00:00+07:00"},
            Comparison(">", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "timestamp"),
        ),
        (
            {"trait": "createdAt", "op": "<", "value": "2026-01-01"},  # a date alone is midnight UTC
            Comparison("<", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "timestamp"),
        ),
        ({"trait": "signup_date", "op": "within last days", "value": 30}, Comparison("within last days", 30, "date")),
        (
            {"trait": "last_order_at", "op": "more than days ago", "value": 0},
            Comparison("more than days ago", 0, "timestamp"),
        ),
        (
            {"trait": "birthday", "op": "birthday within days", "value": 366},
            Comparison("birthday within days", 366, "date"),
        ),
        ({"trait": "rfm_group", "op": "=", "value": "Champions"}, Comparison("=", "Champions", "string")),
    ],
)
def test_every_operator_parses_with_a_typed_value(where: dict[str, Any], expected: Comparison) -> None:
    node = parse(where).where
    assert isinstance(node, TraitCondition)
    assert node.test == expected


@pytest.mark.parametrize(
    ("extra", "measure", "test"),
    [
        ({}, "count", Comparison(">=", 1, "number")),
        ({"at_least": 3}, "count", Comparison(">=", 3, "number")),
        ({"at_most": 0}, "count", Comparison("<=", 0, "number")),
        ({"exactly": 2}, "count", Comparison("=", 2, "number")),
        ({"performed": True}, "count", Comparison(">=", 1, "number")),
        ({"performed": False}, "count", Comparison("=", 0, "number")),
        ({"sum": "total", "op": ">=", "value": 1_000_000}, "sum", Comparison(">=", 1_000_000, "number")),
        ({"avg": "total", "op": "<", "value": 100.5}, "avg", Comparison("<", 100.5, "number")),
        ({"min": "discount", "op": "=", "value": 0}, "min", Comparison("=", 0, "number")),
        ({"max": "tax", "op": "between", "value": [1, 2]}, "max", Comparison("between", (1, 2), "number")),
    ],
)
def test_event_measures(extra: dict[str, Any], measure: str, test: Comparison) -> None:
    node = parse({"event": ORDER, **extra}).where
    assert isinstance(node, EventCondition)
    assert (node.event, node.measure, node.test, node.window) == (ORDER, measure, test, Window())
    assert node.property == (extra.get(measure) if measure in ("sum", "avg", "min", "max") else None)


@pytest.mark.parametrize(
    ("extra", "window"),
    [
        ({"within_days": 30}, Window(within_days=30)),
        ({"between": ["2026-01-01", "2026-01-31"]}, Window(between=(dt.date(2026, 1, 1), dt.date(2026, 1, 31)))),
        ({"between": ["2026-01-01", "2026-01-01"]}, Window(between=(dt.date(2026, 1, 1), dt.date(2026, 1, 1)))),
        ({"since_trait": "createdAt"}, Window(since_trait="createdAt")),
        ({"since_trait": "first_order_at"}, Window(since_trait="first_order_at", since_computed=True)),
    ],
)
def test_event_windows(extra: dict[str, Any], window: Window) -> None:
    node = parse({"event": "Product Viewed", **extra}).where
    assert isinstance(node, EventCondition)
    assert node.window == window


@pytest.mark.parametrize("which", ["first", "last"])
def test_an_occurrence_is_tested_by_its_window(which: str) -> None:
    node = parse({"event": ORDER, "occurrence": which, "within_days": 30}).where
    assert isinstance(node, EventCondition)
    assert (node.measure, node.property, node.window) == (which, None, Window(within_days=30))
    assert node.test == Comparison("is set", None, "timestamp")


def test_event_property_conditions() -> None:
    node = parse(
        {
            "event": ORDER,
            "where": [
                {"property": "payment_method", "op": "in", "value": ["cod", "momo"]},
                {"property": "total", "op": ">", "value": 500_000},
                {"property": "coupon", "op": "is set"},
            ],
            "at_least": 2,
        }
    ).where
    assert isinstance(node, EventCondition)
    assert node.where == (
        PropertyCondition("where.where[0]", "payment_method", Comparison("in", ("cod", "momo"), "string")),
        PropertyCondition("where.where[1]", "total", Comparison(">", 500_000, "number")),
        PropertyCondition("where.where[2]", "coupon", Comparison("is set", None, "string")),
    )


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (
            {"loyalty": "tier", "op": "in", "value": ["Gold", "Diamond"]},
            Comparison("in", ("Gold", "Diamond"), "string"),
        ),
        ({"loyalty": "points", "op": ">=", "value": 1000}, Comparison(">=", 1000, "number")),
        ({"loyalty": "points_pending", "op": ">", "value": 0}, Comparison(">", 0, "number")),
        ({"loyalty": "tier", "op": "is not set"}, Comparison("is not set", None, "string")),
    ],
)
def test_loyalty_conditions(where: dict[str, Any], expected: Comparison) -> None:
    node = parse(where).where
    assert node == LoyaltyCondition("where", where["loyalty"], expected)


def test_a_tree_of_all_any_not_and_segments_keeps_the_paths_and_the_order() -> None:
    definition = parse(
        {
            "all": [
                {"segment": "big_spenders"},
                {"any": [{"trait": "vip", "op": "=", "value": True}, {"loyalty": "tier", "op": "=", "value": "Gold"}]},
                {"not": {"event": "Ticket Created", "within_days": 90}},
            ]
        },
        title="Happy big spenders",
        description="spend a lot, no complaints",
    )
    root = definition.where
    assert isinstance(root, AllOf)
    first, second, third = root.children
    assert first == SegmentCondition("where.all[0]", "big_spenders")
    assert isinstance(second, AnyOf)
    assert [c.path for c in second.children] == ["where.all[1].any[0]", "where.all[1].any[1]"]
    assert isinstance(third, NotOf)
    assert third.child.path == "where.all[2].not"
    assert [leaf.path for leaf in leaves(root)] == [
        "where.all[0]",
        "where.all[1].any[0]",
        "where.all[1].any[1]",
        "where.all[2].not",
    ]
    assert definition.segments_used() == {"big_spenders"}
    assert (definition.title, definition.description) == ("Happy big spenders", "spend a lot, no complaints")


def test_the_source_is_what_was_written_and_the_title_defaults_to_the_name() -> None:
    where = {"trait": "city", "op": "=", "value": "Huế"}
    definition = parse(where)
    assert definition.source == {"name": "test_segment", "where": where}
    assert definition.title == "test_segment"
    assert definition.description == ""


def test_the_name_may_come_from_the_url() -> None:
    definition = parse_definition({"where": {"trait": "city", "op": "is set"}}, CATALOG, name="from_url")
    assert definition.name == "from_url"
    assert definition.source["name"] == "from_url"


# --- errors point at the node ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "path", "reason"),
    [
        # unknown names
        (
            {"all": [{"trait": "city", "op": "is set"}, {"trait": "colour", "op": "=", "value": "red"}]},
            "where.all[1].trait",
            "no trait 'colour'",
        ),
        ({"event": "Order Exploded"}, "where.event", "no event 'Order Exploded'"),
        (
            {"event": ORDER, "where": [{"property": "colour", "op": "=", "value": "red"}]},
            "where.where[0].property",
            "no property 'colour'",
        ),
        ({"event": ORDER, "sum": "colour", "op": ">", "value": 1}, "where.sum", "has no property 'colour'"),
        ({"event": ORDER, "avg": "coupon", "op": ">", "value": 1}, "where.avg", "needs a number property"),
        ({"segment": "nobody_knows"}, "where.segment", "no segment 'nobody_knows'"),
        ({"loyalty": "stars", "op": ">", "value": 1}, "where.loyalty", "must be one of tier, points"),
        # the wrong type for the operator
        ({"trait": "score", "op": "contains", "value": "5"}, "where.op", "`contains` needs text; this is number"),
        ({"trait": "vip", "op": ">", "value": True}, "where.op", "`>` needs a number, a date or text"),
        ({"trait": "city", "op": "birthday within days", "value": 7}, "where.op", "needs a date trait"),
        ({"trait": "city", "op": "within last days", "value": 7}, "where.op", "needs a date trait"),
        ({"trait": "tags", "op": "=", "value": "vip"}, "where.op", "cannot compare a list"),
        ({"trait": "address", "op": "in", "value": ["x"]}, "where.op", "cannot compare a object"),
        ({"trait": "vip", "op": "between", "value": [False, True]}, "where.value", "two values [low, high]"),
        ({"trait": "score", "op": "=", "value": "ten"}, "where.value", "must be a number, not 'ten'"),
        ({"trait": "score", "op": "=", "value": True}, "where.value", "must be a number, not True"),
        ({"trait": "vip", "op": "=", "value": "yes"}, "where.value", "must be true or false"),
        ({"trait": "city", "op": "=", "value": 5}, "where.value", "must be text, not 5"),
        ({"trait": "city", "op": "in", "value": ["Huế", 5]}, "where.value[1]", "must be text, not 5"),
        ({"trait": "signup_date", "op": ">", "value": "yesterday"}, "where.value", "must be a date YYYY-MM-DD"),
        ({"trait": "createdAt", "op": ">", "value": "soon"}, "where.value", "must be a date or an ISO 8601 time"),
        ({"loyalty": "points", "op": ">", "value": "many"}, "where.value", "must be a number"),
        (
            {"event": ORDER, "where": [{"property": "total", "op": "starts with", "value": "1"}]},
            "where.where[0].op",
            "needs text",
        ),
        # values that are missing or wrong in shape
        ({"trait": "city", "op": "="}, "where.value", "`=` needs a value"),
        ({"trait": "city"}, "where.op", "must be one of"),
        ({"trait": "city", "op": "like", "value": "x"}, "where.op", "must be one of"),
        ({"trait": "city", "op": "is set", "value": "x"}, "where.value", "takes no value"),
        ({"trait": "city", "op": "in", "value": []}, "where.value", "non-empty list"),
        ({"trait": "city", "op": "in", "value": "Huế"}, "where.value", "non-empty list"),
        ({"trait": "city", "op": "contains", "value": ""}, "where.value", "non-empty text"),
        ({"trait": "score", "op": "between", "value": [50, 10]}, "where.value", "high is below low"),
        ({"trait": "score", "op": "between", "value": [1, 2, 3]}, "where.value", "two values [low, high]"),
        (
            {"trait": "signup_date", "op": "between", "value": ["2026-02-01", "2026-01-01"]},
            "where.value",
            "high is below low",
        ),
        ({"trait": "birthday", "op": "birthday within days", "value": 400}, "where.value", "at most 366"),
        ({"trait": "birthday", "op": "within last days", "value": -1}, "where.value", "from 0 to 36600"),
        ({"trait": "birthday", "op": "within last days", "value": 1.5}, "where.value", "from 0 to 36600"),
        ({"trait": "", "op": "is set"}, "where.trait", "must be a trait name"),
        # unknown keys
        ({"trait": "city", "op": "is set", "colour": "red"}, "where.colour", "unknown key here"),
        ({"event": ORDER, "colour": "red"}, "where.colour", "unknown key here"),
        ({"segment": "big_spenders", "op": "="}, "where.op", "unknown key here"),
        ({"all": [{"trait": "city", "op": "is set"}], "title": "x"}, "where.title", "unknown key here"),
        ({"event": ORDER, "where": [{"property": "total", "op": "is set", "x": 1}]}, "where.where[0].x", "unknown"),
        # the shape of an event condition
        ({"event": ORDER, "at_least": 2, "at_most": 5}, "where.at_most", "use one of at_least and at_most"),
        (
            {"event": ORDER, "exactly": 1, "sum": "total", "op": ">", "value": 1},
            "where.sum",
            "use one of exactly and sum",
        ),
        ({"event": ORDER, "occurrence": "first", "performed": True}, "where.occurrence", "not both"),
        ({"event": ORDER, "occurrence": "first"}, "where", "say when the first or last occurrence must fall"),
        ({"event": ORDER, "occurrence": "middle", "within_days": 3}, "where.occurrence", "must be first or last"),
        ({"event": ORDER, "at_least": 2, "op": ">", "value": 1}, "where.op", "op and value go with"),
        ({"event": ORDER, "value": 1}, "where.value", "op and value go with"),
        ({"event": ORDER, "at_least": -1}, "where.at_least", "0 or more"),
        ({"event": ORDER, "exactly": "two"}, "where.exactly", "0 or more"),
        ({"event": ORDER, "at_most": True}, "where.at_most", "0 or more"),
        ({"event": ORDER, "performed": "yes"}, "where.performed", "must be true or false"),
        ({"event": ORDER, "sum": "total", "value": 1}, "where.op", "must be one of"),
        ({"event": ORDER, "where": {"property": "total"}}, "where.where", "must be a list"),
        ({"event": ORDER, "where": ["total"]}, "where.where[0]", "must be {property, op, value}"),
        # windows
        ({"event": ORDER, "within_days": 0}, "where.within_days", "from 1 to 36600"),
        ({"event": ORDER, "within_days": "30"}, "where.within_days", "from 1 to 36600"),
        ({"event": ORDER, "within_days": 30, "between": ["2026-01-01", "2026-01-02"]}, "where.between", "not both"),
        ({"event": ORDER, "between": ["2026-02-01", "2026-01-01"]}, "where.between", "before the first"),
        ({"event": ORDER, "between": ["2026-01-01"]}, "where.between", "two dates"),
        ({"event": ORDER, "between": ["2026-01-01", "soon"]}, "where.between[1]", "must be a date"),
        ({"event": ORDER, "since_trait": "city"}, "where.since_trait", "trait 'city' is string, not a date"),
        ({"event": ORDER, "since_trait": "colour"}, "where.since_trait", "no trait 'colour'"),
        # the shape of the tree
        ({}, "where", "a condition is a mapping"),
        ("city", "where", "a condition is a mapping"),
        ({"all": []}, "where.all", "non-empty list"),
        ({"any": {"trait": "city", "op": "is set"}}, "where.any", "non-empty list"),
        ({"trait": "city", "event": ORDER, "op": "is set"}, "where", "both trait and event"),
        ({"colour": "red"}, "where", "none of them"),
        ({"not": [{"trait": "city", "op": "is set"}]}, "where.not", "a condition is a mapping"),
        (
            {"any": [{"trait": "city", "op": "is set"}, {"all": [{"not": {"segment": "nobody"}}]}]},
            "where.any[1].all[0].not.segment",
            "no segment 'nobody'",
        ),
    ],
)
def test_a_bad_node_is_named_by_its_path(where: Any, path: str, reason: str) -> None:
    caught = where_error(where)
    assert caught.path == path
    assert reason in caught.reason
    # the message a user reads starts with the path (the API's field, the CLI's line)
    assert isinstance(caught, InvalidInput)
    assert caught.field == path
    assert str(caught).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        ({"name": "Big Spenders", "where": {"trait": "city", "op": "is set"}}, "name", "lower-case letters"),
        ({"name": "1st", "where": {"trait": "city", "op": "is set"}}, "name", "starting with a letter"),
        ({"name": "a" * 64, "where": {"trait": "city", "op": "is set"}}, "name", "1-63"),
        ({"name": "", "where": {"trait": "city", "op": "is set"}}, "name", "1-63"),
        ({"where": {"trait": "city", "op": "is set"}}, "name", "1-63"),
        ({"name": "ok"}, "where", "is required"),
        ({"name": "ok", "where": {"trait": "city", "op": "is set"}, "colour": "red"}, "colour", "unknown key"),
        ({"name": "ok", "where": {"trait": "city", "op": "is set"}, "title": 5}, "title", "must be text"),
        ([{"name": "ok"}], "definition", "a mapping with `name` and `where`"),
    ],
)
def test_a_bad_definition_is_named_by_its_key(data: Any, path: str, reason: str) -> None:
    caught = error(data)
    assert (caught.path, reason in caught.reason) == (path, True), caught.reason


def test_the_name_in_the_body_must_agree_with_the_url() -> None:
    caught = error({"name": "other", "where": {"trait": "city", "op": "is set"}}, name="from_url")
    assert caught.path == "name"
    assert "must be 'from_url'" in caught.reason


def test_a_segment_cannot_contain_itself() -> None:
    catalog = Catalog(traits={"city": "string"}, segments=frozenset({"loop", "other"}))
    where = {"any": [{"segment": "other"}, {"not": {"segment": "loop"}}]}
    with pytest.raises(DefinitionError) as caught:
        parse_definition({"name": "loop", "where": where}, catalog)
    assert caught.value.path == "where.any[1].not.segment"
    assert "cannot contain itself" in caught.value.reason


def test_nesting_is_limited_and_the_error_names_the_level_too_deep() -> None:
    leaf: dict[str, Any] = {"trait": "city", "op": "is set"}
    ok: dict[str, Any] = leaf
    for _ in range(12):
        ok = {"not": ok}
    assert isinstance(parse(ok).where, NotOf)
    deep = {"not": ok}
    caught = where_error(deep)
    assert caught.path == "where" + ".not" * 13
    assert "nested deeper than 12 levels" in caught.reason


def test_nesting_counts_all_and_any_too() -> None:
    node: dict[str, Any] = {"trait": "city", "op": "is set"}
    for i in range(14):
        node = {"all": [node]} if i % 2 else {"any": [node]}
    caught = where_error(node)
    assert caught.path.count("[0]") == 13
    assert "nested deeper" in caught.reason


# --- suggestions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "suggested"),
    [
        ({"trait": "total_spend_356d", "op": ">", "value": 1}, "did you mean 'total_spend_365d'"),
        ({"trait": "frist_order_at", "op": "is set"}, "did you mean 'first_order_at'"),
        ({"trait": "birthdya", "op": "is set"}, "did you mean 'birthday'"),
        ({"event": "Order Complete"}, "did you mean 'Order Completed'"),
        ({"event": "Prodcut Viewed"}, "did you mean 'Product Viewed'"),
        ({"event": ORDER, "where": [{"property": "totl", "op": ">", "value": 1}]}, "did you mean 'total'"),
        ({"event": ORDER, "sum": "totl", "op": ">", "value": 1}, "did you mean 'total'"),
    ],
)
def test_a_typo_gets_a_suggestion(where: dict[str, Any], suggested: str) -> None:
    assert suggested in where_error(where).reason


def test_without_a_close_name_the_known_names_are_listed() -> None:
    catalog = Catalog(events={"Signed Up": {"plan": "string"}})
    with pytest.raises(DefinitionError) as caught:
        parse_definition({"name": "x", "where": {"event": "Signed Up", "sum": "zzz", "op": ">", "value": 1}}, catalog)
    assert caught.value.reason == "event 'Signed Up' has no property 'zzz' (known: plan)"
    with pytest.raises(DefinitionError) as unknown:
        parse_definition({"name": "x", "where": {"segment": "zzz"}}, catalog)
    assert unknown.value.reason == "no segment 'zzz' (known: none yet)"


# --- found while testing: definitions accepted that mean nothing -------------------------------------------------


def test_starts_with_is_refused_for_a_list() -> None:
    caught = where_error({"trait": "tags", "op": "starts with", "value": "vip"})
    assert caught.path == "where.op"


def test_an_occurrence_refuses_op_and_value() -> None:
    caught = where_error({"event": ORDER, "occurrence": "first", "within_days": 30, "op": ">", "value": 5})
    assert caught.path == "where.op"


def test_last_nps_compares_as_a_number() -> None:
    # detractors: `last_nps <= 6` must not compare text (where "10" <= "6")
    node = parse({"trait": "last_nps", "op": "<=", "value": 6}).where
    assert isinstance(node, TraitCondition)
    assert node.test == Comparison("<=", 6, "number")


# --- the user's page names every node, operator and default computed trait ----------------------------------------

DOC = (Path(__file__).resolve().parents[2] / "docs" / "segments.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("op", OPS)
def test_the_docs_show_every_operator(op: str) -> None:
    assert f"`{op}`" in DOC


@pytest.mark.parametrize(
    "key",
    ["all: [...]", "any: [...]", "not: NODE", "trait: NAME", "event: NAME", "segment: NAME", "loyalty: tier",
     "at_least: N", "at_most: N", "exactly: N", "performed: true", "sum \\| avg \\| min \\| max", "occurrence: first",
     "within_days: N", "between: [FIRST, LAST]", "since_trait: TRAIT"],
)  # fmt: skip
def test_the_docs_show_every_node_measure_and_window(key: str) -> None:
    assert f"`{key}" in DOC


@pytest.mark.parametrize("trait", DEFAULT_TRAITS, ids=lambda t: t.name)
def test_the_docs_list_every_default_computed_trait_with_its_group(trait: ComputedTrait) -> None:
    assert f"| `{trait.name}` | {trait.group} | " in DOC
