"""Finding the profile a loyalty request means: a profile id, or any identifier looked up through the identity
map after normalisation (``email:lan@example.vn``, ``phone:0912 345 678``, ``user_id:u-1``, ``loyalty_card:SV1``)."""

from __future__ import annotations

from c360.errors import InvalidInput, NotFound
from c360.services.profiles import LOOKUP_FIELDS, get_profile, lookup
from c360.settings import Settings
from c360.store import Store


def profile_for(store: Store, settings: Settings, identifier: str, *, field: str = "member") -> str:
    """The profile id ``identifier`` names; NotFound when none does, InvalidInput when several do."""
    text = identifier.strip()
    kind, sep, value = text.partition(":")
    if not sep:
        if not text:
            raise InvalidInput("is empty: give a profile id or type:value (email:..., phone:...)", field=field)
        return str(get_profile(store, text)["profile_id"])
    if kind not in LOOKUP_FIELDS:
        raise InvalidInput(
            f"unknown identifier type {kind!r} (use one of {', '.join(LOOKUP_FIELDS)}, or a profile id)", field=field
        )
    found = lookup(store, settings, **{kind: value})
    profiles = found["profiles"]
    if not profiles:
        raise NotFound(f"no profile has {kind} {found['value']}")
    if len(profiles) > 1 or found["held"]:
        ids = ", ".join(p["profile_id"] for p in profiles)
        raise InvalidInput(
            f"{kind} {found['value']} belongs to more than one profile ({ids}): use a profile id", field=field
        )
    return str(profiles[0]["profile_id"])
