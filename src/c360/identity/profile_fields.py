"""The columns of an ``identity_profiles`` row that follow from its traits, the same on both paths."""

from __future__ import annotations

from typing import Any

from c360.identity.traits import Traits, best_email, best_phone, display_name


def profile_fields(traits: Traits, *, gmail_rules: bool) -> dict[str, Any]:
    from c360.services.profiles import search_text

    name = display_name(traits.values)
    email = best_email(traits.values, gmail_rules=gmail_rules)
    phone = best_phone(traits.values)
    return {
        "name": name,
        "email": email,
        "phone": phone,
        "traits": traits.values_json(),
        "trait_sources": traits.sources_json(),
        "search_text": search_text(name, [email] if email else [], [phone] if phone else []),
    }
