"""Event data for the engine tests: demo-generator messages plus hand-made edge cases, written once into a lake.

The generator (``c360.demo.iter_events``) gives volume and realism (Vietnamese names and addresses, nulls, many
orders); ``edge_messages`` makes sure the cases the engines are known to disagree on are present whatever the
generator does: ties, UTC-midnight instants, JSON-escaped and raw Vietnamese text, JSON nulls, orders without an
amount or a currency, in another currency, or anonymous.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from c360.demo import GeneratorConfig, iter_events
from c360.domain.money import to_minor
from c360.domain.timestamps import format_utc, parse_timestamp
from c360.lake import Lake
from c360.lake.convert import messages_to_table

SEED = 360
RECEIVED_AT = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class LakeData:
    root: Path
    files: list[Path]
    messages: list[dict[str, Any]]


def generator_messages() -> list[dict[str, Any]]:
    """About 54,000 demo messages: 2,500 customers over 120 days (fixed seed, so the same every run)."""
    return list(iter_events(GeneratorConfig(customers=2_500, days=120, seed=SEED)))


def edge_messages() -> list[dict[str, Any]]:
    """Cases where engines are known to disagree, present in every run whatever the generator produces."""
    midnight = dt.datetime(2025, 4, 30, 23, 59, 59, 999_000, tzinfo=dt.UTC)  # the log keeps milliseconds
    tie = format_utc(dt.datetime(2025, 5, 1, 17, 0, tzinfo=dt.UTC))  # midnight in Asia/Ho_Chi_Minh
    order = {"type": "track", "event": "Order Completed", "context": {}}
    return [
        # Two orders of one user at the same instant, and a third one a millisecond before UTC midnight.
        {**order, "messageId": "edge-1", "userId": "edge-đức", "timestamp": tie,
         "properties": {"order_id": "e1", "total": 150_000, "currency": "VND", "city": "Đà Nẵng"}},
        {**order, "messageId": "edge-2", "userId": "edge-đức", "timestamp": tie,
         "properties": {"order_id": "e2", "total": 150_000, "currency": "VND", "city": "Đà Nẵng"}},
        {**order, "messageId": "edge-3", "userId": "edge-đức", "timestamp": format_utc(midnight),
         "properties": {"order_id": None, "total": "99000", "currency": "vnd"}},
        # An order without an amount, one without a currency (the workspace default applies), one in USD.
        {**order, "messageId": "edge-4", "userId": "edge-null", "timestamp": tie, "properties": {"order_id": "e4"}},
        {**order, "messageId": "edge-5", "userId": "edge-null", "timestamp": tie,
         "properties": {"order_id": "e5", "total": 20_000}},
        {**order, "messageId": "edge-6", "userId": "edge-null", "timestamp": tie,
         "properties": {"order_id": "e6", "total": 19.99, "currency": "USD"}},
        # An anonymous order: not in order_stats.
        {**order, "messageId": "edge-7", "userId": None, "anonymousId": "anon-edge", "timestamp": tie,
         "properties": {"order_id": "e7", "total": 1_000, "currency": "VND"}},
        # Vietnamese as JSON \u escapes (Python's json default) and as raw UTF-8, and a JSON null.
        {"type": "identify", "messageId": "edge-8", "userId": "edge-đức", "timestamp": tie,
         "traits": {"name": "\u0110\u1ee9c Nguy\u1ec5n", "phone": "+84 (912) 345-678", "city": None}},
        {"type": "identify", "messageId": "edge-9", "userId": "edge-null", "timestamp": format_utc(midnight),
         "traits": {"name": None, "phone": None}},
    ]  # fmt: skip


def build_lake(root: Path) -> LakeData:
    messages = [*generator_messages(), *edge_messages()]
    table = messages_to_table(messages, first_seq=1, source="engines-test", received_at=RECEIVED_AT)
    lake = Lake(root)
    lake.commit(table, 1, table.num_rows)
    return LakeData(root=root, files=lake.committed_files(), messages=messages)


def expected_order_stats(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """order_stats computed in plain Python from the messages, independently of the lake and of SQL."""
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"order_count": 0, "total_spend_minor": 0, "first_order_at": None, "last_order_at": None}
    )
    for message in messages:
        if message.get("type") != "track" or message.get("event") != "Order Completed":
            continue
        if message.get("userId") in (None, ""):
            continue
        properties = message.get("properties") or {}
        currency = str(properties.get("currency") or "VND").upper()
        amount = next((properties[k] for k in ("total", "revenue", "value") if properties.get(k) is not None), None)
        at = parse_timestamp(message["timestamp"])
        row = groups[(str(message["userId"]), currency)]
        row["order_count"] += 1
        if amount is not None:
            row["total_spend_minor"] += to_minor(Decimal(str(amount)), currency)
        row["first_order_at"] = at if row["first_order_at"] is None else min(row["first_order_at"], at)
        row["last_order_at"] = at if row["last_order_at"] is None else max(row["last_order_at"], at)
    return [{"user_id": user, "currency": currency, **row} for (user, currency), row in sorted(groups.items())]
