"""The columns of an ``identity_profiles`` row that follow from its traits, the same on both paths."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from c360.domain.identifiers import NameKeys, name_keys
from c360.identity.normalize import Normalizer
from c360.identity.traits import Traits, display_name


@dataclass(slots=True)
class Known:
    """What the batch engine already worked out for the values of one profile's messages, so that its shown email,
    phone and name keys are looked up rather than computed again: parsing a phone number costs ~15 µs and folding a
    name ~10 µs, once per profile, a million profiles in a large resolve. A value missing here is computed."""

    #: ``(kind, raw)`` -> the normaliser's answer (only non-NULL answers: NULL may also mean "not looked up").
    values: dict[tuple[str, str], str] = field(default_factory=dict)
    #: a name with single spaces -> its keys.
    names: dict[str, NameKeys] = field(default_factory=dict)

    def value(self, normalizer: Normalizer, kind: str, raw: str) -> str | None:
        known = self.values.get((kind, raw))
        return known if known is not None else normalizer.value(kind, raw)

    def name_keys(self, name: str | None) -> NameKeys | None:
        if name is None:
            return None
        known = self.names.get(" ".join(name.split()))
        return known if known is not None else name_keys(name)


def profile_fields(traits: Traits, normalizer: Normalizer, known: Known | None = None) -> dict[str, Any]:
    """Name, email and phone as shown (a blocked email or phone is not the person's), the traits' JSON and the
    text search matches."""
    from c360.services.profiles import search_text

    known = known or Known()
    name = display_name(traits.values)
    email, phone = (
        known.value(normalizer, kind, value) if isinstance(value := traits.values.get(kind), str) else None
        for kind in ("email", "phone")
    )
    return {
        "name": name,
        "email": email,
        "phone": phone,
        "traits": traits.values_json(),
        "trait_sources": traits.sources_json(),
        "search_text": search_text(known.name_keys(name), [email] if email else [], [phone] if phone else []),
    }
