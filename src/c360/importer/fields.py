"""The canonical fields of each kind of import: what a mapping may name under ``fields:`` and how each is read.

This table is the contract between a mapping file and the messages it produces; docs/import.md lists the same
fields, and a test checks that it names every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["customers", "orders", "engagement", "feedback", "events"]
KINDS: Final[tuple[Kind, ...]] = ("customers", "orders", "engagement", "feedback", "events")

#: How a field's text is read.
#: text: trimmed, empty is missing · date: a calendar date (``format``, default ISO) · timestamp: an instant
#: (``format``, default ISO 8601; without a zone it is read in the mapping's time zone) · money: an amount with
#: its currency · integer: a whole number within ``low..high`` · boolean: yes/no words · gender: male/female
#: words · event: an event name · items: order lines ``sku:qty[:price];...`` · currency: an ISO 4217 code ·
#: number: a decimal number (custom properties).
Parser = Literal[
    "text", "date", "timestamp", "money", "integer", "number", "boolean", "gender", "event", "items", "currency"
]


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    parser: Parser = "text"
    required: bool = False
    low: int | None = None
    high: int | None = None
    #: A group maps names the user chooses to columns (``external_ids: {pos_id: col}``).
    group: bool = False


def _defs(*items: FieldDef) -> dict[str, FieldDef]:
    return {item.name: item for item in items}


_IDENTITY = (
    FieldDef("record_id"),
    FieldDef("customer_id"),
    FieldDef("user_id"),
    FieldDef("email"),
    FieldDef("phone"),
    FieldDef("name"),
)

FIELDS: Final[dict[Kind, dict[str, FieldDef]]] = {
    "customers": _defs(
        FieldDef("record_id"),
        FieldDef("user_id"),
        FieldDef("first_name"),
        FieldDef("last_name"),
        FieldDef("full_name"),
        FieldDef("gender", "gender"),
        FieldDef("birth_date", "date"),
        FieldDef("email"),
        FieldDef("phone"),
        FieldDef("address"),
        FieldDef("ward"),
        FieldDef("district"),
        FieldDef("city"),
        FieldDef("province"),
        FieldDef("postcode"),
        FieldDef("country"),
        FieldDef("national_id"),
        FieldDef("loyalty_card"),
        FieldDef("created_at", "timestamp"),
        FieldDef("updated_at", "timestamp"),
        FieldDef("external_ids", group=True),
        FieldDef("consent", "boolean", group=True),
    ),
    "orders": _defs(
        *_IDENTITY,
        FieldDef("order_id"),
        FieldDef("timestamp", "timestamp", required=True),
        FieldDef("total", "money", required=True),
        FieldDef("revenue", "money"),
        FieldDef("subtotal", "money"),
        FieldDef("discount", "money"),
        FieldDef("shipping", "money"),
        FieldDef("tax", "money"),
        FieldDef("currency", "currency"),
        FieldDef("coupon"),
        FieldDef("payment_method"),
        FieldDef("affiliation"),
        FieldDef("products", "items"),
    ),
    "engagement": _defs(
        *_IDENTITY,
        FieldDef("event", "event"),
        FieldDef("timestamp", "timestamp", required=True),
        FieldDef("campaign_id"),
        FieldDef("campaign_name"),
        FieldDef("email_id"),
        FieldDef("email_subject"),
        FieldDef("link_url"),
    ),
    "feedback": _defs(
        *_IDENTITY,
        FieldDef("timestamp", "timestamp", required=True),
        FieldDef("survey_id"),
        FieldDef("product_id"),
        FieldDef("nps", "integer", low=0, high=10),
        FieldDef("csat", "integer", low=1, high=5),
        FieldDef("rating", "integer", low=1, high=5),
        FieldDef("review"),
    ),
    # Rows already in Segment's shape: columns are read by their Segment names (see docs/import.md).
    "events": {},
}

#: The type a custom trait or property may be read as (``traits: {vip: {column: vip, type: boolean}}``).
CustomType = Literal["string", "integer", "number", "boolean"]
CUSTOM_PARSERS: Final[dict[CustomType, Parser]] = {
    "string": "text",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}

#: Email-platform event names (Segment's email spec) and the words exports use for them, lower case.
EMAIL_EVENTS: Final[dict[str, str]] = {
    "email delivered": "Email Delivered",
    "delivered": "Email Delivered",
    "delivery": "Email Delivered",
    "sent": "Email Delivered",
    "email opened": "Email Opened",
    "opened": "Email Opened",
    "open": "Email Opened",
    "email link clicked": "Email Link Clicked",
    "clicked": "Email Link Clicked",
    "click": "Email Link Clicked",
    "link clicked": "Email Link Clicked",
    "email unsubscribed": "Email Unsubscribed",
    "unsubscribed": "Email Unsubscribed",
    "unsubscribe": "Email Unsubscribed",
    "email bounced": "Email Bounced",
    "bounced": "Email Bounced",
    "bounce": "Email Bounced",
    "email marked as spam": "Email Marked as Spam",
    "spam": "Email Marked as Spam",
    "complaint": "Email Marked as Spam",
}

#: Gender words (lower case, NFC) -> Segment's ``gender`` trait; anything else is kept as written.
GENDERS: Final[dict[str, str]] = {
    "male": "male", "m": "male", "nam": "male", "man": "male", "trai": "male", "ông": "male", "anh": "male",
    "female": "female", "f": "female", "nữ": "female", "nu": "female", "woman": "female", "gái": "female",
    "bà": "female", "chị": "female",
    "other": "other", "khác": "other", "khac": "other",
}  # fmt: skip

#: Yes/no words (lower case, NFC) for boolean fields such as consent flags.
BOOLEANS: Final[dict[str, bool]] = {
    "true": True, "yes": True, "y": True, "1": True, "t": True, "có": True, "co": True, "x": True,
    "opt-in": True, "opted in": True, "subscribed": True,
    "false": False, "no": False, "n": False, "0": False, "f": False, "không": False, "khong": False,
    "opt-out": False, "opted out": False, "unsubscribed": False,
}  # fmt: skip

#: The default event name of each event kind when the mapping names none.
DEFAULT_EVENTS: Final[dict[Kind, str]] = {"orders": "Order Completed", "feedback": "Survey Answered"}

#: Trait names the customers shape sets itself (a custom trait of that name would be overwritten).
RESERVED_TRAITS: Final[frozenset[str]] = frozenset(
    {"firstName", "lastName", "name", "gender", "birthday", "email", "phone", "address", "ward", "district",
     "province", "nationalId", "loyaltyCard", "createdAt"}
)  # fmt: skip


def reserved_properties(kind: Kind) -> frozenset[str]:
    """Property names the shape of ``kind`` sets itself."""
    names = {name for name, definition in FIELDS[kind].items() if not definition.group}
    names -= {"record_id", "customer_id", "user_id", "email", "phone", "name", "timestamp", "event"}
    return frozenset(names | ({"order_id", "currency", "products"} if kind == "orders" else set()))
