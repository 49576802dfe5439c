"""The columns of an ``identity_profiles`` row that follow from its traits, the same on both paths."""

from __future__ import annotations

from typing import Any

from c360.identity.normalize import Normalizer
from c360.identity.traits import Traits, display_name


def profile_fields(traits: Traits, normalizer: Normalizer) -> dict[str, Any]:
    """Name, email and phone as shown (a blocked email or phone is not the person's), the traits' JSON and the
    text search matches."""
    from c360.services.profiles import search_text

    name = display_name(traits.values)
    email, phone = (
        normalizer.value(kind, value) if isinstance(value := traits.values.get(kind), str) else None
        for kind in ("email", "phone")
    )
    return {
        "name": name,
        "email": email,
        "phone": phone,
        "traits": traits.values_json(),
        "trait_sources": traits.sources_json(),
        "search_text": search_text(name, [email] if email else [], [phone] if phone else []),
    }
