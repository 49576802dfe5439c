"""The mapping file: which source a file comes from, what kind of rows it holds and which column is which field.

A user-facing contract (docs/import.md). Every error names the key that is wrong, as a dotted path
(``fields.birth_date.format: ...``), so the fix is obvious without reading c360's code.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from c360.domain.money_text import ISO_CODES
from c360.errors import InvalidInput
from c360.importer.fields import (
    CUSTOM_PARSERS,
    DEFAULT_EVENTS,
    FIELDS,
    RESERVED_TRAITS,
    CustomType,
    FieldDef,
    Kind,
    Parser,
    reserved_properties,
)
from c360.yamlfile import read_yaml

Encoding = Literal["auto", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "windows-1258", "cp1258"]
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_CUSTOM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,99}$")
_GROUP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,49}$")
_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
#: What happens to a row whose value of a field cannot be read: rejected (the default), or accepted with the field
#: left missing and the value recorded as a warning.
Invalid = Literal["reject", "missing"]
#: The fields that may leave an unreadable value missing: a text field reads any value, and the others (money,
#: currency, items, event names) decide how the rest of the row is read or whether it means anything at all.
_MAY_BE_MISSING: tuple[Parser, ...] = ("date", "timestamp", "integer", "number", "boolean")


class MappingError(InvalidInput):
    """A mapping that cannot be used; ``field`` is the dotted key that is wrong, ``reason`` says why."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason, field=key)
        self.reason = reason


class ColumnSpec(BaseModel):
    """Where one field comes from, written as a mapping: ``{column: c, format: "%Y%m%d"}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str | None = None
    columns: list[str] | None = None
    join: str = " "
    format: str | list[str] | None = None
    values: dict[str, str] | None = None
    type: CustomType | None = None
    invalid: Invalid = "reject"

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        if (self.column is None) == (self.columns is None):
            raise ValueError("give either `column` or `columns`")
        if self.columns is not None and not self.columns:
            raise ValueError("`columns` must name at least one column")
        return self


class _RawMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    kind: Kind
    record_id: str | None = None
    timezone: str | None = None
    encoding: Encoding = "auto"
    delimiter: str | None = None
    currency: str | None = None
    event: str | None = None
    fields: dict[str, Any] = {}
    traits: list[str] | dict[str, Any] = []
    properties: list[str] | dict[str, Any] = []


@dataclass(frozen=True, slots=True)
class FieldSource:
    """One field, resolved: where it comes from in the file and how it is read."""

    key: str  # the mapping key, for messages: "fields.birth_date"
    name: str  # the canonical field, group member or custom name
    parser: Parser
    columns: tuple[str, ...]
    join: str = " "
    formats: tuple[str, ...] = ()
    values: tuple[tuple[str, str], ...] = ()
    low: int | None = None
    high: int | None = None
    #: ``missing``: a value that cannot be read leaves the field missing (a warning) instead of rejecting the row.
    invalid: Invalid = "reject"

    @property
    def column(self) -> str:
        """The column named in rejects: the first one of a joined field."""
        return self.columns[0]


@dataclass(frozen=True, slots=True)
class Mapping:
    source: str
    kind: Kind
    record_id: FieldSource | None
    timezone: str | None
    encoding: str
    delimiter: str | None
    currency: str | None
    event: str | None
    fields: dict[str, FieldSource]
    groups: dict[str, dict[str, FieldSource]] = field(default_factory=dict)
    custom: dict[str, FieldSource] = field(default_factory=dict)

    def sources(self) -> list[FieldSource]:
        """Every field in the order their errors are reported: record id, fields, groups, custom ones."""
        found = [self.record_id] if self.record_id is not None else []
        found += list(self.fields.values())
        for members in self.groups.values():
            found += list(members.values())
        return found + list(self.custom.values())

    def columns(self) -> list[str]:
        """Every column the mapping reads, each once, in mapping order."""
        seen: dict[str, None] = {}
        for source in self.sources():
            for column in source.columns:
                seen.setdefault(column, None)
        return list(seen)


# --- loading ---------------------------------------------------------------------------------------------------
def load_mapping(path: Path) -> Mapping:
    """The mapping in YAML file ``path``; MappingError naming the bad key."""
    return parse_mapping(read_yaml(path, MappingError, label="mapping "))


def _pydantic_error(exc: ValidationError, model: type[BaseModel]) -> MappingError:
    first = exc.errors()[0]
    # pydantic adds the union member it tried ("str", "list[str]") to the location: not a key the user wrote
    loc = ".".join(str(part) for part in first["loc"] if not str(part).startswith(("list[", "dict[", "str")))
    if first["type"] == "extra_forbidden":
        return MappingError(f"unknown key (valid keys: {', '.join(model.model_fields)})", loc)
    if first["type"] == "missing":
        return MappingError("is required", loc)
    return MappingError(first["msg"].removeprefix("Value error, "), loc or None)


def parse_mapping(data: object) -> Mapping:
    """A mapping from already-parsed YAML; MappingError naming the bad key."""
    if not isinstance(data, dict):
        raise MappingError("a mapping file holds keys such as `source:`, `kind:` and `fields:`")
    try:
        raw = _RawMapping.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_error(exc, _RawMapping) from None
    return _resolve(raw)


def _resolve(raw: _RawMapping) -> Mapping:
    if not _SOURCE_NAME.match(raw.source):
        raise MappingError(f"{raw.source!r} is not a source name (1-100 letters, digits, '-', '_' or '.')", "source")
    if raw.timezone is not None:
        try:
            ZoneInfo(raw.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise MappingError(
                f"{raw.timezone!r} is not an IANA time zone (e.g. Asia/Ho_Chi_Minh)", "timezone"
            ) from None
    currency = raw.currency.upper() if raw.currency else None
    if currency is not None and currency not in ISO_CODES:
        raise MappingError(f"{raw.currency!r} is not an ISO 4217 currency code", "currency")
    delimiter = _delimiter(raw.delimiter)
    known = FIELDS[raw.kind]
    # A field the rows cannot do without (record id, time, total, event name, order id) rejects them when unreadable.
    needed = {name for name, definition in known.items() if definition.required} | {"record_id", "event", "order_id"}

    fields: dict[str, FieldSource] = {}
    groups: dict[str, dict[str, FieldSource]] = {}
    for name, value in raw.fields.items():
        key = f"fields.{name}"
        if raw.kind == "events":
            raise MappingError(
                "the events kind reads Segment's own column names (type, event, userId ...): remove `fields`", key
            )
        definition = known.get(name)
        if definition is None:
            raise MappingError(f"unknown field for kind {raw.kind} (valid fields: {', '.join(known)})", key)
        if definition.group:
            groups[name] = _group(key, definition, value)
        else:
            fields[name] = _source(key, name, definition.parser, value, definition, needed=name in needed)

    record_id = _record_id(raw, fields)
    _check_required(raw, fields, known)
    event = _event(raw, fields)
    custom = _custom(raw)
    return Mapping(
        source=raw.source,
        kind=raw.kind,
        record_id=record_id,
        timezone=raw.timezone,
        encoding=raw.encoding,
        delimiter=delimiter,
        currency=currency,
        event=event,
        fields=fields,
        groups=groups,
        custom=custom,
    )


def _delimiter(value: str | None) -> str | None:
    if value is None or value == "auto":
        return None
    value = _DELIMITERS.get(value.lower(), value)
    if len(value) != 1 or value in '"\r\n':
        raise MappingError(f"{value!r} is not a one-character delimiter (or tab, comma, semicolon, pipe)", "delimiter")
    return value


def _record_id(raw: _RawMapping, fields: dict[str, FieldSource]) -> FieldSource | None:
    from_fields = fields.pop("record_id", None)
    if raw.record_id is not None and from_fields is not None:
        raise MappingError("record_id is given twice: keep the top-level `record_id:` only", "fields.record_id")
    if raw.record_id is not None:
        return FieldSource("record_id", "record_id", "text", (raw.record_id,))
    if from_fields is None and raw.kind != "events":
        raise MappingError("name the column that holds the source's own id of each row", "record_id")
    return from_fields


def _check_required(raw: _RawMapping, fields: dict[str, FieldSource], known: dict[str, FieldDef]) -> None:
    for name, definition in known.items():
        if definition.required and name not in fields:
            raise MappingError(f"kind {raw.kind} needs this field", f"fields.{name}")


def _event(raw: _RawMapping, fields: dict[str, FieldSource]) -> str | None:
    if raw.event is not None:
        if raw.kind not in ("engagement", "feedback"):
            raise MappingError(f"kind {raw.kind} sets its own event name", "event")
        if "event" in fields:
            raise MappingError("give either a fixed `event:` or `fields.event`, not both", "event")
        if not raw.event.strip():
            raise MappingError("must not be empty", "event")
        return raw.event.strip()
    if raw.kind == "engagement" and "event" not in fields:
        raise MappingError("kind engagement needs `fields.event` (a column) or a fixed `event:` name", "fields.event")
    return DEFAULT_EVENTS.get(raw.kind)


def _custom(raw: _RawMapping) -> dict[str, FieldSource]:
    if raw.traits and raw.kind != "customers":
        raise MappingError(f"only kind customers has traits; kind {raw.kind} takes `properties`", "traits")
    if raw.properties and raw.kind in ("customers", "events"):
        raise MappingError(f"kind {raw.kind} takes no `properties`", "properties")
    if raw.kind == "customers":
        where, given, reserved = "traits", raw.traits, RESERVED_TRAITS
    else:
        where, given, reserved = "properties", raw.properties, reserved_properties(raw.kind)
    items = {column: column for column in given} if isinstance(given, list) else dict(given)
    custom: dict[str, FieldSource] = {}
    for name, value in items.items():
        key = f"{where}.{name}"
        if not isinstance(name, str) or not _CUSTOM_NAME.match(name):
            raise MappingError("a name starts with a letter and holds letters, digits, '_', '-', '.' or spaces", key)
        if name in reserved:
            raise MappingError(f"{name!r} is set by c360 itself: map it under `fields` or choose another name", key)
        spec = _spec(key, value)
        parser = CUSTOM_PARSERS[spec.type or "string"]
        custom[name] = _from_spec(key, name, parser, spec, None)
    return custom


def _group(key: str, definition: FieldDef, value: object) -> dict[str, FieldSource]:
    if not isinstance(value, dict) or not value:
        raise MappingError(f"map names to columns, e.g. `{definition.name}: {{pos_id: pos_customer_id}}`", key)
    members: dict[str, FieldSource] = {}
    for name, member in value.items():
        member_key = f"{key}.{name}"
        if not isinstance(name, str) or not _GROUP_NAME.match(name):
            raise MappingError("a name starts with a letter and holds letters, digits or '_'", member_key)
        members[name] = _source(member_key, name, definition.parser, member, definition)
    return members


def _spec(key: str, value: object) -> ColumnSpec:
    if isinstance(value, str):
        if not value.strip():
            raise MappingError("must name a column", key)
        return ColumnSpec(column=value)
    if not isinstance(value, dict):
        raise MappingError("must be a column name or a mapping such as {column: ..., format: ...}", key)
    try:
        return ColumnSpec.model_validate(value)
    except ValidationError as exc:
        error = _pydantic_error(exc, ColumnSpec)
        raise MappingError(error.reason, f"{key}.{error.field}" if error.field else key) from None


def _source(
    key: str, name: str, parser: Parser, value: object, definition: FieldDef, *, needed: bool = False
) -> FieldSource:
    spec = _spec(key, value)
    if spec.type is not None:
        raise MappingError("only custom traits and properties take a type", f"{key}.type")
    if needed and spec.invalid != "reject":
        raise MappingError(
            "every row needs this field: a row whose value cannot be read is rejected (remove `invalid`)",
            f"{key}.invalid",
        )
    return _from_spec(key, name, parser, spec, definition)


def _from_spec(key: str, name: str, parser: Parser, spec: ColumnSpec, definition: FieldDef | None) -> FieldSource:
    columns = tuple(spec.columns) if spec.columns is not None else (spec.column or "",)
    if len(columns) > 1 and parser != "text":
        raise MappingError("only text fields can join several columns", f"{key}.columns")
    formats: tuple[str, ...] = ()
    if spec.format is not None:
        if parser not in ("date", "timestamp"):
            raise MappingError("only date and time fields take a format", f"{key}.format")
        formats = (spec.format,) if isinstance(spec.format, str) else tuple(spec.format)
        for fmt in formats:
            _check_format(f"{key}.format", fmt, parser)
    if spec.invalid == "missing" and parser not in _MAY_BE_MISSING:
        raise MappingError(
            f"only date, time, number and yes/no fields can leave a value missing (this is a {parser} field)",
            f"{key}.invalid",
        )
    return FieldSource(
        key=key,
        name=name,
        parser=parser,
        columns=columns,
        join=spec.join,
        formats=formats,
        values=tuple((spec.values or {}).items()),
        low=definition.low if definition else None,
        high=definition.high if definition else None,
        invalid=spec.invalid,
    )


_SAMPLE = dt.datetime(1987, 11, 25, 13, 47, 59)


def _check_format(key: str, fmt: str, parser: Parser) -> None:
    """A strptime format that can name the day (and, for a timestamp, need not name the time)."""
    if "%" not in fmt:
        raise MappingError(f"{fmt!r} is not a strptime format (such as %Y-%m-%d or %d/%m/%Y %H:%M)", key)
    try:
        written = _SAMPLE.strftime(fmt)
        parsed = dt.datetime.strptime(written, fmt)
    except ValueError as exc:
        raise MappingError(f"{fmt!r} is not a usable strptime format: {exc}", key) from None
    if parsed.date() != _SAMPLE.date():
        raise MappingError(f"{fmt!r} does not name the year, month and day", key)
    if parser == "date" and (parsed.hour or parsed.minute):
        raise MappingError(f"{fmt!r} names a time of day: a date field takes a date format", key)
