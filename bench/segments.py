"""Segments: the build of ten representative definitions on DuckDB next to hand-written DuckDB SQL for the same
definitions on the same data in the same run, the full build (every default computed trait, RFM and the ten), and
the same members on Spark on smaller data.

    .venv/bin/python bench/segments.py                 [--profiles 1000000 --events 20000000 --seed 42]
    .venv/bin/python bench/segments.py --spark         [--spark-profiles 50000 --spark-events 1000000]

Data: bench/segments_data.py (generated once per seed and sizes, then read from the cache). Both sides read the
same registered inputs: the lake's event files (Parquet), the identity map, the profiles and the loyalty members.
The engine is c360's DuckDB engine with the workspace defaults (2 threads, memory limit 2GB; `--memory-limit`).

- c360: the ten definitions compiled by c360.segments.compile without computed traits or RFM (the definitions
  name only traits, events, loyalty and each other): one scan of the events for every event condition
  (FEATURES), the per-profile table (COMPUTED) and one boolean per segment (MEMBERS), each materialised; then the
  member count of each segment. Timed from the first statement to the last count.
- reference: ten hand-written DuckDB queries, one per definition, as an analyst would write them (each maps the
  events it needs to profiles through the identity map, aggregates, and filters), each materialised as a table
  of members. Timed the same way. The member sets of both sides must be equal (checked, not timed).
- full build: the same plus DEFAULT_TRAITS and RFM (what `c360 segments build` computes before writing).
Each side runs twice and the faster run counts (the first also warms the OS file cache).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from c360.engines import Engine, open_engine
from c360.lake import EVENT_SCHEMA
from c360.segments import catalog as cat
from c360.segments import compile as sc
from c360.segments.computed import DEFAULT_TRAITS
from c360.segments.definition import Catalog, Definition, parse_definition
from c360.settings import Settings
from segments_data import AS_OF, SegmentsBenchData, generate

ZONE = "Asia/Ho_Chi_Minh"

DEFINITIONS: list[dict[str, Any]] = [
    {"name": "hcm_women_birthday", "where": {"all": [
        {"trait": "province", "op": "=", "value": "Hồ Chí Minh"},
        {"trait": "gender", "op": "=", "value": "female"},
        {"trait": "birthday", "op": "birthday within days", "value": 30}]}},
    {"name": "recent_buyers", "where": {"event": "Order Completed", "at_least": 1, "within_days": 30}},
    {"name": "repeat_buyers_90d", "where": {"event": "Order Completed", "at_least": 3, "within_days": 90}},
    {"name": "big_spenders", "where": {"event": "Order Completed", "sum": "total", "op": ">=", "value": 10_000_000,
                                       "within_days": 365}},
    {"name": "cart_abandoners", "where": {"all": [
        {"event": "Product Added", "at_least": 1, "within_days": 7},
        {"event": "Order Completed", "performed": False, "within_days": 7}]}},
    {"name": "lapsed", "where": {"all": [
        {"event": "Order Completed", "at_least": 2},
        {"not": {"event": "Order Completed", "at_least": 1, "within_days": 180}}]}},
    {"name": "email_engaged", "where": {"any": [
        {"event": "Email Opened", "at_least": 3, "within_days": 30},
        {"event": "Email Link Clicked", "at_least": 1, "within_days": 30}]}},
    {"name": "lipstick_browsers", "where": {"event": "Product Viewed", "at_least": 5, "within_days": 30,
                                            "where": [{"property": "category", "op": "=", "value": "Son môi"}]}},
    {"name": "unhappy", "where": {"any": [
        {"event": "Survey Answered", "at_least": 1, "within_days": 365,
         "where": [{"property": "nps", "op": "<=", "value": 6}]},
        {"event": "Ticket Created", "at_least": 2, "within_days": 90}]}},
    {"name": "gold_vip_spenders", "where": {"all": [
        {"loyalty": "tier", "op": "in", "value": ["Gold", "Diamond"]},
        {"any": [{"trait": "province", "op": "=", "value": "Hà Nội"}, {"trait": "vip", "op": "=", "value": True}]},
        {"segment": "big_spenders"}]}},
]  # fmt: skip


def _ts(days: int) -> str:
    instant = (AS_OF - dt.timedelta(days=days)).replace(tzinfo=None)
    return f"TIMESTAMPTZ '{instant.isoformat(sep=' ')}+00'"


MAPPED = """
    WITH u AS (SELECT id_value, profile_id FROM seg_identities WHERE id_type = 'user_id'),
         a AS (SELECT id_value, min(profile_id) AS profile_id FROM seg_identities
               WHERE id_type IN ('anonymous_id', 'external_id') GROUP BY id_value),
         ev AS (SELECT coalesce(u.profile_id, a.profile_id) AS profile_id, e.*
                FROM events e LEFT JOIN u ON u.id_value = e.user_id LEFT JOIN a ON a.id_value = e.anonymous_id
                WHERE e.event IN ({events}) AND e."timestamp" <= {now})
"""


def _birthdays() -> str:
    today = AS_OF.astimezone(__import__("zoneinfo").ZoneInfo(ZONE)).date()
    days = {(today + dt.timedelta(days=i)).strftime("%m-%d") for i in range(31)}
    return ", ".join(f"'{d}'" for d in sorted(days))


def reference_queries() -> dict[str, str]:
    """The hand-written DuckDB SQL: one query per definition, members as profile_id."""
    now = _ts(0)

    def mapped(*events: str) -> str:
        return MAPPED.format(events=", ".join(f"'{e}'" for e in events), now=now)

    big = (
        f'{mapped("Order Completed")} SELECT profile_id FROM ev WHERE "timestamp" >= {_ts(365)} '
        "GROUP BY profile_id HAVING sum(TRY_CAST(json_extract_string(properties, '$.total') AS DOUBLE)) >= 10000000"
    )
    return {
        "hcm_women_birthday": f"""
            SELECT profile_id FROM seg_profiles
            WHERE json_extract_string(traits, '$.province') = 'Hồ Chí Minh'
              AND json_extract_string(traits, '$.gender') = 'female'
              AND strftime(TRY_CAST(json_extract_string(traits, '$.birthday') AS DATE), '%m-%d') IN ({_birthdays()})""",
        "recent_buyers": f"""{mapped("Order Completed")}
            SELECT DISTINCT profile_id FROM ev WHERE "timestamp" >= {_ts(30)}""",
        "repeat_buyers_90d": f"""{mapped("Order Completed")}
            SELECT profile_id FROM ev WHERE "timestamp" >= {_ts(90)} GROUP BY profile_id HAVING count(*) >= 3""",
        "big_spenders": big,
        "cart_abandoners": f"""{mapped("Product Added", "Order Completed")}
            SELECT profile_id FROM ev WHERE "timestamp" >= {_ts(7)} GROUP BY profile_id
            HAVING count(*) FILTER (WHERE event = 'Product Added') >= 1
               AND count(*) FILTER (WHERE event = 'Order Completed') = 0""",
        "lapsed": f"""{mapped("Order Completed")}
            SELECT profile_id FROM ev GROUP BY profile_id
            HAVING count(*) >= 2 AND max("timestamp") < {_ts(180)}""",
        "email_engaged": f"""{mapped("Email Opened", "Email Link Clicked")}
            SELECT profile_id FROM ev WHERE "timestamp" >= {_ts(30)} GROUP BY profile_id
            HAVING count(*) FILTER (WHERE event = 'Email Opened') >= 3
                OR count(*) FILTER (WHERE event = 'Email Link Clicked') >= 1""",
        "lipstick_browsers": f"""{mapped("Product Viewed")}
            SELECT profile_id FROM ev WHERE "timestamp" >= {_ts(30)}
              AND json_extract_string(properties, '$.category') = 'Son môi'
            GROUP BY profile_id HAVING count(*) >= 5""",
        "unhappy": f"""{mapped("Survey Answered", "Ticket Created")}
            SELECT profile_id FROM ev GROUP BY profile_id
            HAVING count(*) FILTER (WHERE event = 'Survey Answered' AND "timestamp" >= {_ts(365)}
                                      AND TRY_CAST(json_extract_string(properties, '$.nps') AS DOUBLE) <= 6) >= 1
                OR count(*) FILTER (WHERE event = 'Ticket Created' AND "timestamp" >= {_ts(90)}) >= 2""",
        "gold_vip_spenders": f"""
            SELECT l.profile_id FROM seg_loyalty l JOIN seg_profiles p ON p.profile_id = l.profile_id
            WHERE l.loyalty_tier IN ('Gold', 'Diamond')
              AND (json_extract_string(p.traits, '$.province') = 'Hà Nội'
                   OR lower(json_extract_string(p.traits, '$.vip')) = 'true')
              AND l.profile_id IN ({big})""",
    }


def catalog() -> Catalog:
    return Catalog(
        traits={**cat.SPEC_TRAITS, "vip": "boolean"},
        computed={t.name: t.value_type for t in DEFAULT_TRAITS},
        events=cat.SPEC_EVENTS,
        segments=frozenset(d["name"] for d in DEFINITIONS),
    )


def definitions() -> list[Definition]:
    found = catalog()
    return [parse_definition(d, found) for d in DEFINITIONS]


def register(engine: Engine, data: SegmentsBenchData) -> None:
    engine.register_parquet(sc.EVENTS, data.event_files, EVENT_SCHEMA)
    engine.register_parquet(sc.IDENTITIES, [data.identities], pq.read_schema(data.identities))
    engine.register_parquet(sc.PROFILES, [data.profiles], pq.read_schema(data.profiles))
    engine.register_parquet("bench_loyalty", [data.loyalty], pq.read_schema(data.loyalty))
    engine.materialize(
        sc.LOYALTY,
        "SELECT profile_id, tier AS loyalty_tier, points_active AS loyalty_points, points_pending AS loyalty_pending "
        "FROM bench_loyalty",
    )


def run_c360(engine: Engine, plan: sc.Plan) -> dict[str, int]:
    for table, query in plan.tables():
        engine.materialize(table, query)
    counts = ", ".join(f"count(*) FILTER (WHERE {sc.column(d.name)}) AS {d.name}" for d in plan.definitions)
    row = engine.sql(f"SELECT {counts} FROM {sc.MEMBERS}").to_pylist()[0]
    return {k: int(v) for k, v in row.items()}


def reference_connection(data: SegmentsBenchData, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB connection (the same settings as c360's engine) over the same files."""
    con = duckdb.connect(config={"threads": 2, "memory_limit": memory_limit})
    con.execute("SET TimeZone = 'UTC'")
    files = ", ".join(f"'{f}'" for f in data.event_files)
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{files}])")
    con.execute(f"CREATE VIEW seg_identities AS SELECT * FROM read_parquet('{data.identities}')")
    con.execute(f"CREATE VIEW seg_profiles AS SELECT * FROM read_parquet('{data.profiles}')")
    con.execute(
        "CREATE VIEW seg_loyalty AS SELECT profile_id, tier AS loyalty_tier, points_active AS loyalty_points, "
        f"points_pending AS loyalty_pending FROM read_parquet('{data.loyalty}')"
    )
    return con


def run_reference(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts = {}
    for name, sql in reference_queries().items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE ref_{name} AS SELECT DISTINCT profile_id FROM ({sql})")
        row = con.execute(f"SELECT count(*) FROM ref_{name}").fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def check_same_members(engine: Engine, con: duckdb.DuckDBPyConnection, plan: sc.Plan) -> None:
    for d in plan.definitions:
        ours = set(engine.sql(f"SELECT profile_id FROM {sc.MEMBERS} WHERE {sc.column(d.name)}", max_rows=10_000_000)
                   .column("profile_id").to_pylist())  # fmt: skip
        theirs = {r[0] for r in con.execute(f"SELECT profile_id FROM ref_{d.name}").fetchall()}
        if ours != theirs:
            raise SystemExit(f"{d.name}: c360 and the hand-written SQL disagree on {len(ours ^ theirs)} profiles")


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def duckdb_part(args: argparse.Namespace) -> None:
    data = generate(args.profiles, args.events, args.seed, progress=lambda s: print(f"  data: {s}", file=sys.stderr))
    defs = definitions()
    with open_engine("duckdb", threads=2, memory_limit=args.memory_limit) as engine:
        register(engine, data)
        plan = sc.Plan(AS_OF, ZONE, (), defs, rfm=None)
        c360_s, counts = best_of(2, lambda: run_c360(engine, plan))
        con = reference_connection(data, args.memory_limit)
        ref_s, ref_counts = best_of(2, lambda: run_reference(con))
        check_same_members(engine, con, plan)
        if counts != ref_counts:
            raise SystemExit(f"member counts differ: {counts} vs {ref_counts}")
        full = sc.Plan(AS_OF, ZONE, DEFAULT_TRAITS, defs, currency="VND")
        full_s, _ = best_of(1, lambda: run_c360(engine, full))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"profiles {data.profiles_count:,}  events {data.events_count:,}  (DuckDB, 2 threads, {args.memory_limit})")
    for name, n in counts.items():
        print(f"  {name:<22} {n:>9,} members")
    print(f"c360 ten segments: {c360_s:.2f} s   hand-written SQL: {ref_s:.2f} s   ratio {c360_s / ref_s:.2f}x")
    print(f"full build compute (22 computed traits + RFM + ten segments): {full_s:.2f} s   peak RSS {peak_gb:.2f} GB")
    print()
    print(
        f"| segments: 10 definitions, {data.profiles_count:,} profiles / {data.events_count:,} events, DuckDB "
        f"| {c360_s:.2f} s | hand-written DuckDB SQL {ref_s:.2f} s | {c360_s / ref_s:.2f}x |"
    )
    print(
        f"| segments: full build compute (computed traits + RFM + 10 segments), DuckDB | {full_s:.2f} s "
        f"| - | peak RSS {peak_gb:.2f} GB |"
    )


def spark_part(args: argparse.Namespace) -> None:
    data = generate(args.spark_profiles, args.spark_events, args.seed)
    defs = definitions()
    results: dict[str, dict[str, Any]] = {}
    seconds: dict[str, float] = {}
    for name in ("duckdb", "spark"):
        options: dict[str, Any] = {"threads": 2} if name == "duckdb" else {"master": "local[2]"}
        with open_engine(name, **options) as engine:
            register(engine, data)
            plan = sc.Plan(AS_OF, ZONE, DEFAULT_TRAITS, defs, currency="VND")
            started = time.perf_counter()
            run_c360(engine, plan)
            seconds[name] = time.perf_counter() - started
            cols = ", ".join(sc.column(d.name) for d in defs)
            table = engine.sql(f"SELECT profile_id, {cols} FROM {sc.MEMBERS}", max_rows=10_000_000)
            results[name] = {
                d.name: {
                    p
                    for p, inside in zip(table["profile_id"].to_pylist(), table[d.name].to_pylist(), strict=True)
                    if inside
                }
                for d in defs
            }
    same = all(results["duckdb"][d.name] == results["spark"][d.name] for d in defs)
    total = sum(len(v) for v in results["duckdb"].values())
    print(f"Spark vs DuckDB on {data.profiles_count:,} profiles / {data.events_count:,} events: "
          f"{'the same' if same else 'DIFFERENT'} members ({total:,} memberships); "
          f"DuckDB {seconds['duckdb']:.1f} s, Spark {seconds['spark']:.1f} s")  # fmt: skip
    if not same:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--memory-limit",
        default=Settings.model_fields["duckdb_memory_limit"].default,
        help="DuckDB's memory limit, both sides (default: the workspace default)",
    )
    parser.add_argument("--spark", action="store_true", help="compare DuckDB and Spark on smaller data")
    parser.add_argument("--spark-profiles", type=int, default=50_000)
    parser.add_argument("--spark-events", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.spark:
        spark_part(args)
    else:
        duckdb_part(args)


if __name__ == "__main__":
    main()
