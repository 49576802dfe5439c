"""Reading the values of one field for a whole batch at once: text, dates, timestamps, money, numbers, words.

Each reader takes Arrow arrays and returns the values (null where missing or wrong) and the rows that are wrong
with the reason. Vectorised with pyarrow.compute and DuckDB; where the rules are easier said in Python (money
text, yes/no words, event names) they run once per *distinct* value of the batch, never once per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from c360.domain.money import exponent
from c360.domain.money_text import ISO_CODES, MoneyTextError, parse_money
from c360.importer.fields import BOOLEANS, EMAIL_EVENTS, GENDERS
from c360.importer.jsontext import join_present
from c360.importer.nfc import maybe_not_nfc

_NULL_STRING = pa.scalar(None, pa.string())
_TIMEZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")
_ISO = "%Y-%m-%dT%H:%M:%S.%gZ"  # DuckDB's strftime; %g is milliseconds


@dataclass(frozen=True, slots=True)
class Bad:
    """The rows of a batch where a value is wrong: ``mask`` is true on them, ``reason`` says why (one text for
    all, or one per row)."""

    mask: pa.Array
    reason: str | pa.Array


def flagged(values_in: pa.Array, values_out: pa.Array, reason: str | pa.Array) -> Bad | None:
    """The rows where a value was given but could not be read (null out of a non-null in)."""
    mask = pc.and_(pc.is_valid(values_in), pc.is_null(values_out))
    return Bad(mask, reason) if pc.any(mask).as_py() else None


# --- text ------------------------------------------------------------------------------------------------------
def as_text(values: pa.Array) -> pa.Array:
    """Any column as text (Parquet columns may be numbers, booleans, dates or timestamps)."""
    kind = values.type
    if pa.types.is_string(kind):
        return values
    if pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(values, "true", "false")
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            return pc.binary_join_element_wise(
                pc.strftime(pc.cast(values, pa.timestamp("ms", "UTC")), "%Y-%m-%dT%H:%M:%S"), "Z", ""
            )
        return pc.strftime(pc.cast(values, pa.timestamp("ms")), "%Y-%m-%dT%H:%M:%S")
    if pa.types.is_date(kind):
        return pc.strftime(values, "%Y-%m-%d")
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pa.array([None if v is None else v.decode("utf-8", "replace") for v in values.to_pylist()], pa.string())
    return pc.cast(values, pa.string())


def clean(values: pa.Array) -> pa.Array:
    """Text as c360 keeps it: Unicode NFC, surrounding white space trimmed, empty as missing."""
    text = as_text(values)
    if not pc.all(pc.string_is_ascii(text)).as_py() and maybe_not_nfc(text):
        text = pc.utf8_normalize(text, "NFC")
    text = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(text, ""), _NULL_STRING, text)


def joined(parts: Sequence[pa.Array], separator: str) -> pa.Array:
    """The present parts of each row joined by ``separator``; missing when none is present."""
    if len(parts) == 1:
        return parts[0]
    text = join_present(list(parts), separator, len(parts[0]))
    return pc.if_else(pc.equal(text, ""), _NULL_STRING, text)


def per_distinct(
    values: pa.Array, read: Callable[[str], tuple[Any, str | None]], kind: pa.DataType
) -> tuple[pa.Array, pa.Array]:
    """``read`` applied once per distinct value: (the values, the reasons — null where the value was read)."""
    encoded = pc.dictionary_encode(values)
    results = [read(v) for v in encoded.dictionary.to_pylist()]
    read_values = pa.array([r[0] for r in results], kind)
    reasons = pa.array([r[1] for r in results], pa.string())
    return pc.take(read_values, encoded.indices), pc.take(reasons, encoded.indices)


def remap(values: pa.Array, table: Sequence[tuple[str, str]]) -> pa.Array:
    """Values replaced as a mapping's ``values:`` says (compared as written, then case-insensitively)."""
    if not table:
        return values
    exact = dict(table)
    folded = {key.casefold(): value for key, value in table}

    def read(value: str) -> tuple[str, None]:
        return exact.get(value, folded.get(value.casefold(), value)), None

    return per_distinct(values, read, pa.string())[0]


def _with_bad(values: pa.Array, reasons: pa.Array) -> tuple[pa.Array, Bad | None]:
    mask = pc.is_valid(reasons)
    if not pc.any(mask).as_py():
        return values, None
    return values, Bad(mask, reasons)


# --- words -----------------------------------------------------------------------------------------------------
def gender(values: pa.Array) -> pa.Array:
    """male / female / other from the words exports use (Nam, Nữ, M, F ...); anything else as written."""

    def read(value: str) -> tuple[str, None]:
        return GENDERS.get(value.casefold(), value), None

    return per_distinct(values, read, pa.string())[0]


def boolean(values: pa.Array) -> tuple[pa.Array, Bad | None]:
    def read(value: str) -> tuple[bool | None, str | None]:
        found = BOOLEANS.get(value.casefold())
        return (found, None) if found is not None else (None, f"{value!r} is not yes/no (true/false, 1/0, có/không)")

    return _with_bad(*per_distinct(values, read, pa.bool_()))


def email_event(values: pa.Array, fixed_names: bool) -> tuple[pa.Array, Bad | None]:
    """Segment's email event names from the words an email platform writes (opened, click ...).

    With ``fixed_names`` (the mapping maps the values itself) any name is taken as it is.
    """
    canonical = set(EMAIL_EVENTS.values())

    def read(value: str) -> tuple[str | None, str | None]:
        if fixed_names or value in canonical:
            return value, None
        found = EMAIL_EVENTS.get(value.casefold())
        if found is None:
            known = ", ".join(sorted(canonical))
            return None, f"unknown email event {value!r} (known: {known}; map others in `values:`)"
        return found, None

    return _with_bad(*per_distinct(values, read, pa.string()))


def currency(values: pa.Array) -> tuple[pa.Array, Bad | None]:
    def read(value: str) -> tuple[str | None, str | None]:
        code = value.upper()
        return (code, None) if code in ISO_CODES else (None, f"{value!r} is not an ISO 4217 currency code")

    return _with_bad(*per_distinct(values, read, pa.string()))


# --- numbers ---------------------------------------------------------------------------------------------------
_INTEGER = r"^[+-]?[0-9]+$"
_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def integer(values: pa.Array, low: int | None, high: int | None) -> tuple[pa.Array, Bad | None]:
    if pa.types.is_integer(values.type):
        numbers = pc.cast(values, pa.int64())
        bad_text = pc.is_null(values)
    else:
        text = values
        well_formed = pc.match_substring_regex(text, _INTEGER)
        bad_text = pc.invert(pc.fill_null(well_formed, True))
        numbers = pc.cast(pc.if_else(well_formed, text, _NULL_STRING), pa.int64())
    reason: pa.Array | str = "not a whole number"
    masks = [bad_text]
    if low is not None and high is not None:
        out_of_range = pc.fill_null(pc.or_(pc.less(numbers, low), pc.greater(numbers, high)), False)
        masks.append(out_of_range)
        reason = pc.if_else(out_of_range, f"must be a whole number from {low} to {high}", "not a whole number")
        numbers = pc.if_else(out_of_range, pa.scalar(None, pa.int64()), numbers)
    mask = pc.or_(*masks) if len(masks) > 1 else masks[0]
    return numbers, (Bad(mask, reason) if pc.any(mask).as_py() else None)


def number(values: pa.Array) -> tuple[pa.Array, Bad | None]:
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return pc.cast(values, pa.float64()), None
    well_formed = pc.match_substring_regex(values, _NUMBER)
    numbers = pc.cast(pc.if_else(well_formed, values, _NULL_STRING), pa.float64())
    return numbers, flagged(values, numbers, "not a number")


# --- money -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MoneyColumn:
    minor: pa.Array  # int64
    currency: pa.Array  # string
    bad: Bad | None


def money(values: pa.Array, default_currency: pa.Array) -> MoneyColumn:
    """Money text read with each row's default currency (used when the text names none)."""
    key = pc.binary_join_element_wise(values, default_currency, "\x1f")

    def read(item: str) -> tuple[dict[str, Any] | None, str | None]:
        text, _, fallback = item.partition("\x1f")
        try:
            minor, code = parse_money(text, default_currency=fallback or None)
        except MoneyTextError as exc:
            return None, str(exc)
        return {"minor": minor, "currency": code}, None

    parsed, reasons = per_distinct(key, read, pa.struct([("minor", pa.int64()), ("currency", pa.string())]))
    minor, code = pc.struct_field(parsed, "minor"), pc.struct_field(parsed, "currency")
    mask = pc.is_valid(reasons)
    return MoneyColumn(minor, code, Bad(mask, reasons) if pc.any(mask).as_py() else None)


def exponents(currencies: pa.Array) -> pa.Array:
    """The minor-unit digits of each row's currency (see domain.money.exponent)."""

    def read(code: str) -> tuple[int, None]:
        return exponent(code), None

    return per_distinct(currencies, read, pa.int32())[0]


# --- dates and times (DuckDB) ----------------------------------------------------------------------------------
class TimeReader:
    """Dates and timestamps read by DuckDB, which checks calendars (no 30 February) and reads ISO 8601 with or
    without a zone; a value without one is read in ``timezone``."""

    def __init__(self, timezone: str) -> None:
        import duckdb

        if not _TIMEZONE_NAME.match(timezone):
            raise ValueError(f"{timezone!r} is not a time zone name")
        self.timezone = timezone
        self._db = duckdb.connect()
        self._db.execute("SET threads = 1")  # the log writer needs the other core
        # SET takes no parameters; the name is checked above against the characters IANA names use.
        self._db.execute("SET TimeZone = '" + timezone + "'")

    def close(self) -> None:
        self._db.close()

    def _select(self, values: pa.Array, outputs: str, parsed: str, formats: Sequence[str]) -> pa.Table:
        """``SELECT outputs FROM (SELECT parsed AS t FROM values)``; the SQL is assembled from fixed pieces only,
        the formats are bound as parameters."""
        self._db.register("batch", pa.table({"s": values}))
        try:
            sql = f"SELECT {outputs} FROM (SELECT {parsed} AS t FROM batch)"
            return self._db.sql(sql, params=list(formats)).to_arrow_table()
        finally:
            self._db.unregister("batch")

    def instants(self, values: pa.Array, formats: Sequence[str]) -> tuple[pa.Array, pa.Array, Bad | None]:
        """(milliseconds since the epoch, Segment's ISO text in UTC) of each value, and the wrong ones."""
        if pa.types.is_timestamp(values.type):
            zoned = (
                values
                if values.type.tz
                else pc.assume_timezone(values, self.timezone, ambiguous="earliest", nonexistent="earliest")
            )
            ms = pc.cast(pc.cast(zoned, pa.timestamp("ms", "UTC")), pa.int64())
            return ms, self.iso(ms), None
        text = as_text(values)
        parsed = _parse_expression(formats, "TIMESTAMPTZ")
        # DuckDB writes the text too: five times faster than Arrow's strftime.
        result = self._select(
            text, f"epoch_ms(t) AS ms, strftime(timezone('UTC', t), '{_ISO}') AS iso", parsed, formats
        )
        ms, iso = result.column("ms").combine_chunks(), result.column("iso").combine_chunks()
        expected = f"the format {' or '.join(formats)}" if formats else "ISO 8601 such as 2026-03-01 08:30:00"
        return ms, iso, flagged(text, ms, f"not a date and time in {expected}")

    def iso(self, ms: pa.Array) -> pa.Array:
        """Milliseconds since the epoch as Segment writes a time: ``2026-03-01T01:30:00.000Z``."""
        self._db.register("batch", pa.table({"ms": ms}))
        try:
            result = self._db.sql(f"SELECT strftime(epoch_ms(ms), '{_ISO}') AS iso FROM batch").to_arrow_table()
        finally:
            self._db.unregister("batch")
        return result.column("iso").combine_chunks()

    def dates(self, values: pa.Array, formats: Sequence[str]) -> tuple[pa.Array, Bad | None]:
        """``YYYY-MM-DD`` of each value."""
        text = as_text(values)
        parsed = _parse_expression(formats, "DATE")
        days = self._select(text, "strftime(t, '%Y-%m-%d') AS v", parsed, formats).column("v").combine_chunks()
        expected = " or ".join(formats) if formats else "YYYY-MM-DD"
        return days, flagged(text, days, f"not a date in the format {expected}")


def _parse_expression(formats: Sequence[str], sql_type: str) -> str:
    """DuckDB SQL reading column ``s`` as ``sql_type``: the first of ``formats`` that fits (bound as $1, $2 ...),
    or DuckDB's own ISO reading when no format is declared; NULL where nothing fits."""
    if not formats:
        return f"TRY_CAST(s AS {sql_type})"
    parts = [f"try_strptime(s, ${i + 1})::{sql_type}" for i in range(len(formats))]
    return f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]
