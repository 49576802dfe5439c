"""What one message says about identity, in Python: the mirror of ``graph_sql.raw_ids_sql`` and
``raw_names_sql`` for the incremental path (a test holds the two to the same answers).

No I/O: the event processor hands in the decoded message; the result is normalised occurrences, the name key
and the national id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

from c360.domain.identifiers import BLOCKED_WORDS, IdentifierType, name_keys
from c360.identity.graph_sql import EXTERNAL_IDS_READ
from c360.identity.normalize import NORMALISED_KINDS, Normalizer

#: The SQL's `regexp_matches(trim(raw), '^[-0 .+()]*$')`: only zeros, dashes, dots, spaces, plus and brackets.
_FILLER: Final = re.compile(r"^[-0 .+()]*$")


def json_text(value: Any) -> str | None:
    """What ``c360_json_text`` gives for a JSON value: text as is, numbers and booleans as JSON, NULL for null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _path(document: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(document, list) or key >= len(document):
                return None
        elif not isinstance(document, dict):
            return None
        document = document[key] if isinstance(key, int) else document.get(key)
    return document


_RANKS: Final = {t.value: t.priority for t in IdentifierType}


@dataclass(frozen=True, slots=True)
class Occurrence:
    id_type: str
    id_value: str

    @property
    def rank(self) -> int:
        return _RANKS[self.id_type]


@dataclass(frozen=True, slots=True)
class MessageIdentity:
    occurrences: tuple[Occurrence, ...]  # distinct, strongest first
    name_key: str | None
    national_id: str | None


#: Identifiers a message carries in its traits (or context.traits): the identifier type and the trait's key.
TRAIT_IDENTIFIERS: Final = {"email": "email", "phone": "phone", "loyalty_card": "loyaltyCard"}


def raw_identifiers(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, raw value) pairs, as ``raw_ids_sql`` reads them."""
    out: list[tuple[str, str]] = []
    traits = message.get("traits")
    context = message.get("context")

    def add(kind: str, value: Any) -> None:
        text = json_text(value)
        if text is not None:
            out.append((kind, text))

    add("user_id", message.get("userId"))
    anonymous_kind = "anonymous_id" if _path(context, "import", "recordId") is None else "external_id"
    add(anonymous_kind, message.get("anonymousId"))
    if message.get("type") == "alias":
        add("anonymous_id", message.get("previousId"))
    add("device_id", _path(context, "device", "id"))
    for kind, key in TRAIT_IDENTIFIERS.items():
        add(kind, _path(traits, key))
        add(kind, _path(context, "traits", key))
    for i in range(EXTERNAL_IDS_READ):
        id_type = json_text(_path(context, "externalIds", i, "type"))
        id_value = json_text(_path(context, "externalIds", i, "id"))
        if id_type is None or id_value is None:
            continue
        prefix = id_type[:-3] if id_type.endswith("_id") else id_type
        out.append(("external_id", f"{prefix}:{id_value}"))
    return out


def raw_name(message: dict[str, Any]) -> str | None:
    traits = message.get("traits")
    name = json_text(_path(traits, "name"))
    if name is not None:
        return name
    parts = [json_text(_path(traits, "lastName")), json_text(_path(traits, "firstName"))]
    full = " ".join(p for p in parts if p is not None).strip()
    if full:
        return full
    return json_text(_path(message.get("context"), "traits", "name"))


class Extractor:
    """Turns a message into its normalised identity, with the workspace's normaliser and blocked values."""

    def __init__(self, normalizer: Normalizer) -> None:
        self.normalizer = normalizer
        self.blocked = BLOCKED_WORDS | {value.strip().lower() for value in normalizer.blocked}
        self.blocked_phones = normalizer.blocked_phones()

    def value(self, kind: str, raw: str) -> str | None:
        if kind in NORMALISED_KINDS:
            value = self.normalizer.value(kind, raw)
            return None if kind == "phone" and value in self.blocked_phones else value
        trimmed = raw.strip()
        if trimmed.lower() in self.blocked or _FILLER.match(trimmed):
            return None
        return trimmed

    def __call__(self, message: dict[str, Any]) -> MessageIdentity:
        seen: set[Occurrence] = set()
        for kind, raw in raw_identifiers(message):
            value = self.value(kind, raw)
            if value is not None:
                seen.add(Occurrence(kind, value))
        occurrences = tuple(sorted(seen, key=lambda o: (o.rank, o.id_value)))
        keys = name_keys(raw_name(message))
        name_key = keys.folded if keys is not None else None
        national_id = json_text(_path(message.get("traits"), "nationalId"))
        return MessageIdentity(occurrences, name_key, national_id)
