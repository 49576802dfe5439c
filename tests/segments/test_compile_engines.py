"""Computed traits, RFM and segments compiled to SQL, run on DuckDB AND Spark over hand-made events whose right
answers are written out below, at a fixed ``as_of`` (so the answers hold whenever the test runs); then the full
build over the harness's generated lake, DuckDB against Spark.

The workspace zone is Asia/Ho_Chi_Minh (UTC+7): AS_OF is 2026-03-01T17:30Z, which is 00:30 on 2 March locally, so
"today" is 2 March and an order at 23:59 on 1 March (local) was yesterday.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pytest

from c360.engines import Engine
from c360.lake import EVENT_SCHEMA
from c360.lake.convert import messages_to_table
from c360.segments import compile as sc
from c360.segments import rfm
from c360.segments.catalog import SPEC_EVENTS, SPEC_TRAITS
from c360.segments.computed import DEFAULT_TRAITS, ComputedTrait
from c360.segments.definition import Catalog, Definition, parse_definition
from c360.services.segments import IDENTITY_SCHEMA, LOYALTY_SCHEMA, PROFILE_SCHEMA, places, ready_made
from tests.engine_harness import normalise_value
from tests.engines.data import LakeData

ZONE = "Asia/Ho_Chi_Minh"
LOCAL = ZoneInfo(ZONE)
AS_OF = dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.UTC)
ORDER = "Order Completed"
SURVEY = "Survey Answered"
VIEW = "Product Viewed"

CATALOG = Catalog(
    traits={**SPEC_TRAITS, "vip": "boolean", "score": "number", "tags": "list", "signup_date": "date"},
    computed={
        **{t.name: t.value_type for t in DEFAULT_TRAITS},
        **{c: ("string" if c == "rfm_group" else "number") for c in sc.RFM_COLUMNS},
    },
    events=SPEC_EVENTS,
)


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    """The instant (UTC) of a wall-clock time in the workspace zone."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=LOCAL).astimezone(dt.UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


# --- the data ---------------------------------------------------------------------------------------------------

Event = tuple[str, dict[str, Any]]  # (source, message)
_seq = iter(range(1, 1_000_000))


def event(
    user: str | None,
    name: str,
    at: dt.datetime,
    *,
    source: str = "web",
    anonymous: str | None = None,
    **properties: Any,
) -> Event:
    message: dict[str, Any] = {
        "type": "track",
        "event": name,
        "messageId": f"m{next(_seq):04d}",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "properties": properties,
    }
    if user is not None:
        message["userId"] = user
    if anonymous is not None:
        message["anonymousId"] = anonymous
    return source, message


def order(user: str | None, at: dt.datetime, total: int, category: str, payment: str, **kw: Any) -> Event:
    products = [{"category": category, "price": total}, {"category": "Phụ kiện", "price": 0}]
    return event(user, ORDER, at, total=total, currency="VND", payment_method=payment, products=products, **kw)


def survey(user: str, at: dt.datetime, nps: int, rating: int, review: str | None) -> Event:
    return event(user, SURVEY, at, nps=nps, rating=rating, **({"review": review} if review else {}))


EVENTS: list[Event] = [
    # an: five orders in the year, a tie of categories (2 and 2: the smaller text wins), the last at 23:59 yesterday
    order("u_an", local(2025, 6, 10), 1_000_000, "Mỹ phẩm", "cod", source="app"),
    order("u_an", local(2025, 9, 10), 1_000_000, "Thời trang", "card"),
    order("u_an", local(2025, 12, 20), 1_000_000, "Thời trang", "cod", source="app"),
    order("u_an", local(2026, 2, 20), 1_000_000, "Mỹ phẩm", "card"),
    order("u_an", local(2026, 3, 1, 23, 59), 1_000_000, "Giày", "cod", source="app"),
    survey("u_an", local(2025, 12, 1), 3, 4, "Giao hàng chậm"),
    survey("u_an", local(2026, 2, 25), 9, 5, "Tuyệt vời, giao nhanh!"),
    *[event("u_an", "Email Delivered", local(2026, 2, day)) for day in (5, 10, 15, 20)],
    event("u_an", "Email Delivered", local(2026, 1, 20)),  # 41 days ago
    *[event("u_an", "Email Opened", local(2026, 2, day)) for day in (5, 10)],
    event("u_an", "Email Link Clicked", local(2026, 2, 10)),
    # a userId wins over an anonymousId that belongs to someone else
    event("u_an", VIEW, local(2026, 2, 25), anonymous="anon-binh"),
    *[event("u_an", VIEW, local(2026, 2, day)) for day in (26, 27)],
    event("u_an", VIEW, local(2026, 1, 15)),
    event("u_an", "Ticket Created", local(2026, 1, 10)),
    event("u_an", "Ticket Created", local(2025, 11, 1)),  # 121 days ago
    # binh: one order at 00:00 today; "không hài lòng" holds "hài lòng" and is still negative
    order("u_binh", local(2026, 3, 2, 0, 0), 500_000, "Giày", "momo"),
    survey("u_binh", local(2026, 2, 28), 6, 2, "Không hài lòng"),
    # chi: an order 400 days ago (outside every window but `ever`), one 200 days ago; a neutral review
    order("u_chi", local(2025, 1, 26), 9_900_000, "Túi", "card", source="pos"),
    order("u_chi", local(2025, 8, 14), 300_000, "Áo", "cash", source="pos"),
    survey("u_chi", local(2025, 6, 1), 8, 3, "ok"),
    *[event("u_chi", "Email Delivered", local(2026, 2, day)) for day in (1, 2)],
    # dung: never ordered (one order AFTER as_of must not count), views before and after her createdAt
    event("u_dung", VIEW, local(2026, 2, 10)),
    event("u_dung", VIEW, local(2026, 2, 28)),
    survey("u_dung", local(2026, 1, 5), 10, 1, "bad experience"),
    survey("u_dung", local(2026, 1, 6), 7, 1, None),  # no review: no sentiment vote
    *[event("u_dung", "Ticket Created", local(2026, 2, day)) for day in (1, 2)],
    order("u_dung", local(2026, 3, 5), 700_000, "Giày", "cod"),
    # em: anonymous only, one order at 06:00 local on 31 January (still 30 January in UTC)
    order(None, local(2026, 1, 31, 6, 0), 500_000, "Mỹ phẩm", "cod", anonymous="anon-em"),
    # hoa: two orders, the last 30 local days ago like em's
    order("u_hoa", local(2025, 12, 15), 300_000, "Giày", "card", source="app"),
    order("u_hoa", local(2026, 1, 31, 20, 0), 500_000, "Giày", "card", source="app"),
    # nobody's
    order("u_ghost", local(2026, 2, 1), 9_000_000, "Giày", "cod"),
]

IDENTITIES = [
    ("user_id", "u_an", "an"),
    ("user_id", "u_binh", "binh"),
    ("anonymous_id", "anon-binh", "binh"),
    ("user_id", "u_chi", "chi"),
    ("user_id", "u_dung", "dung"),
    ("anonymous_id", "anon-em", "em"),
    ("user_id", "u_hoa", "hoa"),
    ("external_id", "crm:giang", "giang"),
]

PROFILES: dict[str, dict[str, Any]] = {
    "an": {
        "birthday": "1990-03-02",  # 36 today
        "province": "HN",
        "city": "Hà Nội",
        "tags": ["vip", "Hà Nội"],
        "vip": True,
        "score": 80,
        "signup_date": "2025-01-15",
        "createdAt": "2025-01-15T03:00:00Z",
    },
    "binh": {
        "birthday": "2008-03-03",
        "city": "Huế",
        "vip": False,
        "score": 10,
        "tags": ["new"],
        "province": "Atlantis",
    },  # 18 tomorrow
    "chi": {"birthday": "2008-03-02", "city": "Hà Nội", "score": 50, "province": "Quảng Nam"},  # 18 today
    "dung": {
        "birthday": "1961-03-05",
        "score": 30.5,
        "signup_date": "2026-02-20",
        "createdAt": "2026-02-15T00:00:00+07:00",
    },
    "em": {},
    "hoa": {"birthday": "1996-02-29", "city": "Hà Nội", "tags": []},
    "giang": {},
}

LOYALTY = [("an", "Gold", 1200, 0), ("binh", "Member", 50, 20), ("em", "Silver", 0, 0)]

EVERYONE = frozenset(PROFILES)


def event_table(events: Sequence[Event]) -> pa.Table:
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for source, message in events:
        by_source[source].append(message)
    tables, seq = [], 1
    for source, messages in sorted(by_source.items()):
        tables.append(messages_to_table(messages, first_seq=seq, source=source, received_at=AS_OF))
        seq += len(messages)
    return pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()


def register(
    engine: Engine,
    events: pa.Table | Sequence[Path],
    identities: Sequence[tuple[str, str, str]],
    profiles: dict[str, dict[str, Any]],
    loyalty: Sequence[tuple[str, str, int, int]],
) -> None:
    if isinstance(events, pa.Table):
        engine.register_arrow(sc.EVENTS, events)
    else:
        engine.register_parquet(sc.EVENTS, events, EVENT_SCHEMA)
    ids = [{"id_type": t, "id_value": v, "profile_id": p} for t, v, p in identities]
    engine.register_arrow(sc.IDENTITIES, pa.Table.from_pylist(ids, schema=IDENTITY_SCHEMA))
    rows = [{"profile_id": p, "traits": orjson.dumps(traits).decode()} for p, traits in profiles.items()]
    engine.register_arrow(sc.PROFILES, pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA))
    members = [
        {"profile_id": p, "loyalty_tier": tier, "loyalty_points": points, "loyalty_pending": pending}
        for p, tier, points, pending in loyalty
    ]
    engine.register_arrow(sc.LOYALTY, pa.Table.from_pylist(members, schema=LOYALTY_SCHEMA))


@pytest.fixture
def hand_made(engine: Engine) -> Engine:
    register(engine, event_table(EVENTS), IDENTITIES, PROFILES, LOYALTY)
    return engine


def plan_on(
    engine: Engine, traits: Sequence[ComputedTrait], defs: Sequence[Definition], as_of: dt.datetime = AS_OF, **kw: Any
) -> sc.Plan:
    """A plan as the build makes it: the province names of the registered profiles read first."""
    return sc.Plan(as_of, ZONE, traits, defs, places=places(engine, traits), **kw)


def run(engine: Engine, plan: sc.Plan) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """Build ``plan``: (profile id -> computed trait columns, segment -> member ids)."""
    for table, query in plan.tables():
        engine.materialize(table, query)
    columns = plan.trait_columns()
    computed = engine.sql(f"SELECT profile_id, {', '.join(columns)} FROM {sc.COMPUTED}").to_pylist()
    traits = {row["profile_id"]: {c: normalise_value(row[c]) for c in columns} for row in computed}
    members: dict[str, set[str]] = {d.name: set() for d in plan.definitions}
    for row in engine.sql(f"SELECT * FROM {sc.MEMBERS}").to_pylist():
        for d in plan.definitions:
            assert row[d.name] is not None, f"{d.name}: a membership is never NULL"
            if row[d.name]:
                members[d.name].add(row["profile_id"])
    return traits, members


def definition(name: str, where: dict[str, Any], catalog: Catalog = CATALOG) -> Definition:
    return parse_definition({"name": name, "where": where}, catalog)


# --- every computed trait ---------------------------------------------------------------------------------------

NOTHING: dict[str, Any] = {
    "total_spend_365d": 0,
    "orders_365d": 0,
    "orders_90d": 0,
    "aov_365d": None,
    "first_order_at": None,
    "last_order_at": None,
    "days_since_last_order": None,
    "favourite_category": None,
    "preferred_channel": None,
    "preferred_payment_method": None,
    "product_views_30d": 0,
    "emails_delivered_30d": 0,
    "emails_opened_30d": 0,
    "emails_clicked_30d": 0,
    "email_open_rate_30d": None,
    "email_click_rate_30d": None,
    "support_tickets_90d": 0,
    "last_nps": None,
    "average_rating": None,
    "review_sentiment": None,
    "age_band": None,
    "home_province": None,
    "rfm_recency_days": None,
    "rfm_frequency": None,
    "rfm_monetary": None,
    "rfm_r": None,
    "rfm_f": None,
    "rfm_m": None,
    "rfm_group": None,
}

# RFM over the five who ordered in the year (n = 5: score = min(5, 1 + 5 * (rank - 1) // 4), worst first):
#   recency days  chi 200 (1) | em 30, hoa 30 (tie: rank 2 -> 2) | an 1 (rank 4 -> 4) | binh 0 (5)
#   frequency     binh, chi, em 1 (tie: rank 1 -> 1) | hoa 2 (rank 4 -> 4) | an 5 (5)
#   monetary      chi 300k (1) | binh, em 500k (tie: rank 2 -> 2) | hoa 800k (4) | an 5M (5)
EXPECTED_TRAITS: dict[str, dict[str, Any]] = {
    "an": NOTHING
    | {
        "total_spend_365d": 5_000_000,
        "orders_365d": 5,
        "orders_90d": 3,
        "aov_365d": 1_000_000.0,
        "first_order_at": local(2025, 6, 10),
        "last_order_at": utc(2026, 3, 1, 16, 59),
        "days_since_last_order": 1,
        "favourite_category": "Mỹ phẩm",
        "preferred_channel": "app",
        "preferred_payment_method": "cod",
        "product_views_30d": 3,
        "emails_delivered_30d": 4,
        "emails_opened_30d": 2,
        "emails_clicked_30d": 1,
        "email_open_rate_30d": 0.5,
        "email_click_rate_30d": 0.25,
        "support_tickets_90d": 1,
        "last_nps": 9,
        "average_rating": 4.5,
        "review_sentiment": "positive",  # "chậm" -1, "tuyệt vời" +1, "nhanh" +1
        "age_band": "35-44",
        "home_province": "Hà Nội",  # written "HN"
        "rfm_recency_days": 1,
        "rfm_frequency": 5,
        "rfm_monetary": 5_000_000,
        "rfm_r": 4,
        "rfm_f": 5,
        "rfm_m": 5,
        "rfm_group": "Champions",
    },
    "binh": NOTHING
    | {
        "total_spend_365d": 500_000,
        "orders_365d": 1,
        "orders_90d": 1,
        "aov_365d": 500_000.0,
        "first_order_at": utc(2026, 3, 1, 17, 0),
        "last_order_at": utc(2026, 3, 1, 17, 0),
        "days_since_last_order": 0,
        "favourite_category": "Giày",
        "preferred_channel": "web",
        "preferred_payment_method": "momo",
        "last_nps": 6,
        "average_rating": 2.0,
        "review_sentiment": "negative",
        "age_band": "under 18",
        "home_province": "Atlantis",  # not a province: as written
        "rfm_recency_days": 0,
        "rfm_frequency": 1,
        "rfm_monetary": 500_000,
        "rfm_r": 5,
        "rfm_f": 1,
        "rfm_m": 2,
        "rfm_group": "New",
    },
    "chi": NOTHING
    | {
        "total_spend_365d": 300_000,
        "orders_365d": 1,
        "aov_365d": 300_000.0,
        "first_order_at": local(2025, 1, 26),
        "last_order_at": local(2025, 8, 14),
        "days_since_last_order": 200,
        "favourite_category": "Áo",
        "preferred_channel": "pos",
        "preferred_payment_method": "cash",
        "emails_delivered_30d": 2,
        "email_open_rate_30d": 0.0,
        "email_click_rate_30d": 0.0,
        "last_nps": 8,
        "average_rating": 3.0,
        "review_sentiment": "neutral",
        "age_band": "18-24",
        "home_province": "Đà Nẵng",  # written "Quảng Nam", merged into Đà Nẵng in 2025
        "rfm_recency_days": 200,
        "rfm_frequency": 1,
        "rfm_monetary": 300_000,
        "rfm_r": 1,
        "rfm_f": 1,
        "rfm_m": 1,
        "rfm_group": "Lost",
    },
    "dung": NOTHING
    | {
        "product_views_30d": 2,
        "support_tickets_90d": 2,
        "last_nps": 7,
        "average_rating": 1.0,
        "review_sentiment": "negative",
        "age_band": "55-64",
    },
    "em": NOTHING
    | {
        "total_spend_365d": 500_000,
        "orders_365d": 1,
        "orders_90d": 1,
        "aov_365d": 500_000.0,
        "first_order_at": utc(2026, 1, 30, 23, 0),
        "last_order_at": utc(2026, 1, 30, 23, 0),
        "days_since_last_order": 30,
        "favourite_category": "Mỹ phẩm",
        "preferred_channel": "web",
        "preferred_payment_method": "cod",
        "rfm_recency_days": 30,
        "rfm_frequency": 1,
        "rfm_monetary": 500_000,
        "rfm_r": 2,
        "rfm_f": 1,
        "rfm_m": 2,
        "rfm_group": "Hibernating",
    },
    "hoa": NOTHING
    | {
        "total_spend_365d": 800_000,
        "orders_365d": 2,
        "orders_90d": 2,
        "aov_365d": 400_000.0,
        "first_order_at": local(2025, 12, 15),
        "last_order_at": local(2026, 1, 31, 20, 0),
        "days_since_last_order": 30,
        "favourite_category": "Giày",
        "preferred_channel": "app",
        "preferred_payment_method": "card",
        "age_band": "25-34",  # born 29 February 1996: 30 on 2 March 2026
        "rfm_recency_days": 30,
        "rfm_frequency": 2,
        "rfm_monetary": 800_000,
        "rfm_r": 2,
        "rfm_f": 4,
        "rfm_m": 4,
        "rfm_group": "Can't Lose Them",
    },
    "giang": NOTHING,
}


def _comparable(traits: dict[str, Any]) -> dict[str, Any]:
    # last_nps is the last answer as the event carried it; compare it as a number whatever the column's type
    nps = traits["last_nps"]
    return traits | {"last_nps": None if nps is None else float(nps)}


def test_every_default_computed_trait_and_rfm(hand_made: Engine) -> None:
    plan = plan_on(hand_made, DEFAULT_TRAITS, ready_made())
    assert plan.trait_columns() == [*(t.name for t in DEFAULT_TRAITS), *sc.RFM_COLUMNS]
    assert set(NOTHING) == set(plan.trait_columns())
    traits, members = run(hand_made, plan)
    assert set(traits) == EVERYONE
    for profile, expected in EXPECTED_TRAITS.items():
        assert _comparable(traits[profile]) == _comparable(expected), profile
    # the ready-made segments follow the groups
    by_group: dict[str, set[str]] = {f"{rfm.SEGMENT_PREFIX}{g.slug}": set() for g in rfm.GROUPS}
    for profile, expected in EXPECTED_TRAITS.items():
        if expected["rfm_group"] is not None:
            slug = next(g.slug for g in rfm.GROUPS if g.name == expected["rfm_group"])
            by_group[f"{rfm.SEGMENT_PREFIX}{slug}"].add(profile)
    assert members == by_group


def test_the_features_are_one_scan_with_each_aggregate_once() -> None:
    plan = sc.Plan(AS_OF, ZONE, DEFAULT_TRAITS, [*ready_made(), *definitions()])
    sql = plan.features_sql()
    assert sql.count(f"FROM {sc.EVENTS} e") == 1
    lines = [line.strip().removeprefix("SELECT profile_id, ") for line in sql.splitlines()]
    aggregates = [re.sub(r" AS f\d+,?$", "", line) for line in lines if " FILTER (WHERE " in line]
    assert len(aggregates) > 20
    assert len(aggregates) == len(set(aggregates))
    # the two definitions asking for the same count share one column
    same = [definition("a", {"event": ORDER, "at_least": 3, "within_days": 365}),
            definition("b", {"event": ORDER, "at_most": 1, "within_days": 365})]  # fmt: skip
    shared = sc.Plan(AS_OF, ZONE, (), same, compute_traits=False)
    assert shared.features_sql().count("count(*) FILTER") == 1


# --- every node and operator: the exact members -----------------------------------------------------------------


def case(name: str, where: dict[str, Any], members: str = "") -> tuple[str, dict[str, Any], frozenset[str]]:
    """A definition and its members, named with spaces between them."""
    return name, where, frozenset(members.split())


CASES: list[tuple[str, dict[str, Any], frozenset[str]]] = [
    # profile traits: a missing trait matches only `is not set`
    case("city_eq", {"trait": "city", "op": "=", "value": "Hà Nội"}, "an chi hoa"),
    case("city_ne", {"trait": "city", "op": "!=", "value": "Hà Nội"}, "binh"),
    case("city_in", {"trait": "city", "op": "in", "value": ["Huế", "Đà Nẵng"]}, "binh"),
    case("city_not_in", {"trait": "city", "op": "not in", "value": ["Huế"]}, "an chi hoa"),
    case("city_set", {"trait": "city", "op": "is set"}, "an binh chi hoa"),
    case("city_not_set", {"trait": "city", "op": "is not set"}, "dung em giang"),
    case("city_contains", {"trait": "city", "op": "contains", "value": "Nội"}, "an chi hoa"),
    case("city_starts", {"trait": "city", "op": "starts with", "value": "Hu"}, "binh"),
    case("not_city", {"not": {"trait": "city", "op": "=", "value": "Hà Nội"}}, "binh dung em giang"),
    case("province_as_written", {"trait": "province", "op": "=", "value": "HN"}, "an"),
    case("in_hanoi", {"trait": "home_province", "op": "=", "value": "Hà Nội"}, "an"),
    case("in_da_nang", {"trait": "home_province", "op": "in", "value": ["Đà Nẵng", "Huế"]}, "chi"),
    case("score_gt", {"trait": "score", "op": ">", "value": 50}, "an"),
    case("score_ge", {"trait": "score", "op": ">=", "value": 50}, "an chi"),
    case("score_lt", {"trait": "score", "op": "<", "value": 30.5}, "binh"),
    case("score_le", {"trait": "score", "op": "<=", "value": 30.5}, "binh dung"),
    case("score_between", {"trait": "score", "op": "between", "value": [10, 50]}, "binh chi dung"),
    case("score_eq", {"trait": "score", "op": "=", "value": 30.5}, "dung"),
    case("score_in", {"trait": "score", "op": "in", "value": [10, 80]}, "an binh"),
    case("vip_true", {"trait": "vip", "op": "=", "value": True}, "an"),
    case("vip_false", {"trait": "vip", "op": "=", "value": False}, "binh"),
    case("vip_not_true", {"trait": "vip", "op": "!=", "value": True}, "binh"),
    case("tags_vip", {"trait": "tags", "op": "contains", "value": "vip"}, "an"),
    case("tags_hn", {"trait": "tags", "op": "contains", "value": "Hà Nội"}, "an"),
    case("tags_set", {"trait": "tags", "op": "is set"}, "an binh hoa"),
    case("signup_recent", {"trait": "signup_date", "op": "within last days", "value": 30}, "dung"),
    case("signup_old", {"trait": "signup_date", "op": "more than days ago", "value": 365}, "an"),
    case("signup_2025", {"trait": "signup_date", "op": "between", "value": ["2025-01-01", "2025-12-31"]}, "an"),
    case("signup_after", {"trait": "signup_date", "op": ">", "value": "2026-02-19"}, "dung"),
    case("created_after", {"trait": "createdAt", "op": ">", "value": "2026-01-01T00:00:00+07:00"}, "dung"),
    case("created_recent", {"trait": "createdAt", "op": "within last days", "value": 30}, "dung"),
    case("created_old", {"trait": "createdAt", "op": "more than days ago", "value": 30}, "an"),
    case("birthday_week", {"trait": "birthday", "op": "birthday within days", "value": 7}, "an binh chi dung"),
    case("birthday_today", {"trait": "birthday", "op": "birthday within days", "value": 0}, "an chi"),
    # computed traits
    case("big_spenders", {"trait": "total_spend_365d", "op": ">=", "value": 1_000_000}, "an"),
    case("fav_cosmetics", {"trait": "favourite_category", "op": "=", "value": "Mỹ phẩm"}, "an em"),
    case("unhappy", {"trait": "review_sentiment", "op": "=", "value": "negative"}, "binh dung"),
    case("young", {"trait": "age_band", "op": "in", "value": ["under 18", "18-24"]}, "binh chi"),
    case("engaged", {"trait": "email_open_rate_30d", "op": ">=", "value": 0.5}, "an"),
    case(
        "not_engaged", {"not": {"trait": "email_open_rate_30d", "op": ">=", "value": 0.5}}, "binh chi dung em giang hoa"
    ),
    case("recent_buyers", {"trait": "days_since_last_order", "op": "<=", "value": 1}, "an binh"),
    case("ordered_this_week", {"trait": "last_order_at", "op": "within last days", "value": 7}, "an binh"),
    case("first_order_long_ago", {"trait": "first_order_at", "op": "more than days ago", "value": 365}, "chi"),
    case("has_nps", {"trait": "last_nps", "op": "is set"}, "an binh chi dung"),
    case("rfm_recent", {"trait": "rfm_r", "op": ">=", "value": 4}, "an binh"),
    case("unscored", {"trait": "rfm_group", "op": "is not set"}, "dung giang"),
    # event counts
    case("orders_3plus", {"event": ORDER, "at_least": 3, "within_days": 365}, "an"),
    case("orders_at_most_1", {"event": ORDER, "at_most": 1, "within_days": 365}, "binh chi dung em giang"),
    case("orders_exactly_2", {"event": ORDER, "exactly": 2}, "chi hoa"),
    case("no_order_90d", {"event": ORDER, "performed": False, "within_days": 90}, "chi dung giang"),
    case("ordered_90d", {"event": ORDER, "performed": True, "within_days": 90}, "an binh em hoa"),
    case("ticket_ever", {"event": "Ticket Created"}, "an dung"),
    # aggregates of a property
    case("spend_1m", {"event": ORDER, "sum": "total", "op": ">=", "value": 1_000_000, "within_days": 365}, "an"),
    case(
        "spend_small",
        {"event": ORDER, "sum": "total", "op": "<", "value": 400_000, "within_days": 365},
        "chi dung giang",
    ),
    case("rating_avg_4", {"event": SURVEY, "avg": "rating", "op": ">=", "value": 4}, "an"),
    case("rating_min_2", {"event": SURVEY, "min": "rating", "op": "<=", "value": 2}, "binh dung"),
    case("nps_max_9", {"event": SURVEY, "max": "nps", "op": ">=", "value": 9}, "an dung"),
    case(
        "avg_order_between",
        {"event": ORDER, "avg": "total", "op": "between", "value": [400_000, 600_000]},
        "binh em hoa",
    ),
    # property conditions
    case(
        "paid_by_card",
        {"event": ORDER, "where": [{"property": "payment_method", "op": "=", "value": "card"}]},
        "an chi hoa",
    ),
    case("big_order", {"event": ORDER, "where": [{"property": "total", "op": ">", "value": 600_000}]}, "an chi"),
    case(
        "cod_or_momo_twice",
        {
            "event": ORDER,
            "where": [
                {"property": "payment_method", "op": "in", "value": ["cod", "momo"]},
                {"property": "total", "op": ">=", "value": 500_000},
            ],
            "at_least": 2,
        },
        "an",
    ),
    case("reviewed", {"event": SURVEY, "where": [{"property": "review", "op": "is set"}]}, "an binh chi dung"),
    case(
        "review_says_ok",
        {"event": SURVEY, "where": [{"property": "review", "op": "starts with", "value": "ok"}]},
        "chi",
    ),
    # windows: whole days of the workspace zone, the profile's own date
    case("ordered_today", {"event": ORDER, "between": ["2026-03-02", "2026-03-02"]}, "binh"),
    case("ordered_yesterday", {"event": ORDER, "between": ["2026-03-01", "2026-03-01"]}, "an"),
    case("ordered_in_february", {"event": ORDER, "between": ["2026-01-31", "2026-02-28"]}, "an em hoa"),
    case("viewed_since_signup", {"event": VIEW, "since_trait": "createdAt", "at_least": 1}, "an dung"),
    case("viewed_twice_since_signup", {"event": VIEW, "since_trait": "createdAt", "at_least": 2}, "an"),
    # occurrences
    case("new_customers", {"event": ORDER, "occurrence": "first", "within_days": 30}, "binh em"),
    case(
        "last_order_in_august", {"event": ORDER, "occurrence": "last", "between": ["2025-08-01", "2025-08-31"]}, "chi"
    ),
    case("first_order_since_signup", {"event": ORDER, "occurrence": "first", "since_trait": "createdAt"}, "an"),
    case("last_order_recent", {"event": ORDER, "occurrence": "last", "within_days": 1}, "an binh"),
    # loyalty
    case("gold", {"loyalty": "tier", "op": "=", "value": "Gold"}, "an"),
    case("silver_or_gold", {"loyalty": "tier", "op": "in", "value": ["Silver", "Gold"]}, "an em"),
    case("not_member_tier", {"loyalty": "tier", "op": "!=", "value": "Member"}, "an em"),
    case("no_tier", {"loyalty": "tier", "op": "is not set"}, "chi dung giang hoa"),
    case("points_50", {"loyalty": "points", "op": ">=", "value": 50}, "an binh"),
    case("pending", {"loyalty": "points_pending", "op": ">", "value": 0}, "binh"),
    # trees and references (a reference named before the segment it names: order does not matter)
    case("chain", {"segment": "vip_buyers"}, "an"),
    case("vip_buyers", {"all": [{"segment": "big_spenders"}, {"not": {"segment": "unhappy"}}]}, "an"),
    case("unhappy_or_young", {"any": [{"segment": "unhappy"}, {"segment": "young"}]}, "binh chi dung"),
    case("neither", {"not": {"segment": "unhappy_or_young"}}, "an em giang hoa"),
    case(
        "nested",
        {
            "all": [
                {
                    "any": [
                        {"loyalty": "tier", "op": "=", "value": "Gold"},
                        {"trait": "city", "op": "=", "value": "Huế"},
                    ]
                },
                {"not": {"event": "Ticket Created", "within_days": 90}},
            ]
        },
        "binh",
    ),
    case(
        "everyone",
        {"any": [{"trait": "city", "op": "is set"}, {"trait": "city", "op": "is not set"}]},
        " ".join(EVERYONE),
    ),
    case("nobody", {"all": [{"trait": "city", "op": "is set"}, {"trait": "city", "op": "is not set"}]}),
]


EXPECTED_MEMBERS = {name: members for name, _where, members in CASES}


def definitions() -> list[Definition]:
    """The cases as definitions, parsed with every case's name known (the references need them)."""
    catalog = Catalog(CATALOG.traits, CATALOG.computed, CATALOG.events, frozenset(EXPECTED_MEMBERS))
    return [definition(name, where, catalog) for name, where, _members in CASES]


def test_every_operator_and_node_gives_the_exact_members(hand_made: Engine) -> None:
    plan = plan_on(hand_made, DEFAULT_TRAITS, definitions())
    _traits, members = run(hand_made, plan)
    wrong = {
        name: {"got": sorted(members[name]), "expected": sorted(expected)}
        for name, expected in EXPECTED_MEMBERS.items()
        if members[name] != expected
    }
    assert wrong == {}


def test_members_read_from_saved_traits_are_the_same(hand_made: Engine) -> None:
    """A preview reads the last build's computed traits (SAVED) and evaluates the events again: same members."""
    full = plan_on(hand_made, DEFAULT_TRAITS, definitions())
    _traits, members = run(hand_made, full)
    columns = ", ".join(full.trait_columns())
    hand_made.materialize(sc.SAVED, f"SELECT profile_id, {columns} FROM {sc.COMPUTED}")
    preview = sc.Plan(AS_OF, ZONE, DEFAULT_TRAITS, definitions(), compute_traits=False)
    _saved, again = run(hand_made, preview)
    assert again == members


def test_one_profile_plan_gives_that_profiles_answers(hand_made: Engine) -> None:
    """An explanation restricts the plan to one profile; its event features and traits do not change."""
    names = ["orders_3plus", "spend_1m", "viewed_since_signup", "ordered_yesterday", "fav_cosmetics", "nested"]
    chosen = [d for d in definitions() if d.name in names]
    plan = plan_on(hand_made, DEFAULT_TRAITS, chosen, profile_id="an")
    traits, members = run(hand_made, plan)
    assert set(traits) == {"an"}
    expected = EXPECTED_TRAITS["an"]
    for name in ("total_spend_365d", "orders_365d", "favourite_category", "product_views_30d", "review_sentiment"):
        assert traits["an"][name] == expected[name]
    assert {n: ("an" in members[n]) for n in names} == {n: ("an" in EXPECTED_MEMBERS[n]) for n in names}


# --- relative dates: birthdays across the year end and 29 February -----------------------------------------------

BIRTHDAYS = {
    "dec31": "1990-12-31",
    "jan01": "1985-01-01",
    "jan05": "2000-01-05",
    "feb28": "1992-02-28",
    "feb29": "1996-02-29",
    "mar01": "1990-03-01",
    "as_time": "1991-12-31T10:00:00Z",  # a date written as a whole ISO time: its first ten characters
    "junk": "someday",
    "none": None,
}


def _birthday_profiles() -> dict[str, dict[str, Any]]:
    return {p: ({} if b is None else {"birthday": b}) for p, b in BIRTHDAYS.items()}


def _today(year: int, month: int, day: int) -> dt.datetime:
    """An as_of at 00:30 local on that day (17:30 UTC the day before)."""
    return local(year, month, day, 0, 30)


def _birthday_members(engine: Engine, cases: Sequence[tuple[dt.datetime, int]]) -> list[set[str]]:
    """Who has a birthday within ``days`` of each as_of, all cases in one query over the profiles."""
    columns = []
    for i, (as_of, days) in enumerate(cases):
        d = definition(f"b{i}", {"trait": "birthday", "op": "birthday within days", "value": days})
        plan = sc.Plan(as_of, ZONE, (), [d], compute_traits=False)
        columns.append(f"{plan.condition_sql(d.name)} AS b{i}")
    rows = engine.sql(f"SELECT profile_id, {', '.join(columns)} FROM {sc.PROFILES}").to_pylist()
    return [{r["profile_id"] for r in rows if r[f"b{i}"]} for i in range(len(cases))]


BIRTHDAY_CASES: list[tuple[dt.datetime, int, set[str]]] = [
    (_today(2026, 12, 30), 3, {"dec31", "as_time", "jan01"}),  # across the year end
    (_today(2026, 12, 30), 6, {"dec31", "as_time", "jan01", "jan05"}),
    (_today(2026, 12, 31), 0, {"dec31", "as_time"}),
    (_today(2027, 1, 1), 0, {"jan01"}),
    (_today(2026, 2, 27), 2, {"feb28", "feb29", "mar01"}),  # common year: the 29th between the 28th and the 1st
    (_today(2026, 2, 28), 0, {"feb28"}),
    (_today(2028, 2, 28), 1, {"feb28", "feb29"}),  # leap year: the 29th is its own day
    (_today(2028, 2, 29), 0, {"feb29"}),
    (_today(2028, 2, 29), 1, {"feb29", "mar01"}),
    (_today(2026, 3, 2), 364, set(BIRTHDAYS) - {"junk", "none"}),
]


def test_birthday_within_days_across_the_year_end_and_29_february(engine: Engine) -> None:
    register(engine, event_table([]), [], _birthday_profiles(), [])
    got = _birthday_members(engine, [(as_of, days) for as_of, days, _ in BIRTHDAY_CASES])
    assert got == [expected for _, _, expected in BIRTHDAY_CASES]


def test_a_29_february_birthday_has_a_day_in_a_common_year(engine: Engine) -> None:
    register(engine, event_table([]), [], _birthday_profiles(), [])
    days = [_today(2026, 2, 27) + dt.timedelta(days=i) for i in range(4)]  # 27 Feb .. 2 Mar
    matched = _birthday_members(engine, [(as_of, 0) for as_of in days])
    assert any("feb29" in found for found in matched)


def test_age_bands_turn_on_the_birthday(engine: Engine) -> None:
    profiles = {
        "turns_18": {"birthday": "2008-03-02"},
        "turns_65": {"birthday": "1961-03-02"},
        "leap": {"birthday": "2008-02-29"},
        "none": {},
    }
    register(engine, event_table([]), [], profiles, [])
    age_band = next(t for t in DEFAULT_TRAITS if t.name == "age_band")
    bands = {}
    for as_of in (_today(2026, 3, 1), _today(2026, 3, 2)):
        plan = sc.Plan(as_of, ZONE, (age_band,), [])
        traits, _ = run(engine, plan)
        bands[as_of.astimezone(LOCAL).date().isoformat()] = {p: t["age_band"] for p, t in traits.items()}
    assert bands == {
        # the day before: 17 and 64; the 29 February child turns 18 on 1 March in a common year
        "2026-03-01": {"turns_18": "under 18", "turns_65": "55-64", "leap": "18-24", "none": None},
        "2026-03-02": {"turns_18": "18-24", "turns_65": "65+", "leap": "18-24", "none": None},
    }


# --- time is as_of's, whatever the data holds after it ----------------------------------------------------------


def test_a_between_window_ignores_events_after_as_of(hand_made: Engine) -> None:
    d = definition("march", {"event": ORDER, "between": ["2026-03-01", "2026-03-31"]})
    _traits, members = run(hand_made, sc.Plan(AS_OF, ZONE, (), [d]))
    assert members["march"] == {"an", "binh"}  # dung's order on 5 March comes after as_of


# --- custom computed traits ---------------------------------------------------------------------------------------


def test_custom_aggregates_with_where_and_columns(hand_made: Engine) -> None:
    custom = (
        ComputedTrait(
            "cod_orders",
            "aggregate",
            "custom",
            aggregate="count",
            event=ORDER,
            where=({"property": "payment_method", "op": "=", "value": "cod"},),
        ),
        ComputedTrait("biggest_order", "aggregate", "custom", aggregate="max", event=ORDER, column="amount_minor"),
        ComputedTrait("smallest_rating", "aggregate", "custom", aggregate="min", event=SURVEY, property="rating"),
        ComputedTrait("rating_sum", "aggregate", "custom", aggregate="sum", event=SURVEY, property="rating"),
        ComputedTrait("last_channel", "aggregate", "custom", aggregate="last_value", event=ORDER, column="source"),
        ComputedTrait("first_seen", "aggregate", "custom", aggregate="first_at"),
        ComputedTrait("days_since_first_seen", "days_since", "custom", trait="first_seen"),
        ComputedTrait("cod_share", "ratio", "custom", numerator="cod_orders", denominator="orders_ever"),
        ComputedTrait("orders_ever", "aggregate", "custom", aggregate="count", event=ORDER),
    )
    # a ratio names traits declared before it: put orders_ever first
    ordered = (*custom[:7], custom[8], custom[7])
    plan = sc.Plan(AS_OF, ZONE, ordered, [])
    traits, _ = run(hand_made, plan)
    got = {p: {t.name: traits[p][t.name] for t in ordered} for p in ("an", "binh", "giang")}
    assert got == {
        "an": {"cod_orders": 3, "biggest_order": 1_000_000, "smallest_rating": 4.0, "rating_sum": 9.0,
               "last_channel": "app", "first_seen": local(2025, 6, 10), "days_since_first_seen": 265,
               "orders_ever": 5, "cod_share": 0.6},
        "binh": {"cod_orders": 0, "biggest_order": 500_000, "smallest_rating": 2.0, "rating_sum": 2.0,
                 "last_channel": "web", "first_seen": local(2026, 2, 28), "days_since_first_seen": 2,
                 "orders_ever": 1, "cod_share": 0.0},
        "giang": {"cod_orders": 0, "biggest_order": None, "smallest_rating": None, "rating_sum": 0,
                  "last_channel": None, "first_seen": None, "days_since_first_seen": None, "orders_ever": 0,
                  "cod_share": None},
    }  # fmt: skip


def test_a_most_frequent_amount_is_a_number(hand_made: Engine) -> None:
    usual = ComputedTrait("usual_amount", "aggregate", "custom", aggregate="most_frequent", event=ORDER,
                          column="amount_minor")  # fmt: skip
    catalog = Catalog(CATALOG.traits, {"usual_amount": usual.value_type}, CATALOG.events)
    big = parse_definition({"name": "usual_big", "where": {"trait": "usual_amount", "op": ">=", "value": 900_000}},
                           catalog)  # fmt: skip
    traits, members = run(hand_made, sc.Plan(AS_OF, ZONE, (usual,), [big]))
    # hoa: 300,000 once and 500,000 once: the tie goes to the smaller amount
    assert {p: traits[p]["usual_amount"] for p in ("an", "hoa", "giang")} == {"an": 1_000_000, "hoa": 300_000,
                                                                              "giang": None}  # fmt: skip
    assert members["usual_big"] == {"an"}


def test_since_a_date_trait_starts_at_the_workspace_midnight(engine: Engine) -> None:
    events = [event("u_x", VIEW, local(2026, 2, 20, 3, 0)), event("u_y", VIEW, local(2026, 2, 19, 23, 0))]
    profiles = {"x": {"signup_date": "2026-02-20"}, "y": {"signup_date": "2026-02-20"}}
    register(engine, event_table(events), [("user_id", "u_x", "x"), ("user_id", "u_y", "y")], profiles, [])
    d = definition("viewed_since_signup_day", {"event": VIEW, "since_trait": "signup_date"})
    _traits, members = run(engine, sc.Plan(AS_OF, ZONE, (), [d]))
    assert members["viewed_since_signup_day"] == {"x"}


# --- the generated lake: DuckDB against Spark -------------------------------------------------------------------

LAKE_AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _lake_inputs(data: LakeData) -> tuple[list[tuple[str, str, str]], dict[str, dict[str, Any]], list[Any]]:
    """A profile per userId (its identify traits, newest last), its anonymousIds, and a seeded loyalty table."""
    identities: dict[tuple[str, str], str] = {}
    profiles: dict[str, dict[str, Any]] = {}
    for message in sorted(data.messages, key=lambda m: m["timestamp"]):
        user = message.get("userId")
        if not user:
            continue
        profile = f"p_{user}"
        identities[("user_id", user)] = profile
        if message.get("anonymousId"):
            identities.setdefault(("anonymous_id", message["anonymousId"]), profile)
        traits = profiles.setdefault(profile, {})
        if message["type"] == "identify":
            traits.update({k: v for k, v in (message.get("traits") or {}).items() if v is not None})
    identities[("anonymous_id", "anon-edge")] = "p_anon_edge"
    profiles["p_anon_edge"] = {}
    chooser = random.Random(360)
    loyalty = [
        (p, chooser.choice(["Member", "Silver", "Gold"]), chooser.randrange(0, 5000), chooser.randrange(0, 100))
        for p in sorted(profiles)
        if chooser.random() < 0.3
    ]
    return [(t, v, p) for (t, v), p in identities.items()], profiles, loyalty


LAKE_DEFINITIONS: list[dict[str, Any]] = [
    {"name": "big", "where": {"trait": "total_spend_365d", "op": ">=", "value": 2_000_000}},
    {"name": "frequent", "where": {"event": ORDER, "at_least": 2, "within_days": 60}},
    {"name": "browsers", "where": {"all": [{"event": VIEW, "at_least": 5, "within_days": 30},
                                           {"event": ORDER, "performed": False, "within_days": 30}]}},
    {"name": "september_search", "where": {"event": "Products Searched", "between": ["2026-09-01", "2026-09-30"]}},
    {"name": "pricey_cart", "where": {"event": "Product Added", "where": [{"property": "price", "op": ">=",
                                                                           "value": 500_000}]}},
    {"name": "high_aov", "where": {"event": ORDER, "avg": "total", "op": ">=", "value": 1_000_000,
                                   "within_days": 90}},
    {"name": "momo", "where": {"event": ORDER, "where": [{"property": "payment_method", "op": "=", "value": "momo"}]}},
    {"name": "new_customers", "where": {"event": ORDER, "occurrence": "first", "within_days": 30}},
    {"name": "thirties", "where": {"trait": "age_band", "op": "in", "value": ["25-34", "35-44"]}},
    {"name": "no_email", "where": {"trait": "email", "op": "is not set"}},
    {"name": "birthday_month", "where": {"trait": "birthday", "op": "birthday within days", "value": 30}},
    {"name": "refunded", "where": {"event": "Order Refunded", "at_least": 1}},
    {"name": "gold_or_rich", "where": {"any": [{"loyalty": "tier", "op": "=", "value": "Gold"},
                                               {"loyalty": "points", "op": ">", "value": 4000}]}},
    {"name": "loyal_big", "where": {"all": [{"segment": "big"}, {"not": {"segment": "refunded"}}]}},
    {"name": "tshirts", "where": {"trait": "favourite_category", "op": "=", "value": "Áo thun"}},
]  # fmt: skip


def _lake_plan(engine: Engine) -> sc.Plan:
    names = frozenset(d["name"] for d in LAKE_DEFINITIONS)
    catalog = Catalog(CATALOG.traits, CATALOG.computed, CATALOG.events, names)
    defs = [*ready_made(), *(parse_definition(d, catalog) for d in LAKE_DEFINITIONS)]
    return plan_on(engine, DEFAULT_TRAITS, defs, LAKE_AS_OF)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


@pytest.mark.spark
@pytest.mark.slow
def test_the_full_build_over_the_generated_lake_is_the_same_on_both(
    duckdb_engine: Engine, spark_engine: Engine, events_lake: LakeData
) -> None:
    identities, profiles, loyalty = _lake_inputs(events_lake)
    results = {}
    for engine in (duckdb_engine, spark_engine):
        register(engine, events_lake.files, identities, profiles, loyalty)
        results[engine.name] = run(engine, _lake_plan(engine))
    (duck_traits, duck_members), (spark_traits, spark_members) = results["duckdb"], results["spark"]
    assert duck_members == spark_members
    assert set(duck_traits) == set(spark_traits) == set(profiles)
    differ = [
        (p, c, duck_traits[p][c], spark_traits[p][c])
        for p in duck_traits
        for c in duck_traits[p]
        if not _close(duck_traits[p][c], spark_traits[p][c])
    ]
    assert differ == []
    # the data is rich enough that the comparison means something: every kind of segment has members, and no
    # segment holds everyone
    sizes = {name: len(found) for name, found in duck_members.items()}
    everyone = len(profiles)
    for d in LAKE_DEFINITIONS:
        assert 0 < sizes[d["name"]] < everyone, (d["name"], sizes[d["name"]])
    assert sum(sizes[f"rfm_{g}"] for g in ("champions", "loyal", "new", "lost", "at_risk")) > 0
    scored = sum(1 for t in duck_traits.values() if t["rfm_group"] is not None)
    assert scored == sum(size for name, size in sizes.items() if name.startswith("rfm_"))
