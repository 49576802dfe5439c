"""RFM's window, order event and monetary are the workspace's to choose (traits.yaml's ``rfm:``); bad settings name
the key. The build applies them (on DuckDB here; the SQL is the same text test_compile_engines runs on Spark)."""

from __future__ import annotations

from typing import Any

import pytest

from c360.engines import Engine, open_engine
from c360.segments import compile as sc
from c360.segments.definition import DefinitionError
from c360.segments.rfm import RfmSettings, parse_rfm
from tests.segments.test_compile_engines import AS_OF, ZONE, event, event_table, local, register


def test_the_defaults_and_a_full_setting() -> None:
    assert parse_rfm(None) == RfmSettings(365, "Order Completed", "amount")
    given = {"window_days": 90, "event": "Purchase", "monetary": "margin"}
    assert parse_rfm(given) == RfmSettings(90, "Purchase", "margin")


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"window_days": 0}, "rfm.window_days"),
        ({"window_days": True}, "rfm.window_days"),
        ({"event": ""}, "rfm.event"),
        ({"monetary": "two words"}, "rfm.monetary"),
        ({"currency": "VND"}, "rfm.currency"),
        ([1], "rfm"),
    ],
)
def test_bad_settings_name_the_key(data: Any, path: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_rfm(data)
    assert caught.value.path == path


@pytest.fixture
def duckdb_engine() -> Any:
    with open_engine("duckdb") as engine:
        yield engine


def _scores(engine: Engine, settings: RfmSettings) -> dict[str, tuple[Any, ...]]:
    plan = sc.Plan(AS_OF, ZONE, (), [], rfm=settings, currency="VND")
    for table, query in plan.tables():
        engine.materialize(table, query)
    rows = engine.sql(f"SELECT profile_id, rfm_frequency, rfm_monetary FROM {sc.COMPUTED}").to_pylist()
    return {r["profile_id"]: (r["rfm_frequency"], r["rfm_monetary"]) for r in rows}


def test_the_window_and_the_monetary_property_change_the_scores(duckdb_engine: Engine) -> None:
    def sale(user: str, day: int, total: int, margin: float) -> Any:
        return event(user, "Order Completed", local(2026, 2, day), total=total, margin=margin, currency="VND")

    events = [sale("u_a", 1, 1_000_000, 200_000.4), sale("u_a", 25, 500_000, 100_000), sale("u_b", 27, 300_000, 90_000)]
    ids = [("user_id", "u_a", "a"), ("user_id", "u_b", "b")]
    register(duckdb_engine, event_table(events), ids, {"a": {}, "b": {}}, [])
    assert _scores(duckdb_engine, RfmSettings()) == {"a": (2, 1_500_000), "b": (1, 300_000)}
    # 10 days before 2 March: only the late-February orders; margin rounds each order to whole units.
    assert _scores(duckdb_engine, RfmSettings(window_days=10, monetary="margin")) == {
        "a": (1, 100_000),
        "b": (1, 90_000),
    }
