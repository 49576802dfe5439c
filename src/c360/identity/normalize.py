"""The batch side of normalisation: the domain's functions applied once per distinct raw value, as Arrow tables.

The identity graph runs on the engine, but phones, emails and names need `phonenumbers` and the Vietnamese name
rules (c360.domain), which no engine has. The graph therefore asks for the distinct raw values, this module
normalises each once (a table of a few hundred thousand values, not millions of events), and the engine joins
the answer back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from c360.domain.identifiers import is_blocked, name_keys, normalize_email, normalize_phone

if TYPE_CHECKING:
    from c360.settings import Settings

#: Identifier kinds normalised here; every other kind is compared as written, trimmed (ids are exact).
NORMALISED_KINDS = ("email", "phone")

NORM_SCHEMA = pa.schema([("kind", pa.string()), ("raw", pa.string()), ("value", pa.string())])
NAME_SCHEMA = pa.schema(
    [("raw", pa.string()), ("name_key", pa.string()), ("name_rev", pa.string()), ("given", pa.string())]
)


@dataclass(frozen=True, slots=True)
class Normalizer:
    """The workspace's normalisation choices: Gmail rules, the phone region and the extra blocked values."""

    gmail_rules: bool = True
    region: str = "VN"
    blocked: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> Normalizer:
        return cls(gmail_rules=settings.identity_gmail_rules, blocked=frozenset(settings.identity_blocked_values))

    def value(self, kind: str, raw: str) -> str | None:
        """The normalised value of one raw identifier, or None when it is blocked or not valid."""
        if is_blocked(raw, self.blocked):
            return None
        if kind == "email":
            email = normalize_email(raw, gmail_rules=self.gmail_rules)
            return None if email is None or email in self.blocked else email
        if kind == "phone":
            phone = normalize_phone(raw, region=self.region)
            return None if phone is None or phone in self.blocked else phone
        return raw.strip()

    def blocked_phones(self) -> frozenset[str]:
        """The blocked list's phone numbers in E.164, so `0283 123 4567` in the settings blocks `+842831234567`."""
        phones = (normalize_phone(value, region=self.region) for value in self.blocked)
        return frozenset(phone for phone in phones if phone is not None)

    def table(self, rows: Iterable[tuple[str, str]]) -> pa.Table:
        """``NORM_SCHEMA`` rows for distinct ``(kind, raw)`` pairs; values that do not normalise are NULL."""
        kinds: list[str] = []
        raws: list[str] = []
        values: list[str | None] = []
        blocked_phones = self.blocked_phones()
        for kind, raw in rows:
            value = self.value(kind, raw)
            if kind == "phone" and value in blocked_phones:
                value = None
            kinds.append(kind)
            raws.append(raw)
            values.append(value)
        return pa.table([kinds, raws, values], schema=NORM_SCHEMA)


def name_table(raws: Iterable[str]) -> pa.Table:
    """``NAME_SCHEMA`` rows for distinct raw names: the folded key in Vietnamese order, the given-name-first
    reading and the given name. Placeholders (`Khách lẻ`) and empty names are left out."""
    out: dict[str, list[str]] = {"raw": [], "name_key": [], "name_rev": [], "given": []}
    for raw in raws:
        keys = name_keys(raw)
        if keys is None:
            continue
        out["raw"].append(raw)
        out["name_key"].append(keys.folded)
        out["name_rev"].append(keys.reversed_folded)
        out["given"].append(keys.folded.rsplit(" ", 1)[-1])
    return pa.table(out, schema=NAME_SCHEMA)
