"""One generated dataset shared by the demo tests, read once into the facts the tests check.

The dataset is big enough for the statistical properties (revenue concentration, Tết and double-day peaks, the
variation rates) to be far from their thresholds, and small enough to generate in a few seconds.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import pytest

from c360.demo import GeneratorConfig, generate_to_dir

CONFIG = GeneratorConfig(customers=4000, days=365, seed=20261031)
LOCAL = dt.timezone(dt.timedelta(hours=7))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_day(text: str) -> dt.date:
    return parse_utc(text).astimezone(LOCAL).date()


@dataclass
class EventFacts:
    """What the tests need from events.jsonl, gathered in one pass (the file has ~200k lines)."""

    count: int = 0
    keys_sorted: bool = True
    message_ids: set[str] = field(default_factory=set)
    duplicate_message_ids: int = 0
    types: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    first: dict[str, Any] = field(default_factory=dict)  # first message of each type / event name
    user_ids: set[str] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)
    # anonymousId -> ordered userIds seen on it (None while anonymous), deduplicated runs
    anonymous_runs: dict[str, list[str | None]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)  # Order Completed: properties + userId + timestamp
    refunds: list[dict[str, Any]] = field(default_factory=list)
    traits: list[dict[str, Any]] = field(default_factory=list)
    urls_with_utm: int = 0
    locales: Counter[str] = field(default_factory=Counter)
    bad_shapes: list[str] = field(default_factory=list)
    first_ts: str = ""
    last_ts: str = ""


def _check_shape(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    for key in ("type", "messageId", "timestamp", "sentAt", "userId", "anonymousId", "context"):
        if key not in message:
            return f"missing {key}"
    if message["userId"] is None and message["anonymousId"] is None:
        return "neither userId nor anonymousId"
    if kind == "identify" and not isinstance(message.get("traits"), dict):
        return "identify without traits"
    if kind == "track" and not (message.get("event") and isinstance(message.get("properties"), dict)):
        return "track without event/properties"
    if kind in ("page", "screen") and not message.get("name"):
        return f"{kind} without name"
    if kind == "page" and "page" not in message["context"]:
        return "page without context.page"
    if kind == "screen" and not {"app", "device", "os"} <= message["context"].keys():
        return "screen without app/device/os"
    if "library" not in message["context"]:
        return "no context.library"
    return None


def gather_events(path: Path) -> EventFacts:
    facts = EventFacts()
    last_key: tuple[str, str] | None = None
    with path.open("rb") as handle:
        for line in handle:
            message = orjson.loads(line)
            facts.count += 1
            key = (message["timestamp"], message["messageId"])
            if last_key is not None and key < last_key:
                facts.keys_sorted = False
            last_key = key
            if message["messageId"] in facts.message_ids:
                facts.duplicate_message_ids += 1
            facts.message_ids.add(message["messageId"])
            problem = _check_shape(message)
            if problem is not None and len(facts.bad_shapes) < 5:
                facts.bad_shapes.append(f"{problem}: {message}")
            kind = message["type"]
            facts.types[kind] += 1
            name = message.get("event") or kind
            facts.events[name] += 1
            facts.first.setdefault(name, message)
            user_id, anonymous_id = message["userId"], message["anonymousId"]
            if user_id is not None:
                facts.user_ids.add(user_id)
            if anonymous_id is not None:
                facts.anonymous_ids.add(anonymous_id)
                runs = facts.anonymous_runs.setdefault(anonymous_id, [])
                if not runs or runs[-1] != user_id:
                    runs.append(user_id)
            context = message["context"]
            if "locale" in context:
                facts.locales[context["locale"]] += 1
            page = context.get("page")
            if page is not None and "utm_source=" in page["url"]:
                facts.urls_with_utm += 1
            if name == "Order Completed":
                facts.orders.append({**message["properties"], "userId": user_id, "timestamp": message["timestamp"]})
            elif name == "Order Refunded":
                facts.refunds.append({**message["properties"], "userId": user_id, "timestamp": message["timestamp"]})
            elif kind == "identify":
                facts.traits.append(message["traits"])
            if not facts.first_ts:
                facts.first_ts = message["timestamp"]
            facts.last_ts = message["timestamp"]
    return facts


class Dataset:
    """The generated folder, with its files parsed on first use."""

    def __init__(self, path: Path, cfg: GeneratorConfig, counts: dict[str, int]) -> None:
        self.path = path
        self.cfg = cfg
        self.counts = counts

    def csv(self, name: str) -> list[dict[str, str]]:
        return read_csv(self.path / name)

    @cached_property
    def events(self) -> EventFacts:
        return gather_events(self.path / "events.jsonl")

    @cached_property
    def pos(self) -> list[dict[str, str]]:
        return self.csv("pos_sales.csv")

    @cached_property
    def crm(self) -> list[dict[str, str]]:
        return self.csv("crm_contacts.csv")

    @cached_property
    def email(self) -> list[dict[str, str]]:
        return self.csv("email_engagement.csv")

    @cached_property
    def tickets(self) -> list[dict[str, str]]:
        return self.csv("support_tickets.csv")

    @cached_property
    def surveys(self) -> list[dict[str, str]]:
        return self.csv("surveys.csv")

    @cached_property
    def catalog(self) -> list[dict[str, str]]:
        return self.csv("catalog.csv")

    @cached_property
    def people(self) -> dict[str, dict[str, str]]:
        return {row["person_id"]: row for row in self.csv("truth/people.csv")}

    @cached_property
    def records(self) -> list[dict[str, str]]:
        return self.csv("truth/records.csv")

    @cached_property
    def person_of(self) -> dict[tuple[str, str], str]:
        return {(row["source"], row["record_id"]): row["person_id"] for row in self.records}

    @cached_property
    def person_of_id(self) -> dict[str, str]:
        """Event ids (userId / anonymousId) -> person, whatever the source."""
        return {row["record_id"]: row["person_id"] for row in self.records if row["source"] in ("web", "app")}

    @cached_property
    def orders_by_person(self) -> dict[str, list[tuple[dt.datetime, int]]]:
        """Every purchase (online and in store) per person: (UTC time, total VND)."""
        from c360.demo.sources import parse_vnd

        result: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
        for order in self.events.orders:
            result[self.person_of_id[order["userId"]]].append((parse_utc(order["timestamp"]), order["total"]))
        for row in self.pos:
            sold = dt.datetime.fromisoformat(row["sold_at"]).replace(tzinfo=LOCAL).astimezone(dt.UTC)
            result[self.person_of[("pos", row["receipt_id"])]].append((sold, parse_vnd(row["total"])))
        return result


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    path = tmp_path_factory.mktemp("demo-dataset")
    counts = generate_to_dir(CONFIG, path)
    return Dataset(path, CONFIG, counts)
