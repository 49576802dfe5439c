"""What a workspace's data holds, for checking definitions: trait and event property names with their types.

Read from samples (the newest events of the lake, the profiles' traits) plus the Segment spec's standard events, so a
segment can name ``Order Completed`` before the first order arrives. Pure: the service hands in the samples.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from c360.segments.definition import ValueType

_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_INSTANT: Final = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_PRODUCT: Final[dict[str, ValueType]] = {
    "product_id": "string", "sku": "string", "category": "string", "name": "string", "brand": "string",
    "variant": "string", "price": "number", "quantity": "number", "currency": "string", "url": "string",
}  # fmt: skip
_ORDER: Final[dict[str, ValueType]] = {
    "order_id": "string", "checkout_id": "string", "affiliation": "string", "total": "number", "revenue": "number",
    "shipping": "number", "tax": "number", "discount": "number", "coupon": "string", "currency": "string",
    "payment_method": "string", "products": "list",
}  # fmt: skip

#: The standard events (Segment's E-commerce v2 and a few more) and their properties.
SPEC_EVENTS: Final[dict[str, dict[str, ValueType]]] = {
    "Order Completed": _ORDER,
    "Order Refunded": _ORDER,
    "Order Cancelled": _ORDER,
    "Checkout Started": {**_ORDER, "value": "number"},
    "Product Viewed": _PRODUCT,
    "Product Added": _PRODUCT,
    "Product Removed": _PRODUCT,
    "Products Searched": {"query": "string"},
    "Email Delivered": {"campaign_id": "string"},
    "Email Opened": {"campaign_id": "string"},
    "Email Link Clicked": {"campaign_id": "string", "link_url": "string"},
    "Email Unsubscribed": {"campaign_id": "string"},
    "Ticket Created": {"channel": "string", "category": "string", "subject": "string", "status": "string"},
    "Survey Answered": {"nps": "number", "csat": "number", "rating": "number", "review": "string"},
    "App Installed": {},
    "Review Written": {"rating": "number", "review": "string", "product_id": "string"},
}

#: Traits of the Segment spec (identify) that a profile may carry.
SPEC_TRAITS: Final[dict[str, ValueType]] = {
    "email": "string", "phone": "string", "name": "string", "firstName": "string", "lastName": "string",
    "gender": "string", "birthday": "date", "province": "string", "city": "string", "createdAt": "timestamp",
    "loyaltyCard": "string", "address": "object",
}  # fmt: skip


def value_type(value: Any) -> ValueType | None:
    """The catalog type of one JSON value; None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    text = str(value)
    if _DATE.match(text):
        return "date"
    if _INSTANT.match(text):
        return "timestamp"
    return "string"


def _types(docs: Iterable[str | None]) -> dict[str, ValueType]:
    seen: dict[str, Counter[ValueType]] = {}
    for doc in docs:
        if not doc:
            continue
        try:
            data = orjson.loads(doc)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            kind = value_type(value)
            if kind is not None and _KEY.match(key):
                seen.setdefault(key, Counter())[kind] += 1
    # The type most values have; a date written as text in some rows and as a time in others is still a date.
    return {key: counts.most_common(1)[0][0] for key, counts in seen.items()}


def trait_types(trait_docs: Iterable[str | None]) -> dict[str, ValueType]:
    return {**SPEC_TRAITS, **_types(trait_docs)}


def event_types(events: Iterable[tuple[str | None, str | None]]) -> dict[str, dict[str, ValueType]]:
    """``events``: (event name, properties JSON) pairs."""
    by_event: dict[str, list[str | None]] = {}
    for name, properties in events:
        if name:
            by_event.setdefault(name, []).append(properties)
    found = {name: _types(docs) for name, docs in by_event.items()}
    merged: dict[str, dict[str, ValueType]] = {name: dict(props) for name, props in SPEC_EVENTS.items()}
    for name, props in found.items():
        merged[name] = {**merged.get(name, {}), **props}
    return merged


def describe(types: Mapping[str, Mapping[str, ValueType]]) -> list[dict[str, Any]]:
    """The event catalog as rows for the API and the CLI."""
    return [{"event": name, "properties": dict(sorted(props.items()))} for name, props in sorted(types.items())]
