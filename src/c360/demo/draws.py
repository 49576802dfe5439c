"""Fast, deterministic draws shared by the generator's modules."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Weighted(Generic[T]):
    """A weighted choice with precomputed cumulative weights (`random.choices` recomputes them on every call)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("need as many weights as items, and at least one item")
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def weighted(pairs: Sequence[tuple[T, float]]) -> Weighted[T]:
    """`weighted([("cash", 45.0), ("card", 15.0)])`."""
    return Weighted([item for item, _ in pairs], [weight for _, weight in pairs])


def ranked(items: Sequence[T], exponent: float) -> Weighted[T]:
    """Zipf-like weights 1 / rank^exponent for items listed most popular first."""
    return Weighted(items, [1.0 / (rank + 1) ** exponent for rank in range(len(items))])


def uuid_from_bits(bits: int) -> str:
    """Format 128 random bits as a version-4 UUID string (cheaper than uuid.UUID for millions of ids)."""
    bits = (bits & ~(0xF << 76)) | (0x4 << 76)
    bits = (bits & ~(0x3 << 62)) | (0x2 << 62)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
