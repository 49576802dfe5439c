"""The message each kind of row becomes (docs/import.md shows every shape).

A shape gives two templates over a batch's *frame* (its fields read, one array per name):

- ``message``: the Segment message as ``services.ingest.to_record`` receives it;
- ``content``: the part of it that says what the row *is* — everything but where and when it was read (the
  file, the line, the export time). Its hash is the messageId, so the same row imported twice is one event
  and a changed row is a new one.

Every message carries an ``anonymousId`` (``<source>:<id>``), so ``to_record`` always accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from c360.importer.fieldreader import FieldReader
from c360.importer.mapping import FieldSource, Mapping
from c360.importer.template import Arr, Col, Const, Each, Money, Node, Nullable, Obj, When

#: Custom traits and properties live in the frame under this prefix (their names are the user's).
CUSTOM = "custom:"
_CUSTOMER_TRAITS: Final = (
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("name", "full_name"),
    ("gender", "gender"),
    ("birthday", "birth_date"),
    ("email", "email"),
    ("phone", "phone"),
)
_CUSTOMER_EXTRA_TRAITS: Final = (
    ("ward", "ward"),
    ("district", "district"),
    ("province", "province"),
    ("nationalId", "national_id"),
    ("loyaltyCard", "loyalty_card"),
    ("createdAt", "created_at"),
)
_ADDRESS: Final = (
    ("street", "address"),
    ("city", "city"),
    ("state", "province"),
    ("postalCode", "postcode"),
    ("country", "country"),
)
_ORDER_MONEY: Final = ("revenue", "subtotal", "discount", "shipping", "tax")
_EVENT_PROPERTIES: Final = {
    "orders": ("coupon", "payment_method", "affiliation"),
    "engagement": ("campaign_id", "campaign_name", "email_id", "email_subject", "link_url"),
    "feedback": ("survey_id", "product_id", "nps", "csat", "rating", "review"),
}


@dataclass(frozen=True, slots=True)
class Shape:
    """The templates of one mapping; ``message_type`` is the Segment type of every message."""

    message_type: str
    message: Obj
    content: Obj


@dataclass(frozen=True, slots=True)
class Context:
    """What a batch's frame needs besides the file: the import's constants."""

    file_name: str
    exported_at_ms: int
    exported_at_iso: str
    default_currency: str


def shape_for(mapping: Mapping, file_name: str) -> Shape:
    if mapping.kind == "customers":
        return _customer_shape(mapping, file_name)
    return _track_shape(mapping, file_name)


def _present(mapping: Mapping, entries: tuple[tuple[str, str], ...]) -> tuple[tuple[str, Node], ...]:
    """(key, Col) for the entries whose field the mapping maps."""
    return tuple((key, Col(name)) for key, name in entries if name in mapping.fields)


def _custom_entries(mapping: Mapping) -> tuple[tuple[str, Node], ...]:
    return tuple((name, Col(CUSTOM + name)) for name in mapping.custom)


def _external_id(id_column: str, kind: str) -> Node:
    return When(
        id_column,
        Obj(
            (("id", Col(id_column)), ("type", Const(kind)), ("collection", Const("users")), ("encoding", Const("none")))
        ),
    )


def _import_context(file_name: str) -> Obj:
    return Obj((("file", Const(file_name)), ("line", Col("line")), ("recordId", Col("record_id"))))


def _user_id(mapping: Mapping) -> Node:
    return Nullable(Col("user_id")) if "user_id" in mapping.fields else Const(None)


def _customer_shape(mapping: Mapping, file_name: str) -> Shape:
    address = _present(mapping, _ADDRESS)
    traits = Obj(
        (
            *_present(mapping, _CUSTOMER_TRAITS),
            *((("address", Obj(address)),) if address else ()),
            *_present(mapping, _CUSTOMER_EXTRA_TRAITS),
            *_custom_entries(mapping),
        )
    )
    others = mapping.groups.get("external_ids", {})
    external_ids = Arr(
        (
            _external_id("record_id", f"{mapping.source}_id"),
            *(_external_id(f"external:{name}", name) for name in others),
        )
    )
    consent = mapping.groups.get("consent", {})
    context_entries: tuple[tuple[str, Node], ...] = (("externalIds", external_ids),)
    if consent:
        preferences = Obj(tuple((name, Col(f"consent:{name}")) for name in consent))
        context_entries += (("consent", Obj((("categoryPreferences", preferences),))),)
    identity: tuple[tuple[str, Node], ...] = (
        ("type", Const("identify")),
        ("userId", _user_id(mapping)),
        ("anonymousId", Col("anonymous_id")),
    )
    context = Obj((*context_entries, ("import", _import_context(file_name))), keep=True)
    message = Obj(
        (
            *identity,
            ("messageId", Col("message_id")),
            ("timestamp", Col("timestamp")),
            ("traits", traits),
            ("context", context),
        )
    )
    # The time is part of what a row is only when the row says it (updated_at); the export time is not.
    content = Obj(
        (
            *identity,
            ("timestamp", Col("row_timestamp")),
            ("traits", traits),
            ("context", Obj(context_entries, keep=True)),
        )
    )
    return Shape("identify", message, content)


def _track_shape(mapping: Mapping, file_name: str) -> Shape:
    kind = mapping.kind
    event: Node = Col("event") if "event" in mapping.fields else Const(mapping.event)
    properties: tuple[tuple[str, Node], ...] = ()
    if kind == "orders":
        properties += (("order_id", Col("order_id")), ("total", Money("total", "digits")))
        properties += tuple((name, Money(name, "digits")) for name in _ORDER_MONEY if name in mapping.fields)
        properties += (("currency", Col("currency")),)
    properties += tuple((name, Col(name)) for name in _EVENT_PROPERTIES[kind] if name in mapping.fields)
    if "products" in mapping.fields:
        item = Obj((("sku", Col("sku")), ("quantity", Col("quantity")), ("price", Money("price", "digits"))))
        properties += (("products", Each("products", item)),)
    properties += _custom_entries(mapping)
    context_entries: tuple[tuple[str, Node], ...] = (
        ("traits", Obj(_present(mapping, (("email", "email"), ("phone", "phone"), ("name", "name"))))),
    )
    if "customer_id" in mapping.fields:
        context_entries += (("externalIds", Arr((_external_id("customer_id", f"{mapping.source}_id"),))),)
    identity: tuple[tuple[str, Node], ...] = (
        ("type", Const("track")),
        ("event", event),
        ("userId", _user_id(mapping)),
        ("anonymousId", Col("anonymous_id")),
    )
    body: tuple[tuple[str, Node], ...] = (("properties", Obj(properties, keep=True)),)
    context = Obj((*context_entries, ("import", _import_context(file_name))), keep=True)
    message = Obj(
        (*identity, ("messageId", Col("message_id")), ("timestamp", Col("timestamp")), *body, ("context", context))
    )
    content = Obj((*identity, ("timestamp", Col("timestamp")), *body, ("context", Obj(context_entries, keep=True))))
    return Shape("track", message, content)


# --- frames: the fields of a batch, read -----------------------------------------------------------------------
def read_frame(mapping: Mapping, fields: FieldReader, context: Context) -> dict[str, pa.Array]:
    """Every array the shape's templates name, for every row of the batch (wrong rows included: the caller
    drops the rows that ``fields.problems`` names)."""
    frame: dict[str, pa.Array] = {}
    record_id = mapping.record_id
    if record_id is not None:
        frame["record_id"] = fields.text(record_id)
        fields.require(record_id, frame["record_id"], "missing: every row needs its id")
    for name, source in mapping.fields.items():
        if source.parser not in ("money", "items"):
            frame[name] = fields.value(source)
    for group, members in mapping.groups.items():
        prefix = "external:" if group == "external_ids" else f"{group}:"
        for name, source in members.items():
            frame[prefix + name] = fields.value(source)
    for name, source in mapping.custom.items():
        frame[CUSTOM + name] = fields.value(source)
    if mapping.kind == "customers":
        _customer_frame(mapping, fields, frame, context)
    else:
        _track_frame(mapping, fields, frame, context)
    return frame


def _prefixed(prefix: str, values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(prefix, values, "")


def _customer_frame(mapping: Mapping, fields: FieldReader, frame: dict[str, pa.Array], context: Context) -> None:
    if "created_at" in frame:
        frame["created_at"] = fields.iso_texts["fields.created_at"]
    exported_ms = pa.scalar(context.exported_at_ms, pa.int64())
    exported_iso = pa.scalar(context.exported_at_iso, pa.string())
    updated = frame.pop("updated_at", None)
    if updated is None:
        frame["ts_ms"] = pa.repeat(exported_ms, fields.rows)
        frame["timestamp"] = pa.repeat(exported_iso, fields.rows)
        frame["row_timestamp"] = pa.nulls(fields.rows, pa.string())
    else:
        frame["ts_ms"] = pc.fill_null(updated, exported_ms)
        frame["row_timestamp"] = fields.iso_texts["fields.updated_at"]
        frame["timestamp"] = pc.fill_null(frame["row_timestamp"], exported_iso)
    frame["anonymous_id"] = _prefixed(mapping.source + ":", frame["record_id"])


def _track_frame(mapping: Mapping, fields: FieldReader, frame: dict[str, pa.Array], context: Context) -> None:
    timestamp = mapping.fields["timestamp"]
    frame["ts_ms"] = frame.pop("timestamp")
    fields.require(timestamp, frame["ts_ms"], "missing: every row needs its time")
    frame["timestamp"] = fields.iso_texts[timestamp.key]
    if "event" in mapping.fields:
        fields.require(mapping.fields["event"], frame["event"], "missing: every row needs its event name")
    if mapping.kind == "orders":
        _order_frame(mapping, fields, frame, context)
    person = frame.get("customer_id")
    subject = frame["record_id"] if person is None else pc.coalesce(person, frame["record_id"])
    frame["anonymous_id"] = _prefixed(mapping.source + ":", subject)


def _order_frame(mapping: Mapping, fields: FieldReader, frame: dict[str, pa.Array], context: Context) -> None:
    from c360.importer.columns import exponents

    order_id = mapping.fields.get("order_id")
    if order_id is None:
        frame["order_id"] = frame["record_id"]
    else:
        fields.require(order_id, frame["order_id"], "missing: every order needs its id")
    given_currency = frame.get("currency")
    default = mapping.currency or context.default_currency
    fallback = (
        pc.fill_null(given_currency, default) if given_currency is not None else pa.array([default] * fields.rows)
    )
    total_source = mapping.fields["total"]
    total = fields.money(total_source, fallback)
    fields.require(total_source, total.minor, "missing: every order needs its total")
    currency = total.currency
    if given_currency is not None:
        _check_same_currency(fields, total_source, total.currency, given_currency, "the currency column says")
    frame["total"] = total.minor
    frame["currency"] = currency
    frame["digits"] = exponents(pc.fill_null(currency, default))
    for name in _ORDER_MONEY:
        source = mapping.fields.get(name)
        if source is not None:
            amount = fields.money(source, pc.fill_null(currency, default))
            _check_same_currency(fields, source, amount.currency, currency, "the total is in")
            frame[name] = amount.minor
    products = mapping.fields.get("products")
    if products is not None:
        frame["products"] = fields.items(products, currency)


def _check_same_currency(
    fields: FieldReader, source: FieldSource, found: pa.Array, expected: pa.Array, saying: str
) -> None:
    from c360.importer.columns import Bad

    differs = pc.fill_null(pc.not_equal(found, expected), False)
    if pc.any(differs).as_py():
        reason = pc.binary_join_element_wise(
            pc.binary_join_element_wise("in ", pc.fill_null(found, "?"), f" but {saying} ", ""),
            pc.fill_null(expected, "?"),
            "",
        )
        fields.problem(source, Bad(differs, reason))
