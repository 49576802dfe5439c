"""The real-time path decides a profile in Python; the build decides everyone in SQL. For every case of
test_compile_engines that can be decided per event, the Python answer must be the members the SQL gives there
(EXPECTED_MEMBERS, checked on DuckDB and Spark by that file) -- the same hand-made events, traits and instant."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pytest

from c360.segments import realtime as rt
from tests.segments.test_compile_engines import (
    AS_OF,
    EVENTS,
    EXPECTED_MEMBERS,
    IDENTITIES,
    LOCAL,
    PROFILES,
    definitions,
)

DEFINITIONS = definitions()
REALTIME = rt.realtime_names(DEFINITIONS)
BY_NAME = {d.name: d for d in DEFINITIONS if d.name in REALTIME}
COUNTERS = rt.counters(list(BY_NAME.values()))


def _profile_of(message: dict[str, Any]) -> str | None:
    """As the build maps events: the userId's profile, else the anonymousId's."""
    ids = {(t, v): p for t, v, p in IDENTITIES}
    user, anonymous = message.get("userId"), message.get("anonymousId")
    return ids.get(("user_id", user)) or ids.get(("anonymous_id", anonymous)) or ids.get(("external_id", anonymous))


def _times() -> dict[tuple[str, str], list[dt.datetime]]:
    """(counter key, profile) -> the times of the events the counter counts."""
    out: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for _source, message in EVENTS:
        profile = _profile_of(message)
        if profile is None:
            continue
        name = message.get("event") if message.get("type") == "track" else None
        at = dt.datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
        for key, counter in COUNTERS.items():
            if counter.matches(name, message.get("properties")):
                out[key, profile].append(at)
    return out


TIMES = _times()


def _facts(profile: str) -> rt.Facts:
    def count(key: str, start: dt.datetime | None, end: dt.datetime) -> int:
        return sum(1 for at in TIMES.get((key, profile), []) if (start is None or at >= start) and at <= end)

    return rt.Facts(PROFILES[profile], count, AS_OF, LOCAL)


def test_the_cases_hold_enough_real_time_definitions() -> None:
    assert len(REALTIME) >= 25, sorted(REALTIME)
    assert set(EXPECTED_MEMBERS) > REALTIME


@pytest.mark.parametrize("name", sorted(REALTIME))
def test_python_decides_as_the_sql_does(name: str) -> None:
    decided = {profile for profile in PROFILES if rt.decide(BY_NAME, name, _facts(profile))}
    assert decided == EXPECTED_MEMBERS[name]
