"""Computed traits: declared aggregates over a person's events, or expressions over other traits, with a window.

Each one becomes a typed column of the build's ``computed`` table (and a key of the profile's ``computed`` traits).
The defaults cover the four data groups (behaviour, engagement, attitudinal, basic); a workspace adds its own in
``traits.yaml`` (same shape as ``DEFAULT_TRAITS``). Kinds:

    aggregate: count | sum | avg | min | max | first_at | last_at | most_frequent | last_value
               over `event` (or every event when omitted), of `property` (JSON) or `column` (a lake column),
               optionally `within_days` and `where` (property conditions as in segment definitions)
    ratio:     numerator / denominator (two other computed traits; empty when the denominator is 0)
    days_since: whole days from a timestamp trait to the build's time
    age_band:  bands of whole years from a date trait (`birthday`)
    copy:      a profile trait as it is
    province:  a province trait written any way (HN, Sài Gòn, an old province) as its 2025 unit's name
    sentiment: positive | neutral | negative from the words of a text property (a small Vietnamese/English lexicon)
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from c360.segments.definition import NAME, DefinitionError, ValueType

Kind = Literal["aggregate", "ratio", "days_since", "age_band", "copy", "province", "sentiment"]
Aggregate = Literal["count", "sum", "avg", "min", "max", "first_at", "last_at", "most_frequent", "last_value"]
AGGREGATES: Final[tuple[str, ...]] = (
    "count", "sum", "avg", "min", "max", "first_at", "last_at", "most_frequent", "last_value",
)  # fmt: skip
#: Lake columns an aggregate may read directly (typed, cheaper than JSON).
COLUMNS: Final[dict[str, ValueType]] = {
    "amount_minor": "number", "source": "string", "currency": "string", "type": "string", "name": "string",
}  # fmt: skip
#: Columns of the build's per-profile table that a computed trait may not be named like.
RESERVED: Final = frozenset({"profile_id", "traits", "v"})
RESERVED_PREFIX: Final = re.compile(r"(f\d+$|rfm_|loyalty_)")
_PATH: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])?)*\Z")

AGE_BANDS: Final[tuple[tuple[int, int | None, str], ...]] = (
    (0, 17, "under 18"), (18, 24, "18-24"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 54, "45-54"),
    (55, 64, "55-64"), (65, None, "65+"),
)  # fmt: skip

#: Words that make a review positive or negative, lower case, Vietnamese with and without diacritics and English.
POSITIVE_WORDS: Final = (
    "tuyệt vời", "tuyet voi", "hài lòng", "hai long", "rất tốt", "rat tot", "thích", "thich", "đẹp", "chất lượng tốt",
    "nhanh", "ưng ý", "great", "excellent", "love", "good", "happy", "perfect", "fast", "recommend",
)  # fmt: skip
NEGATIVE_WORDS: Final = (
    "tệ", "thất vọng", "that vong", "chậm", "cham", "kém", "kem chat luong", "lỗi", "hỏng", "không hài lòng",
    "khong hai long", "bad", "poor", "slow", "broken", "terrible", "disappointed", "refund", "worst",
)  # fmt: skip


@dataclass(frozen=True)
class ComputedTrait:
    name: str
    kind: Kind
    group: str  # behaviour | engagement | attitudinal | basic | custom
    description: str = ""
    aggregate: Aggregate | None = None
    event: str | None = None
    property: str | None = None
    column: str | None = None
    within_days: int | None = None
    where: tuple[Mapping[str, Any], ...] = ()
    numerator: str | None = None
    denominator: str | None = None
    trait: str | None = None
    #: the type of a last_value trait (default: text)
    type: ValueType | None = None

    @builtins.property  # the field `property` hides the builtin in the class body
    def value_type(self) -> ValueType:
        if self.kind in ("ratio",):
            return "number"
        if self.kind == "days_since":
            return "number"
        if self.kind in ("age_band", "copy", "province", "sentiment"):
            return "string"
        if self.aggregate in ("first_at", "last_at"):
            return "timestamp"
        if self.aggregate in ("most_frequent", "last_value"):
            return self.type or ("number" if self.column == "amount_minor" else "string")
        return "number"


def _agg(name: str, group: str, description: str, aggregate: Aggregate, **kw: Any) -> ComputedTrait:
    return ComputedTrait(name, "aggregate", group, description, aggregate=aggregate, **kw)


ORDER = "Order Completed"

DEFAULT_TRAITS: Final[tuple[ComputedTrait, ...]] = (
    # behaviour
    _agg("total_spend_365d", "behaviour", "Spend on completed orders in the last 365 days (minor units)", "sum",
         event=ORDER, column="amount_minor", within_days=365),
    _agg("orders_365d", "behaviour", "Completed orders in the last 365 days", "count", event=ORDER, within_days=365),
    _agg("orders_90d", "behaviour", "Completed orders in the last 90 days", "count", event=ORDER, within_days=90),
    ComputedTrait("aov_365d", "ratio", "behaviour", "Average order value over the last 365 days",
                  numerator="total_spend_365d", denominator="orders_365d"),
    _agg("first_order_at", "behaviour", "When the first order was completed", "first_at", event=ORDER),
    _agg("last_order_at", "behaviour", "When the last order was completed", "last_at", event=ORDER),
    ComputedTrait("days_since_last_order", "days_since", "behaviour", "Whole days since the last order",
                  trait="last_order_at"),
    _agg("favourite_category", "behaviour", "The category bought most often in 365 days (first line of each order)",
         "most_frequent", event=ORDER, property="products[0].category", within_days=365),
    _agg("preferred_channel", "behaviour", "The source most orders came through in 365 days (web, app, pos)",
         "most_frequent", event=ORDER, column="source", within_days=365),
    _agg("preferred_payment_method", "behaviour", "The payment method used most often in 365 days",
         "most_frequent", event=ORDER, property="payment_method", within_days=365),
    _agg("product_views_30d", "behaviour", "Products viewed in the last 30 days", "count",
         event="Product Viewed", within_days=30),
    # engagement
    _agg("emails_delivered_30d", "engagement", "Emails delivered in the last 30 days", "count",
         event="Email Delivered", within_days=30),
    _agg("emails_opened_30d", "engagement", "Emails opened in the last 30 days", "count",
         event="Email Opened", within_days=30),
    _agg("emails_clicked_30d", "engagement", "Email links clicked in the last 30 days", "count",
         event="Email Link Clicked", within_days=30),
    ComputedTrait("email_open_rate_30d", "ratio", "engagement", "Opens per delivered email, last 30 days",
                  numerator="emails_opened_30d", denominator="emails_delivered_30d"),
    ComputedTrait("email_click_rate_30d", "ratio", "engagement", "Clicks per delivered email, last 30 days",
                  numerator="emails_clicked_30d", denominator="emails_delivered_30d"),
    _agg("support_tickets_90d", "engagement", "Support tickets opened in the last 90 days", "count",
         event="Ticket Created", within_days=90),
    # attitudinal
    _agg("last_nps", "attitudinal", "The last NPS answer (0-10)", "last_value", event="Survey Answered",
         property="nps", type="number"),
    _agg("average_rating", "attitudinal", "Average rating (1-5) given in 365 days", "avg", event="Survey Answered",
         property="rating", within_days=365),
    ComputedTrait("review_sentiment", "sentiment", "attitudinal",
                  "Positive, neutral or negative, from the words of the reviews of 365 days",
                  event="Survey Answered", property="review", within_days=365),
    # basic
    ComputedTrait("age_band", "age_band", "basic", "Age band from the birthday", trait="birthday"),
    ComputedTrait("home_province", "province", "basic",
                  "The province as one of the 34 units of 2025, however the province trait was written (HN, Sài Gòn, "
                  "an old province ...)", trait="province"),
)  # fmt: skip


def parse_traits(data: Any, *, base: Sequence[ComputedTrait] = DEFAULT_TRAITS) -> tuple[ComputedTrait, ...]:
    """``base`` plus the traits declared in ``data`` (``traits.yaml``: ``{computed_traits: [...]}``); errors point at
    the entry (``computed_traits[2].aggregate``). A declared trait with a default's name replaces it."""
    if data is None:
        return tuple(base)
    if not isinstance(data, Mapping) or set(data) - {"computed_traits", "rfm"}:
        raise DefinitionError("a traits file holds `computed_traits` (a list of traits) and `rfm`", "traits")
    items = data.get("computed_traits") or []
    if not isinstance(items, list):
        raise DefinitionError("must be a list", "computed_traits")
    declared = [_trait(item, f"computed_traits[{i}]") for i, item in enumerate(items)]
    names = {t.name for t in declared}
    kept = [t for t in base if t.name not in names]
    # Errors name the file's entries; the defaults before them are not in the file.
    check_references([*kept, *declared], first_index=-len(kept))
    return (*kept, *declared)


_KEYS: Final = frozenset(
    {"name", "kind", "group", "description", "aggregate", "event", "property", "column", "within_days", "where",
     "numerator", "denominator", "trait", "type"}
)  # fmt: skip


def _trait(item: Any, path: str) -> ComputedTrait:
    if not isinstance(item, Mapping):
        raise DefinitionError("a computed trait is a mapping with name and kind", path)
    extra = sorted(set(item) - _KEYS)
    if extra:
        raise DefinitionError("unknown key", f"{path}.{extra[0]}")
    name = item.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise DefinitionError("must be lower-case letters, digits or underscores, starting with a letter",
                              f"{path}.name")  # fmt: skip
    if name in RESERVED or RESERVED_PREFIX.match(name):
        raise DefinitionError(f"{name!r} is a name the build uses for its own columns", f"{path}.name")
    kind = item.get("kind", "aggregate")
    if kind not in ("aggregate", "ratio", "days_since", "age_band", "copy", "province", "sentiment"):
        raise DefinitionError("must be aggregate, ratio, days_since, age_band, copy, province or sentiment",
                              f"{path}.kind")  # fmt: skip
    within = item.get("within_days")
    if within is not None and (isinstance(within, bool) or not isinstance(within, int) or within < 1):
        raise DefinitionError("must be a whole number of days, 1 or more", f"{path}.within_days")
    where = item.get("where") or []
    if not isinstance(where, list):
        raise DefinitionError("must be a list of {property, op, value}", f"{path}.where")
    fields: dict[str, Any] = {"within_days": within, "where": tuple(where)}
    for key in ("event", "property", "column", "numerator", "denominator", "trait", "description"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise DefinitionError("must be text", f"{path}.{key}")
        fields[key] = value
    fields["description"] = fields["description"] or ""
    if kind == "aggregate":
        aggregate = item.get("aggregate")
        if aggregate not in AGGREGATES:
            raise DefinitionError(f"must be one of {', '.join(AGGREGATES)}", f"{path}.aggregate")
        if fields["column"] is not None and fields["column"] not in COLUMNS:
            raise DefinitionError(f"must be one of {', '.join(COLUMNS)}", f"{path}.column")
        if fields["property"] is not None and not _PATH.match(fields["property"]):
            raise DefinitionError("must be a property name (a.b or a[0].b)", f"{path}.property")
        kind_of = item.get("type")
        if kind_of is not None and (aggregate != "last_value" or kind_of not in ("string", "number")):
            raise DefinitionError("type (string or number) is for last_value traits", f"{path}.type")
        fields["type"] = kind_of
        needs_value = aggregate not in ("count", "first_at", "last_at")
        if needs_value and (fields["property"] is None) == (fields["column"] is None):
            raise DefinitionError(f"{aggregate} needs exactly one of property or column", path)
        return ComputedTrait(name, "aggregate", item.get("group", "custom"), aggregate=aggregate,
                             **fields)  # fmt: skip
    required = {"ratio": ("numerator", "denominator"), "days_since": ("trait",), "age_band": ("trait",),
                "copy": ("trait",), "province": ("trait",), "sentiment": ("event", "property")}[kind]  # fmt: skip
    for key in required:
        if fields[key] is None:
            raise DefinitionError(f"a {kind} trait needs {key}", f"{path}.{key}")
    return ComputedTrait(name, kind, item.get("group", "custom"), **fields)


def check_references(traits: Sequence[ComputedTrait], *, first_index: int = 0) -> None:
    """Ratios and day counts name computed traits declared before them; refuse anything else. ``first_index``: the
    index the first trait has in the error paths."""
    seen: dict[str, ComputedTrait] = {}
    for i, trait in enumerate(traits, start=first_index):
        if trait.name in seen:
            raise DefinitionError(f"{trait.name!r} is declared twice", f"computed_traits[{i}].name")
        refs = {"ratio": (trait.numerator, trait.denominator), "days_since": (trait.trait,)}.get(trait.kind, ())
        for ref in refs:
            target = seen.get(ref or "")
            if target is None:
                raise DefinitionError(f"{ref!r} is not a computed trait declared before {trait.name!r}",
                                      f"computed_traits[{i}]")  # fmt: skip
            wanted = "timestamp" if trait.kind == "days_since" else "number"
            if target.value_type != wanted:
                raise DefinitionError(f"{ref!r} is {target.value_type}, not {wanted}", f"computed_traits[{i}]")
        seen[trait.name] = trait


def age_band(age: int) -> str:
    """The band of ``age`` whole years (the same table the SQL uses)."""
    for low, high, label in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    raise ValueError(f"negative age {age}")
