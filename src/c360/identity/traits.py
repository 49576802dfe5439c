"""A profile's traits by declared precedence (no I/O), the same on the batch and the incremental path.

Each value offered for a trait carries its rank: the source's place in the workspace's priority list (unlisted
sources after), then the newest message, then the smaller messageId, then the identify ``traits`` before
``context.traits``. The smallest rank holds the trait whatever order the offers arrive in, so a batch run and
the event processor agree. Empty and null values never win: a newer export that left a field blank does not
erase it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

#: The rank of a source that the workspace does not list.
UNLISTED_SOURCE = 1_000_000

Rank = tuple[int, int, str, int]  # (source rank, -timestamp in µs, messageId, 0 = traits / 1 = context.traits)


def source_rank(source: str, priority: Sequence[str]) -> int:
    try:
        return priority.index(source)
    except ValueError:
        return UNLISTED_SOURCE


def parse_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class Traits:
    """The winning value of each trait and the rank it won with."""

    __slots__ = ("ranks", "values")

    def __init__(self, values: dict[str, Any] | None = None, ranks: dict[str, Rank] | None = None) -> None:
        self.values: dict[str, Any] = values or {}
        self.ranks: dict[str, Rank] = ranks or {}

    def offer(self, traits: Mapping[str, Any], rank: Rank) -> bool:
        """Take each value of ``traits`` that outranks the one held; True when anything changed."""
        changed = False
        for key, value in traits.items():
            if value in (None, "", [], {}):
                continue
            held = self.ranks.get(key)
            if held is None or rank < held:
                self.values[key] = value
                self.ranks[key] = rank
                changed = True
        return changed

    def offer_message(
        self,
        traits: Mapping[str, Any],
        context_traits: Mapping[str, Any],
        *,
        source_rank: int,
        ts_us: int,
        message_id: str,
    ) -> bool:
        first = self.offer(traits, (source_rank, -ts_us, message_id, 0))
        return self.offer(context_traits, (source_rank, -ts_us, message_id, 1)) or first

    def absorb(self, other: Traits) -> None:
        """A merge: every trait of ``other`` competes with this profile's by rank."""
        for key, value in other.values.items():
            self.offer({key: value}, other.ranks[key])

    def sources_json(self) -> str:
        return orjson.dumps(self.ranks).decode()

    def values_json(self) -> str:
        return orjson.dumps(self.values).decode()

    @classmethod
    def from_json(cls, values: str | None, sources: str | None) -> Traits:
        ranks = {key: (int(r[0]), int(r[1]), str(r[2]), int(r[3])) for key, r in parse_object(sources).items()}
        parsed = parse_object(values)
        return cls({key: parsed[key] for key in ranks if key in parsed}, ranks)


def display_name(traits: Mapping[str, Any]) -> str | None:
    name = traits.get("name")
    if isinstance(name, str) and name.strip():
        return " ".join(name.split())
    parts = [traits.get("lastName"), traits.get("firstName")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or None
