"""The portable subset: SQL written once, in DuckDB's dialect, that gives the same answer on DuckDB and Spark.

SQLGlot transpiles most of DuckDB's SQL to Spark, but some constructs fail on Spark and, worse, some run and give a
different answer without any error (engine-facts.md). ``check_portable`` refuses those before any engine sees the
query, so a pipeline that passes on DuckDB in a developer's test cannot silently differ on Spark in production.
Each refusal names the construct, the reason and the portable replacement -- mostly a ``c360_*`` function
implemented per engine in ``c360.sql.dialects``. docs/engines.md lists the same table for people.
"""

from __future__ import annotations

import itertools

import sqlglot
from sqlglot import exp
from sqlglot.tokenizer_core import TokenType

from c360.errors import C360Error

SOURCE_DIALECT = "duckdb"


class PortabilityError(C360Error):
    """A query uses a construct outside the portable subset; the message names it and what to use instead."""

    code = "portability_error"

    def __init__(self, construct: str, reason: str, sql: str) -> None:
        super().__init__(f"{construct} is not portable between DuckDB and Spark: {reason}\n-- in:\n{sql}")
        self.construct = construct
        self.reason = reason
        self.sql = sql


_USE_EPOCH = "a different type or an error on Spark; use c360_epoch_us(ts)"
_USE_DAYS = "DuckDB counts boundaries, Spark whole units; use c360_days_between(start_date, end_date)"
_USE_DOW = "the day numbering is off by one between engines; use c360_isodow(date)"
_APPROX = "Spark computes an approximation (or fails); compute exact statistics in Python or with window functions"
_BYTES = "DuckDB works on UTF-8 bytes, Spark on characters, so Vietnamese text differs; compare normalised keys"
_USE_JSON = "JSON functions differ in name and in edge cases; use c360_json_text(column, '$.key')"
_USE_LIST = "Spark's collect_list loses the ORDER BY; use c360_ordered_list(value, order_key)"

#: Function names (as written, lower case) that are outside the subset, with the reason and the alternative.
FORBIDDEN_FUNCTIONS: dict[str, str] = {
    **dict.fromkeys(("epoch", "epoch_ms", "epoch_us", "epoch_ns", "to_unixtime", "unix_timestamp"), _USE_EPOCH),
    **dict.fromkeys(("date_diff", "datediff", "date_sub", "age", "months_between"), _USE_DAYS),
    **dict.fromkeys(("dayofweek", "dow", "isodow", "weekday", "dayofweekiso"), _USE_DOW),
    **dict.fromkeys(
        (
            "percentile_cont", "percentile_disc", "quantile", "quantile_cont", "quantile_disc", "approx_quantile",
            "reservoir_quantile", "approx_count_distinct", "approx_distinct", "percentile_approx",
        ),
        _APPROX,
    ),
    **dict.fromkeys(
        ("levenshtein", "damerau_levenshtein", "jaro_similarity", "jaro_winkler_similarity", "hamming"), _BYTES
    ),
    **dict.fromkeys(
        (
            "json_extract", "json_extract_string", "json_value", "json_extract_path", "json_extract_path_text",
            "get_json_object", "from_json", "json_tuple",
        ),
        _USE_JSON,
    ),
    **dict.fromkeys(("array_agg", "list", "collect_list", "collect_set"), _USE_LIST),
    **dict.fromkeys(("list_distinct", "array_distinct"), "DuckDB drops NULL, Spark keeps it"),
    **dict.fromkeys(
        ("list_contains", "array_contains", "list_has"), "Spark returns NULL when the list holds a NULL"
    ),
    **dict.fromkeys(("list_aggregate", "list_sum", "len"), "fails on Spark"),
    **dict.fromkeys(("range", "generate_series"), "fails on Spark or gives timestamps instead of dates"),
    "strip_accents": "fails on Spark; normalise text in Python (c360.domain) before it reaches the lake",
    "hash": "each engine has its own hash function; use md5(text) when a stable hash is needed",
}  # fmt: skip

#: Parts of EXTRACT / date_part with engine-dependent answers.
_FORBIDDEN_PARTS = {
    "dow": _USE_DOW, "isodow": _USE_DOW, "dayofweek": _USE_DOW, "dayofweekiso": _USE_DOW, "weekday": _USE_DOW,
    "epoch": _USE_EPOCH,
}  # fmt: skip


def called_functions(sql: str) -> list[str]:
    """Names written directly before ``(``, lower case, read from SQLGlot's tokens so string literals and
    comments never count."""
    tokens = sqlglot.tokenize(sql, read=SOURCE_DIALECT)
    return [
        token.text.lower()
        for token, following in itertools.pairwise(tokens)
        if following.token_type == TokenType.L_PAREN and token.token_type not in (TokenType.STRING, TokenType.L_PAREN)
    ]


def check_portable(tree: exp.Expr, sql: str) -> None:
    """Raise ``PortabilityError`` for the first construct in ``tree`` (parsed from ``sql``) outside the subset."""
    for name in called_functions(sql):
        if name in FORBIDDEN_FUNCTIONS:
            raise PortabilityError(f"{name}()", FORBIDDEN_FUNCTIONS[name], sql)
    for node in tree.walk():
        _check_node(node, sql)


def _check_node(node: exp.Expr, sql: str) -> None:
    if isinstance(node, exp.RegexpReplace):
        flags = node.args.get("modifiers")
        if not isinstance(flags, exp.Literal) or flags.this != "g":
            raise PortabilityError(
                "regexp_replace() without the 'g' flag",
                "DuckDB replaces the first match, Spark every match; write regexp_replace(s, pattern, repl, 'g')",
                sql,
            )
        replacement = node.args.get("replacement")
        if not isinstance(replacement, exp.Literal) or "\\" in replacement.this or "$" in replacement.this:
            raise PortabilityError(
                "a regexp_replace() replacement with back-references or not a constant",
                "DuckDB writes groups as \\1, Spark as $1; replace with a constant string",
                sql,
            )
    elif isinstance(node, exp.Bracket):
        raise PortabilityError(
            "list subscript l[i]", "Spark fails on an index past the end (ANSI mode) where DuckDB gives NULL", sql
        )
    elif isinstance(node, exp.JSONExtract | exp.JSONExtractScalar):
        raise PortabilityError("JSON operator -> / ->>", _USE_JSON, sql)
    elif isinstance(node, exp.ArrayAgg):
        raise PortabilityError("array_agg() / list()", _USE_LIST, sql)
    elif isinstance(node, exp.GroupConcat) and not isinstance(node.this, exp.Order):
        raise PortabilityError(
            "string_agg() without ORDER BY", "the order differs between engines; add ORDER BY inside the call", sql
        )
    elif isinstance(node, exp.Select) and _string_agg_with_distincts(node):
        raise PortabilityError(
            "string_agg() next to two or more DISTINCT aggregates",
            "Spark 4 fails with an internal ClassCastException (its rewrite of several DISTINCT aggregates loses "
            "the WITHIN GROUP order); compute the DISTINCT aggregates in another step and join",
            sql,
        )
    elif isinstance(node, exp.Extract):
        part = node.this.name.lower() if isinstance(node.this, exp.Var | exp.Literal) else ""
        if part in _FORBIDDEN_PARTS:
            raise PortabilityError(f"EXTRACT({part} ...)", _FORBIDDEN_PARTS[part], sql)
    elif isinstance(node, exp.Anonymous) and node.name.lower() == "date_part" and node.expressions:
        part = node.expressions[0]
        if isinstance(part, exp.Literal) and part.this.lower() in _FORBIDDEN_PARTS:
            raise PortabilityError(f"date_part('{part.this}', ...)", _FORBIDDEN_PARTS[part.this.lower()], sql)
    elif isinstance(node, exp.Sum) and not _inside_cast(node):
        raise PortabilityError(
            "sum() without a CAST",
            "DuckDB sums BIGINT into a 128-bit integer, Spark into BIGINT; write CAST(sum(x) AS BIGINT) "
            "(or AS DOUBLE / DECIMAL) so both return the same type",
            sql,
        )


def _string_agg_with_distincts(select: exp.Select) -> bool:
    parts = [*select.expressions, select.args.get("having")]
    found = [node for part in parts if part is not None for node in part.find_all(exp.GroupConcat, exp.Distinct)]
    return any(isinstance(n, exp.GroupConcat) for n in found) and sum(isinstance(n, exp.Distinct) for n in found) >= 2


def _inside_cast(node: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Query):
        if isinstance(parent, exp.Cast):
            return True
        parent = parent.parent
    return False
