"""The deterministic identity graph on both engines: joins, the fan-out guard, blocked values, rules, stable ids."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from typing import Any

import pyarrow as pa
import pytest

from c360.engines import Engine
from c360.identity import graph_sql as q
from c360.identity import profiles_sql as ps
from c360.identity.graph import RULES_SCHEMA, GraphOptions, build_graph
from c360.identity.normalize import Normalizer
from c360.lake.convert import messages_to_table

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_ids = itertools.count(1)


def msg(kind: str = "track", *, minutes: int = 0, source: str = "web", **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": kind,
        "messageId": f"m{next(_ids):05d}",
        "timestamp": (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "context": fields.pop("context", {}),
        "_source": source,
    }
    if kind == "track":
        message["event"] = fields.pop("event", "Product Viewed")
    message.update(fields)
    return message


def imported(source: str, record_id: str, *, minutes: int = 0, **traits: Any) -> dict[str, Any]:
    """A row of `c360 import` (kind customers): an identify whose anonymousId is `<source>:<id>`."""
    return msg(
        "identify",
        minutes=minutes,
        source=source,
        anonymousId=f"{source}:{record_id}",
        traits=traits,
        context={"import": {"file": f"{source}.csv", "line": 2, "recordId": record_id}},
    )


def pos_receipt(receipt: str, phone: str, name: str | None, *, minutes: int = 0) -> dict[str, Any]:
    traits = {"phone": phone} | ({"name": name} if name else {})
    return msg(
        minutes=minutes,
        source="pos",
        event="Order Completed",
        anonymousId=f"pos:{receipt}",
        properties={"order_id": receipt, "total": 100_000, "currency": "VND"},
        context={"traits": traits, "import": {"file": "pos.csv", "line": 2, "recordId": receipt}},
    )


def run_graph(
    engine: Engine,
    messages: list[dict[str, Any]],
    *,
    rules: list[dict[str, Any]] | None = None,
    **options: Any,
) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, value) -> {profile_id, held_reason, records} after building the graph over ``messages``."""
    tables = []
    for i, message in enumerate(messages):
        body = {k: v for k, v in message.items() if k != "_source"}
        tables.append(messages_to_table([body], first_seq=i + 1, source=message["_source"], received_at=T0))
    engine.register_arrow(q.EVENTS, pa.concat_tables(tables))
    rules_table = pa.Table.from_pylist(rules, schema=RULES_SCHEMA) if rules else None
    build_graph(engine, GraphOptions(**options), rules=rules_table)
    rows = engine.sql(ps.node_rows_sql()).to_pylist()
    return {(r["id_type"], r["id_value"]): r for r in rows}


def profile_of(nodes: dict[tuple[str, str], dict[str, Any]], id_type: str, value: str) -> str:
    profile = nodes[(id_type, value)]["profile_id"]
    assert profile is not None, f"{id_type} {value} is held: {nodes[(id_type, value)]['held_reason']}"
    return str(profile)


def test_a_person_across_web_crm_and_pos_is_one_profile(duckdb_engine: Engine) -> None:
    messages = [
        msg(anonymousId="anon-1", minutes=0),
        msg("identify", anonymousId="anon-1", userId="u-1", traits={"email": "An.Nguyen@Gmail.com "}, minutes=1),
        imported("crm", "C1", email="annguyen@gmail.com", phone="0912 345 678", minutes=2),
        pos_receipt("HD1", "84-912-345-678", "Nguyen Van An", minutes=3),
        msg(anonymousId="anon-2", minutes=4),  # another visitor
    ]
    nodes = run_graph(duckdb_engine, messages)
    person = {
        profile_of(nodes, *key)
        for key in [
            ("anonymous_id", "anon-1"),
            ("user_id", "u-1"),
            ("email", "annguyen@gmail.com"),  # Gmail rules: the dots and the case go
            ("phone", "+84912345678"),
            ("external_id", "crm:C1"),
            ("external_id", "pos:HD1"),
        ]
    }
    assert len(person) == 1
    assert profile_of(nodes, "anonymous_id", "anon-2") not in person
    # The profile id comes from the oldest message, so it is the same whatever else is added later.
    assert person == {"prof_" + hashlib.md5(messages[0]["messageId"].encode()).hexdigest()[:16]}


def test_old_eleven_digit_mobile_joins_its_new_number(duckdb_engine: Engine) -> None:
    nodes = run_graph(
        duckdb_engine,
        [imported("crm", "C1", phone="01628 123 456"), pos_receipt("HD1", "0328123456", "Tran Thi Hoa")],
    )
    assert profile_of(nodes, "external_id", "crm:C1") == profile_of(nodes, "external_id", "pos:HD1")


def test_a_household_phone_does_not_merge_the_household(duckdb_engine: Engine) -> None:
    messages = [
        imported("crm", "C1", email="an@example.vn", phone="0912345678", name="Nguyễn Văn An"),
        imported("crm", "C2", email="hoa@example.vn", phone="0912345678", name="Trần Thị Hoa"),
    ]
    nodes = run_graph(duckdb_engine, messages)
    phone = nodes[("phone", "+84912345678")]
    assert phone["profile_id"] is None
    assert phone["held_reason"] == "conflict: carried with 2 different emails"
    assert profile_of(nodes, "external_id", "crm:C1") != profile_of(nodes, "external_id", "crm:C2")


def test_a_shared_device_does_not_merge_two_accounts(duckdb_engine: Engine) -> None:
    messages = [
        msg("identify", anonymousId="tablet", userId="u-1", traits={"email": "a@x.vn"}),
        msg("identify", anonymousId="tablet", userId="u-2", traits={"email": "b@x.vn"}, minutes=5),
    ]
    nodes = run_graph(duckdb_engine, messages)
    assert nodes[("anonymous_id", "tablet")]["held_reason"] == "conflict: carried with 2 different user_ids"
    assert profile_of(nodes, "user_id", "u-1") != profile_of(nodes, "user_id", "u-2")


def test_a_phone_on_many_receipts_with_clearly_different_names_is_held(duckdb_engine: Engine) -> None:
    names = ["Nguyễn Văn An", "Trần Thị Hoa", "Lê Minh Khoa", "Phạm Thu Trang"]
    receipts = [pos_receipt(f"HD{i}", "0909123401", name, minutes=i) for i, name in enumerate(names)]
    nodes = run_graph(duckdb_engine, receipts, fanout_k=3)
    hotline = nodes[("phone", "+84909123401")]
    assert hotline["held_reason"] == "fan-out: on 4 records with clearly different names"
    assert len({profile_of(nodes, "external_id", f"pos:HD{i}") for i in range(4)}) == 4


def test_name_variants_of_one_person_are_not_a_conflict(duckdb_engine: Engine) -> None:
    """Without diacritics, upper case, given name first, a typo, a part of the name: all one person's."""
    names = ["Nguyễn Thị Hằng", "NGUYEN THI HANG", "Hằng Nguyễn Thị", "Nguyen Thi Hnag", "Hằng Nguyễn", "Khách lẻ"]
    receipts = [pos_receipt(f"HD{i}", "0912345678", name, minutes=i) for i, name in enumerate(names)]
    nodes = run_graph(duckdb_engine, receipts, fanout_k=3)
    assert nodes[("phone", "+84912345678")]["held_reason"] is None
    assert len({profile_of(nodes, "external_id", f"pos:HD{i}") for i in range(len(names))}) == 1


def test_up_to_k_records_with_different_names_still_join(duckdb_engine: Engine) -> None:
    """The guard needs more than K records: two people once typing one phone is not yet a pattern."""
    receipts = [pos_receipt("HD1", "0909123401", "Nguyễn Văn An"), pos_receipt("HD2", "0909123401", "Trần Thị Hoa")]
    nodes = run_graph(duckdb_engine, receipts, fanout_k=3)
    assert nodes[("phone", "+84909123401")]["held_reason"] is None


def test_blocked_values_join_nothing(duckdb_engine: Engine) -> None:
    messages = [
        imported("crm", "C1", email="test@test.com", phone="0283 999 9999"),
        imported("crm", "C2", email="TEST@test.com", phone="0283 999 9999"),
        msg(anonymousId="undefined", userId="u-9"),
        msg(anonymousId="undefined", userId="u-8"),
        msg(anonymousId="00000000-0000-0000-0000-000000000000", userId="u-7"),
    ]
    normalizer = Normalizer(blocked=frozenset({"test@test.com", "028 3999 9999"}))
    nodes = run_graph(duckdb_engine, messages, normalizer=normalizer)
    assert ("email", "test@test.com") not in nodes
    assert ("phone", "+842839999999") not in nodes
    assert ("anonymous_id", "undefined") not in nodes
    assert ("anonymous_id", "00000000-0000-0000-0000-000000000000") not in nodes
    assert profile_of(nodes, "external_id", "crm:C1") != profile_of(nodes, "external_id", "crm:C2")
    assert len({profile_of(nodes, "user_id", u) for u in ("u-7", "u-8", "u-9")}) == 3


def test_alias_and_external_ids_join(duckdb_engine: Engine) -> None:
    messages = [
        msg("alias", previousId="old-anon", userId="u-1"),
        msg(anonymousId="old-anon", minutes=1),
        imported("crm", "C1", email="k@x.vn") | {"context": {
            "import": {"file": "crm.csv", "line": 2, "recordId": "C1"},
            "externalIds": [{"id": "C1", "type": "crm_id"}, {"id": "P-88", "type": "pos_id"}],
        }},
        msg(anonymousId="pos:P-88", source="pos", context={"import": {"recordId": "R1"}}, minutes=2),
    ]  # fmt: skip
    nodes = run_graph(duckdb_engine, messages)
    assert profile_of(nodes, "user_id", "u-1") == profile_of(nodes, "anonymous_id", "old-anon")
    assert profile_of(nodes, "external_id", "crm:C1") == profile_of(nodes, "external_id", "pos:P-88")


def test_rules_release_and_block_values(duckdb_engine: Engine) -> None:
    messages = [
        imported("crm", "C1", email="an@example.vn", phone="0912345678"),
        imported("crm", "C2", email="hoa@example.vn", phone="0912345678"),
        imported("crm", "C3", email="khoa@example.vn", phone="0987654321"),
        imported("crm", "C4", email="khoa@example.vn"),
    ]
    rules = [
        {"kind": "allow_value", "a_type": "phone", "a_value": "+84912345678", "reason": "one couple's account"},
        {"kind": "block_value", "a_type": "email", "a_value": "khoa@example.vn", "reason": "a shop address"},
    ]
    nodes = run_graph(duckdb_engine, messages, rules=rules)
    assert profile_of(nodes, "external_id", "crm:C1") == profile_of(nodes, "external_id", "crm:C2")
    assert nodes[("email", "khoa@example.vn")]["held_reason"] == "blocked by a rule: a shop address"
    assert profile_of(nodes, "external_id", "crm:C3") != profile_of(nodes, "external_id", "crm:C4")


@pytest.mark.spark
def test_both_engines_agree_on_the_hand_made_cases(duckdb_engine: Engine, spark_engine: Engine) -> None:
    """The cases above in one event set (they share some values, which only makes the graph harder)."""
    messages = [
        msg("identify", anonymousId="anon-1", userId="u-1", traits={"email": "An.Nguyen@Gmail.com "}),
        imported("crm", "C1", email="annguyen@gmail.com", phone="0912 345 678", name="Nguyễn Văn An", minutes=1),
        imported("crm", "C2", email="hoa@example.vn", phone="0912345678", name="Trần Thị Hoa", minutes=2),
        imported("crm", "C3", phone="01628 123 456", email="test@test.com", minutes=3),
        msg("identify", anonymousId="tablet", userId="u-2", traits={"email": "b@x.vn"}, minutes=4),
        msg("identify", anonymousId="tablet", userId="u-1", minutes=5),
        msg("alias", previousId="old-anon", userId="u-3", minutes=6),
        msg(anonymousId="undefined", userId="u-3", minutes=7),
        *(
            pos_receipt(f"HD{i}", phone, name, minutes=10 + i)
            for i, (phone, name) in enumerate(
                [("0909123401", "Nguyễn Văn An"), ("0909123401", "Trần Thị Hoa"), ("0909123401", "Lê Minh Khoa"),
                 ("0909123401", "Phạm Thu Trang"), ("0328123456", "Hằng Nguyễn"), ("0328123456", "NGUYEN THI HNAG"),
                 ("0912345678", "Khách lẻ")]
            )
        ),
    ]  # fmt: skip
    rules = [{"kind": "block_value", "a_type": "email", "a_value": "b@x.vn", "reason": "test"}]
    duck = run_graph(duckdb_engine, messages, rules=rules)
    spark = run_graph(spark_engine, messages, rules=rules)
    assert duck == spark
    assert sum(1 for row in duck.values() if row["held_reason"]) >= 4


@pytest.mark.spark
def test_both_engines_build_the_same_graph_over_generator_events(
    duckdb_engine: Engine, spark_engine: Engine, events_lake: Any
) -> None:
    """The harness's 55,000 demo events: every identifier gets the same profile (or is held) on both engines."""
    from c360.lake import EVENT_SCHEMA

    results = []
    for engine in (duckdb_engine, spark_engine):
        engine.register_parquet(q.EVENTS, events_lake.files, EVENT_SCHEMA)
        stats = build_graph(engine, GraphOptions())
        rows = engine.sql(ps.node_rows_sql(), max_rows=1_000_000).to_pylist()
        results.append((stats, sorted((r["id_type"], r["id_value"], r["profile_id"], r["held_reason"]) for r in rows)))
    (duck_stats, duck_rows), (spark_stats, spark_rows) = results
    assert duck_stats.profiles == spark_stats.profiles > 1_000
    assert duck_rows == spark_rows
