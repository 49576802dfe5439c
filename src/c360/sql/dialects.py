"""The per-engine differences, in one place: ``c360_*`` functions, session settings, and rendering.

Portable SQL is written in DuckDB's dialect. Where the engines disagree (engine-facts.md) the query calls a
``c360_*`` function instead; each dialect expands it into its own engine's SQL, then SQLGlot writes the whole
query in that dialect. The functions:

    c360_json_text(doc, '$.a.b')         the text of a scalar JSON value (NULL when missing or JSON null)
    c360_date_bucket('day', ts[, zone])  the calendar day / week (Monday) / month / year of an instant, as a DATE,
                                         in ``zone`` (default UTC), whatever the session's time zone
    c360_isodow(date)                    ISO day of week: Monday 1 .. Sunday 7
    c360_days_between(start, end)        whole days from DATE start to DATE end
    c360_epoch_us(ts)                    microseconds since 1970-01-01 UTC, BIGINT
    c360_ordered_list(value, key)        the group's values as a list ordered by key then value, NULLs first,
                                         NULL values kept
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Callable
from typing import ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from c360.sql.pipeline import Pipeline, check_name
from c360.sql.portable import SOURCE_DIALECT, PortabilityError, check_portable

Query = str | Pipeline

# Keys both engines read the same way: plain names and array indexes. Spark and DuckDB quote other keys
# differently ($['a b'] vs $."a b").
_JSON_PATH = re.compile(r"\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])+\Z")
_BUCKETS = ("day", "week", "month", "year")

_Macro = Callable[["Dialect", list[exp.Expr], str], exp.Expr]


def _fill(template: str, dialect: str, **args: exp.Expr) -> exp.Expr:
    """``template`` parsed in ``dialect`` with the columns named like ``args``' keys replaced by the arguments."""
    tree = sqlglot.parse_one(template, read=dialect)

    def put(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in args:
            return args[node.name].copy()
        return node

    return tree.transform(put)


def _string_arg(args: list[exp.Expr], index: int, macro: str, what: str, sql: str) -> str:
    if len(args) <= index or not (isinstance(args[index], exp.Literal) and args[index].is_string):
        raise PortabilityError(f"{macro}()", f"argument {index + 1} ({what}) must be a string constant", sql)
    return str(args[index].this)


def _arity(args: list[exp.Expr], counts: tuple[int, ...], macro: str, sql: str) -> None:
    if len(args) not in counts:
        wanted = " or ".join(str(count) for count in counts)
        raise PortabilityError(f"{macro}()", f"takes {wanted} arguments, got {len(args)}", sql)


class Dialect:
    """How portable SQL becomes one engine's SQL. Subclasses fill in the templates of the ``c360_*`` functions."""

    name: ClassVar[str]
    sqlglot_dialect: ClassVar[str]
    # Templates in the engine's own dialect; the names in them are replaced by the macro's arguments.
    json_text_template: ClassVar[str]
    local_time_template: ClassVar[str]  # ts, zone -> wall-clock timestamp in zone
    bucket_template: ClassVar[str]  # local, unit -> DATE
    day_template: ClassVar[str]  # local -> DATE
    isodow_template: ClassVar[str]
    days_between_template: ClassVar[str]
    epoch_us_template: ClassVar[str]
    ordered_list_template: ClassVar[str]

    def render(self, query: Query) -> str:
        """``query`` (portable SQL or a pipeline) as this engine's SQL; ``PortabilityError`` outside the subset."""
        sql = query.to_sql() if isinstance(query, Pipeline) else query
        return _render(self.name, sql)

    def session_statements(self) -> list[str]:
        """Statements that set the session up (time zone); empty when the engine takes them as configuration."""
        return []

    # -- the c360_* functions -------------------------------------------------------------------------------------

    def _json_text(self, args: list[exp.Expr], sql: str) -> exp.Expr:
        _arity(args, (2,), "c360_json_text", sql)
        path = _string_arg(args, 1, "c360_json_text", "a JSON path", sql)
        if not _JSON_PATH.match(path):
            raise PortabilityError(
                "c360_json_text()", f"path {path!r} must look like '$.key.sub' or '$.key[0]' (plain keys)", sql
            )
        return _fill(self.json_text_template, self.sqlglot_dialect, arg_doc=args[0], arg_path=args[1])

    def _date_bucket(self, args: list[exp.Expr], sql: str) -> exp.Expr:
        _arity(args, (2, 3), "c360_date_bucket", sql)
        unit = _string_arg(args, 0, "c360_date_bucket", "the unit", sql).lower()
        if unit not in _BUCKETS:
            raise PortabilityError("c360_date_bucket()", f"unit {unit!r} must be one of {', '.join(_BUCKETS)}", sql)
        zone = _string_arg(args, 2, "c360_date_bucket", "the time zone", sql) if len(args) == 3 else "UTC"
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PortabilityError("c360_date_bucket()", f"unknown time zone {zone!r}", sql) from None
        local = _fill(self.local_time_template, self.sqlglot_dialect, arg_ts=args[1], arg_zone=exp.Literal.string(zone))
        if unit == "day":
            return _fill(self.day_template, self.sqlglot_dialect, arg_local=local)
        # The unit is one of _BUCKETS, so it can be part of the template's text.
        return _fill(self.bucket_template.format(unit=unit), self.sqlglot_dialect, arg_local=local)

    def _isodow(self, args: list[exp.Expr], sql: str) -> exp.Expr:
        _arity(args, (1,), "c360_isodow", sql)
        return _fill(self.isodow_template, self.sqlglot_dialect, arg_day=args[0])

    def _days_between(self, args: list[exp.Expr], sql: str) -> exp.Expr:
        _arity(args, (2,), "c360_days_between", sql)
        return _fill(self.days_between_template, self.sqlglot_dialect, arg_start=args[0], arg_end=args[1])

    def _epoch_us(self, args: list[exp.Expr], sql: str) -> exp.Expr:
        _arity(args, (1,), "c360_epoch_us", sql)
        return _fill(self.epoch_us_template, self.sqlglot_dialect, arg_ts=args[0])

    def _ordered_list(self, args: list[exp.Expr], sql: str) -> exp.Expr:
        _arity(args, (2,), "c360_ordered_list", sql)
        return _fill(self.ordered_list_template, self.sqlglot_dialect, arg_value=args[0], arg_key=args[1])

    def expand(self, name: str, args: list[exp.Expr], sql: str) -> exp.Expr:
        macro = C360_FUNCTIONS.get(name)
        if macro is None:
            raise PortabilityError(
                f"{name}()", f"no such c360 function; known: {', '.join(sorted(C360_FUNCTIONS))}", sql
            )
        return macro(self, args, sql)


#: The c360_* functions portable SQL may call, by name.
C360_FUNCTIONS: dict[str, _Macro] = {
    "c360_json_text": Dialect._json_text,
    "c360_date_bucket": Dialect._date_bucket,
    "c360_isodow": Dialect._isodow,
    "c360_days_between": Dialect._days_between,
    "c360_epoch_us": Dialect._epoch_us,
    "c360_ordered_list": Dialect._ordered_list,
}


class DuckDBDialect(Dialect):
    name = "duckdb"
    sqlglot_dialect = "duckdb"
    json_text_template = "json_extract_string(arg_doc, arg_path)"
    # timezone(zone, timestamptz) gives the wall clock in zone, independent of the session's TimeZone.
    local_time_template = "timezone(arg_zone, arg_ts)"
    bucket_template = "CAST(date_trunc('{unit}', arg_local) AS DATE)"
    day_template = "CAST(arg_local AS DATE)"
    isodow_template = "isodow(arg_day)"
    # On DATEs, DuckDB's boundary count is the number of whole days.
    days_between_template = "date_diff('day', CAST(arg_start AS DATE), CAST(arg_end AS DATE))"
    epoch_us_template = "epoch_us(arg_ts)"
    # Spark sorts the (key, value) structs with NULL fields first; the same order here.
    ordered_list_template = "list(arg_value ORDER BY arg_key ASC NULLS FIRST, arg_value ASC NULLS FIRST)"

    def materialize_statements(self, name: str, sql: str) -> tuple[str, str]:
        """Keep ``sql``'s result as temporary table ``name`` (replacing it), then count its rows."""
        check_name(name, what="table name")
        return f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", f"SELECT count(*) FROM {name}"

    def session_statements(self) -> list[str]:
        # The TimeZone setting needs the ICU extension, which DuckDB only loads after connecting, so it cannot go
        # in the connection's config. UTC: what the engine hands to Python is then labelled UTC.
        # No progress bar: DuckDB would draw it on stdout over a long query, into a command's --json output.
        return ["SET TimeZone = 'UTC'", "SET enable_progress_bar = false"]


class SparkDialect(Dialect):
    name = "spark"
    sqlglot_dialect = "spark"
    json_text_template = "get_json_object(arg_doc, arg_path)"
    # from_utc_timestamp shifts the instant so that the session zone (UTC, set by the Spark engine) shows the
    # wall clock of zone; date_trunc and CAST AS DATE then read it in UTC.
    local_time_template = "from_utc_timestamp(arg_ts, arg_zone)"
    bucket_template = "CAST(date_trunc('{unit}', arg_local) AS DATE)"
    day_template = "CAST(arg_local AS DATE)"
    isodow_template = "weekday(arg_day) + 1"  # weekday: Monday 0
    days_between_template = "datediff(CAST(arg_end AS DATE), CAST(arg_start AS DATE))"
    epoch_us_template = "unix_micros(arg_ts)"
    # collect_list drops NULLs, a struct is never NULL, so NULL values survive; array_sort orders the structs by
    # key, then value.
    ordered_list_template = "transform(array_sort(collect_list(named_struct('k', arg_key, 'v', arg_value))), s -> s.v)"


DIALECTS: dict[str, Dialect] = {"duckdb": DuckDBDialect(), "spark": SparkDialect()}


def get_dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"no SQL dialect {name!r}; known: {', '.join(DIALECTS)}") from None


@functools.lru_cache(maxsize=512)
def _render(dialect_name: str, sql: str) -> str:
    dialect = DIALECTS[dialect_name]
    try:
        tree = sqlglot.parse_one(sql, read=SOURCE_DIALECT)
    except ParseError as exc:
        raise PortabilityError("a query SQLGlot cannot read", str(exc).splitlines()[0], sql) from None
    check_portable(tree, sql)

    def expand(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower().startswith("c360_"):
            # Arguments first: transform does not descend into the node it replaced.
            args = [arg.transform(expand) for arg in node.expressions]
            return dialect.expand(node.name.lower(), args, sql)
        return node

    return tree.transform(expand).sql(dialect=dialect.sqlglot_dialect, pretty=True)
