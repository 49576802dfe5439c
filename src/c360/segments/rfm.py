"""RFM: recency, frequency and monetary scores 1-5 and the named groups.

Who is scored: every profile with at least one completed order in the window (default 365 days). Recency is the
whole days since its last order, frequency the orders in the window, monetary their total (minor units of the
workspace's currency) or the sum of a number property of theirs (``RfmSettings``, from traits.yaml's ``rfm:``). A score
is the quintile of the profile's rank among the scored profiles: ``1 + floor(5 * (rank - 1) / (n - 1))`` capped at
5, with rank() ordering worst first, so profiles with equal values always get equal scores (on DuckDB and Spark
alike, unlike ntile, which splits ties arbitrarily). A profile without an order in the window has no scores and
no group.

The groups, first match wins, and every scored profile lands in exactly one (``GROUPS`` is the table of
docs/segments.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from c360.segments.definition import DefinitionError

_PROPERTY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Test = Callable[[int, int, int], bool]


@dataclass(frozen=True)
class RfmGroup:
    name: str
    slug: str
    rule: str
    #: the same rule as SQL over columns r, f, m
    sql: str
    test: Test


GROUPS: Final[tuple[RfmGroup, ...]] = (
    RfmGroup("Champions", "champions", "R>=4 F>=4 M>=4", "r >= 4 AND f >= 4 AND m >= 4",
             lambda r, f, m: r >= 4 and f >= 4 and m >= 4),
    RfmGroup("Loyal", "loyal", "R>=3 F>=4", "r >= 3 AND f >= 4", lambda r, f, m: r >= 3 and f >= 4),
    RfmGroup("Can't Lose Them", "cant_lose_them", "R<=2 F>=4 M>=4", "r <= 2 AND f >= 4 AND m >= 4",
             lambda r, f, m: r <= 2 and f >= 4 and m >= 4),
    RfmGroup("At Risk", "at_risk", "R<=2 F>=3", "r <= 2 AND f >= 3", lambda r, f, m: r <= 2 and f >= 3),
    RfmGroup("Potential Loyalist", "potential_loyalist", "R>=4 F in 2-3", "r >= 4 AND f BETWEEN 2 AND 3",
             lambda r, f, m: r >= 4 and 2 <= f <= 3),
    RfmGroup("New", "new", "R=5 F=1", "r = 5 AND f = 1", lambda r, f, m: r == 5 and f == 1),
    RfmGroup("Promising", "promising", "R=4 F=1", "r = 4 AND f = 1", lambda r, f, m: r == 4 and f == 1),
    RfmGroup("Need Attention", "need_attention", "R=3 F in 2-3", "r = 3 AND f BETWEEN 2 AND 3",
             lambda r, f, m: r == 3 and 2 <= f <= 3),
    RfmGroup("About to Sleep", "about_to_sleep", "R=3 F=1", "r = 3 AND f = 1", lambda r, f, m: r == 3 and f == 1),
    RfmGroup("Hibernating", "hibernating", "R=2 F<=2", "r = 2 AND f <= 2", lambda r, f, m: r == 2 and f <= 2),
    RfmGroup("Lost", "lost", "R=1 F<=2", "r = 1 AND f <= 2", lambda r, f, m: r == 1 and f <= 2),
)  # fmt: skip

#: Prefix of the ready-made segments, one per group (``rfm_champions``).
SEGMENT_PREFIX: Final = "rfm_"


@dataclass(frozen=True)
class RfmSettings:
    """The window, the event that counts as an order, and what monetary adds up: the order total in minor units
    (``amount``), or a number property of the event (``revenue``, ``margin`` ...)."""

    window_days: int = 365
    event: str = "Order Completed"
    monetary: str = "amount"


def parse_rfm(data: Any) -> RfmSettings:
    """The ``rfm:`` part of traits.yaml: ``{window_days: 180, event: Order Completed, monetary: margin}``."""
    if data is None:
        return RfmSettings()
    if not isinstance(data, Mapping):
        raise DefinitionError("must be a mapping with window_days, event and monetary", "rfm")
    extra = sorted(set(data) - {"window_days", "event", "monetary"}, key=str)
    if extra:
        raise DefinitionError("unknown key; rfm has window_days, event and monetary", f"rfm.{extra[0]}")
    days = data.get("window_days", 365)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        raise DefinitionError("must be a whole number of days from 1 to 3660", "rfm.window_days")
    event = data.get("event", "Order Completed")
    monetary = data.get("monetary", "amount")
    for key, value in (("event", event), ("monetary", monetary)):
        if not isinstance(value, str) or not value.strip():
            raise DefinitionError("must be text", f"rfm.{key}")
    if monetary != "amount" and not _PROPERTY.match(monetary):
        raise DefinitionError("must be `amount` or a property name", "rfm.monetary")
    return RfmSettings(days, event, monetary)


def group_of(r: int, f: int, m: int) -> str:
    """The named group of scores ``r``, ``f``, ``m`` (each 1-5)."""
    for group in GROUPS:
        if group.test(r, f, m):
            return group.name
    raise ValueError(f"no RFM group for R={r} F={f} M={m}")


def score(rank: int, count: int) -> int:
    """The quintile score (1-5) of the ``rank``-th of ``count`` profiles, worst first (what the SQL computes)."""
    if count <= 1:
        return 1
    return min(5, 1 + (5 * (rank - 1)) // (count - 1))


def group_case_sql() -> str:
    """The group name of columns r, f, m as one CASE (first match wins)."""
    whens = " ".join(f"WHEN {g.sql} THEN '{g.name.replace(chr(39), chr(39) * 2)}'" for g in GROUPS)
    return f"CASE WHEN r IS NULL THEN NULL {whens} END"
