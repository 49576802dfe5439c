"""The portable subset and the dialects, without running an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.sql import FORBIDDEN_FUNCTIONS, Pipeline, PortabilityError, get_dialect
from c360.sql.dialects import C360_FUNCTIONS

DOCS = Path(__file__).parents[2] / "docs" / "engines.md"


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT regexp_replace(s, 'a', 'b') FROM t", "without the 'g' flag"),
        ("SELECT regexp_replace(s, '(a)', '\\1', 'g') FROM t", "back-references"),
        ("SELECT regexp_replace(s, 'a', 'b', 'gi') FROM t", "without the 'g' flag"),
        ("SELECT array_agg(x ORDER BY y) FROM t", "array_agg"),
        ("SELECT list(x) FROM t", "list()"),
        ("SELECT string_agg(x, ',') FROM t", "without ORDER BY"),
        ("SELECT string_agg(x, ',' ORDER BY x), count(DISTINCT a), count(DISTINCT b) FROM t", "DISTINCT"),
        ("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t", "percentile_cont"),
        ("SELECT dayofweek(d) FROM t", "dayofweek"),
        ("SELECT date_part('dow', d) FROM t", "date_part('dow'"),
        ("SELECT extract(epoch FROM ts) FROM t", "EXTRACT(epoch"),
        ("SELECT date_diff('day', a, b) FROM t", "date_diff"),
        ("SELECT epoch_ms(ts) FROM t", "epoch_ms"),
        ("SELECT levenshtein(a, b) FROM t", "levenshtein"),
        ("SELECT json_extract_string(j, '$.a') FROM t", "json_extract_string"),
        ("SELECT j ->> '$.a' FROM t", "JSON operator"),
        ("SELECT l[1] FROM t", "subscript"),
        ("SELECT sum(x) FROM t", "sum() without a CAST"),
        ("SELECT sum(x) OVER (PARTITION BY g) FROM t", "sum() without a CAST"),
        ("SELECT strip_accents(name) FROM t", "strip_accents"),
        ("SELECT * FROM range(10)", "range"),
    ],
)
def test_constructs_outside_the_subset_are_refused_with_the_reason(sql: str, construct: str) -> None:
    with pytest.raises(PortabilityError, match="not portable") as raised:
        get_dialect("spark").render(sql)
    assert construct in raised.value.construct
    assert sql in str(raised.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT regexp_replace(s, '[^0-9]+', '', 'g') AS digits FROM t",
        "SELECT CAST(sum(x) AS BIGINT) AS s, CAST(coalesce(sum(x), 0) AS BIGINT) AS z FROM t",
        "SELECT CAST(sum(x) OVER (PARTITION BY g) AS DOUBLE) AS s FROM t",
        "SELECT string_agg(x, ',' ORDER BY x) AS xs, count(DISTINCT y) AS ys FROM t",
        "SELECT 'SELECT epoch(x), list(y)' AS text_is_not_code FROM t",
        "SELECT g FROM t QUALIFY row_number() OVER (PARTITION BY g ORDER BY ts DESC, seq DESC) = 1",
    ],
)
def test_the_portable_subset_renders_for_both_engines(sql: str) -> None:
    for name in ("duckdb", "spark"):
        assert get_dialect(name).render(sql)


def test_the_c360_functions_render_per_engine() -> None:
    sql = (
        "SELECT c360_json_text(properties, '$.a.b[0]') AS a, c360_date_bucket('month', ts, 'Asia/Ho_Chi_Minh') AS m, "
        "c360_ordered_list(c360_json_text(properties, '$.x'), ts) AS xs FROM t GROUP BY ALL"
    )
    duck, spark = (get_dialect(name).render(sql) for name in ("duckdb", "spark"))

    assert "TIMEZONE('Asia/Ho_Chi_Minh'" in duck
    assert "ARRAY_AGG" in duck
    assert "GET_JSON_OBJECT(properties, '$.a.b[0]')" in spark
    assert "FROM_UTC_TIMESTAMP" in spark
    assert "COLLECT_LIST" in spark
    assert "c360_" not in spark.lower()


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT c360_json_text(j, '$[\"a b\"]') FROM t", "plain keys"),
        ("SELECT c360_json_text(j, p) FROM t", "string constant"),
        ("SELECT c360_date_bucket('hour', ts) FROM t", "unit"),
        ("SELECT c360_date_bucket('day', ts, 'Mars/Olympus') FROM t", "unknown time zone"),
        ("SELECT c360_isodow(a, b) FROM t", "takes 1 arguments"),
        ("SELECT c360_nope(a) FROM t", "no such c360 function"),
    ],
)
def test_c360_functions_check_their_arguments(sql: str, reason: str) -> None:
    with pytest.raises(PortabilityError, match=reason):
        get_dialect("duckdb").render(sql)


def test_a_pipeline_chains_named_steps_into_one_with_query() -> None:
    pipeline = Pipeline().then("a", "SELECT 1 AS x").then("b", "SELECT x + 1 AS y FROM a").then("c", "SELECT y FROM b")

    assert pipeline.output == "c"
    assert pipeline.to_sql().startswith("WITH a AS (")
    assert pipeline.to_sql().endswith("SELECT y FROM b")
    with pytest.raises(ValueError, match="twice"):
        pipeline.then("a", "SELECT 2")
    with pytest.raises(ValueError, match="letters"):
        pipeline.then("drop table", "SELECT 2")
    with pytest.raises(ValueError, match="starts with WITH"):
        pipeline.then("d", "WITH z AS (SELECT 1) SELECT * FROM z")


def test_every_forbidden_construct_and_c360_function_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in [*FORBIDDEN_FUNCTIONS, *C360_FUNCTIONS] if f"`{name}" not in text]
    assert not missing, f"docs/engines.md does not mention {missing}"
