"""events.jsonl: Segment-shaped, ordered, stitched across devices, with consistent E-commerce v2 orders."""

from __future__ import annotations

import re
import uuid
from collections import Counter

from c360.demo.catalog import CATEGORIES
from tests.demo.conftest import Dataset, local_day

ISO_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_messages_are_sorted_by_timestamp_then_message_id(dataset: Dataset) -> None:
    facts = dataset.events
    assert facts.count == dataset.counts["events.jsonl"]
    assert facts.keys_sorted
    assert facts.duplicate_message_ids == 0


def test_every_message_has_the_segment_shape(dataset: Dataset) -> None:
    facts = dataset.events
    assert facts.bad_shapes == []
    assert set(facts.types) == {"identify", "track", "page", "screen"}
    for name in ("Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Order Refunded"):
        assert facts.events[name] > 0, name


def test_timestamps_are_iso_utc_and_inside_the_period(dataset: Dataset) -> None:
    facts = dataset.events
    first = facts.first["page"]
    assert ISO_UTC_MS.match(first["timestamp"])
    assert ISO_UTC_MS.match(first["sentAt"])
    assert first["sentAt"] >= first["timestamp"]
    assert local_day(facts.first_ts) >= dataset.cfg.start_date
    assert local_day(facts.last_ts) <= dataset.cfg.end_date


def test_message_ids_are_uuid4(dataset: Dataset) -> None:
    for message_id in list(dataset.events.message_ids)[:2000]:
        parsed = uuid.UUID(message_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_contexts_look_like_real_sdks(dataset: Dataset) -> None:
    facts = dataset.events
    page = facts.first["page"]
    assert page["context"]["library"]["name"] == "analytics.js"
    assert page["context"]["userAgent"].startswith("Mozilla/5.0")
    assert page["context"]["page"]["url"].startswith("https://")
    assert re.match(r"^\d+\.\d+\.\d+\.\d+$", page["context"]["ip"])
    screen = facts.first["screen"]
    assert screen["context"]["library"]["name"] in ("analytics-ios", "analytics-android")
    assert screen["context"]["os"]["name"] in ("iOS", "Android")
    assert facts.urls_with_utm > 0.02 * facts.types["page"]
    assert set(facts.locales) == {"vi-VN", "en-US"}
    assert facts.locales["vi-VN"] > 4 * facts.locales["en-US"]


def test_identify_carries_traits_in_several_spellings(dataset: Dataset) -> None:
    traits = [t for t in dataset.events.traits if "name" in t]
    assert len(traits) > 100
    for key in ("email", "phone", "name", "firstName", "lastName", "gender", "address"):
        assert all(key in t for t in traits), key
    assert {t["gender"] for t in traits} == {"female", "male"}
    assert any(t["name"].isascii() for t in traits)
    assert any(not t["name"].isascii() for t in traits)
    assert any(t["phone"].startswith("+84") for t in traits)
    assert any(t["phone"].startswith("0") for t in traits)
    assert all({"city", "state"} <= t["address"].keys() for t in traits)


def test_anonymous_sessions_later_carry_the_user_id(dataset: Dataset) -> None:
    runs = dataset.events.anonymous_runs
    stitched = [seq for seq in runs.values() if seq[0] is None and len(seq) > 1]
    assert len(stitched) > 50
    for seq in runs.values():
        # Once a device logged in it stays logged in, and only ever as one user.
        assert seq.count(None) <= 1
        assert None not in seq[1:]
        assert len({user for user in seq if user is not None}) <= 1


def test_people_use_one_to_three_devices_and_some_never_identify(dataset: Dataset) -> None:
    devices: Counter[str] = Counter()
    identified: set[str] = set()
    for row in dataset.records:
        if row["source"] in ("web", "app"):
            if row["record_id"] in dataset.events.user_ids:
                identified.add(row["person_id"])
            else:
                devices[row["person_id"]] += 1
    assert set(devices.values()) == {1, 2, 3}
    anonymous_only = set(devices) - identified
    assert len(anonymous_only) > 0.1 * len(devices)
    assert all(dataset.people[p]["user_id"] == "" or dataset.people[p]["kind"] == "member" for p in anonymous_only)


def test_order_completed_totals_add_up(dataset: Dataset) -> None:
    orders = dataset.events.orders
    assert len(orders) > 1000
    skus = {row["sku"]: int(row["price_vnd"]) for row in dataset.catalog}
    for order in orders:
        products = order["products"]
        assert products
        subtotal = sum(p["price"] * p["quantity"] for p in products)
        assert all(skus[p["sku"]] == p["price"] for p in products)
        assert order["currency"] == "VND"
        assert order["revenue"] == subtotal - order["discount"]
        assert order["total"] == order["revenue"] + order["shipping"]
        assert order["tax"] == round(order["revenue"] * 8 / 108)
        assert 0 <= order["discount"] < subtotal
        assert all(isinstance(order[k], int) for k in ("total", "revenue", "shipping", "tax", "discount"))
        assert order["payment_method"] in ("cod", "momo", "card", "vnpay", "zalopay", "bank_transfer")
    assert len({o["order_id"] for o in orders}) == len(orders)
    categories = {p["category"] for o in orders for p in o["products"]}
    assert categories == {c.name for c in CATEGORIES}


def test_refunds_are_a_few_percent_and_some_are_partial(dataset: Dataset) -> None:
    orders = {o["order_id"]: o for o in dataset.events.orders}
    refunds = dataset.events.refunds
    assert 0.02 <= len(refunds) / len(orders) <= 0.08
    partial = 0
    for refund in refunds:
        order = orders[refund["order_id"]]
        assert refund["timestamp"] > order["timestamp"]
        assert refund["userId"] == order["userId"]
        bought = {p["sku"]: p["quantity"] for p in order["products"]}
        for product in refund["products"]:
            assert product["quantity"] <= bought[product["sku"]]
        assert 0 < refund["total"] <= order["total"]
        if refund["total"] < order["total"]:
            partial += 1
            assert sum(p["quantity"] for p in refund["products"]) < sum(bought.values())
    assert 0 < partial < len(refunds)
    assert len({r["order_id"] for r in refunds}) == len(refunds)
