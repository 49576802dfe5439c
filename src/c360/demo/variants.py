"""How each source writes a person's name, phone, email and province: the mess identity resolution must undo.

The rates are per source and documented in docs/demo-data.md; tests/demo checks them on generated data.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Final

from c360.demo.draws import weighted
from c360.demo.people import Person
from c360.demo.shop_calendar import local_midnight_ms
from c360.domain.names_vi import strip_diacritics
from c360.domain.phones_vi import format_mobile, to_legacy
from c360.domain.places import OLD_BY_SLUG, UNIT_BY_CODE

#: Provinces merged on this day; addresses written later name the new unit about half of the time.
MERGER_MS: Final = local_midnight_ms(dt.date(2025, 7, 1))
#: Mobile numbers moved from 11 to 10 digits on this day; CRM contacts created earlier keep the old form.
PHONE_SWITCH_MS: Final = local_midnight_ms(dt.date(2018, 9, 15))
_CITY_SLUGS: Final = frozenset({"ha-noi", "ho-chi-minh", "hai-phong", "da-nang", "can-tho", "hue"})


@dataclass(frozen=True, slots=True)
class NameRates:
    """Chances that a written name differs from the true one, each applied independently."""

    no_diacritics: float
    given_first: float  # `An Nguyen`: Western order, usually without the middle name
    typo: float  # one letter dropped or two swapped
    upper: float
    lower: float


NAME_RATES: Final[dict[str, NameRates]] = {
    # Cashiers type fast on keyboards without a Vietnamese input method.
    "pos": NameRates(no_diacritics=0.45, given_first=0.05, typo=0.04, upper=0.15, lower=0.05),
    "crm": NameRates(no_diacritics=0.15, given_first=0.05, typo=0.02, upper=0.05, lower=0.02),
    # A second contact for the same person: typed again, by someone else, often sloppily.
    "crm_duplicate": NameRates(no_diacritics=0.55, given_first=0.20, typo=0.15, upper=0.10, lower=0.05),
    "identify": NameRates(no_diacritics=0.20, given_first=0.10, typo=0.02, upper=0.03, lower=0.05),
}

#: Phone styles per source (see `c360.domain.phones_vi.format_mobile`) and the chance of the pre-2018 form.
PHONE_STYLES: Final = {
    "pos": weighted(
        [
            ("plain", 55.0),
            ("spaced", 18.0),
            ("dotted", 8.0),
            ("e164", 5.0),
            ("intl_dashed", 5.0),
            ("intl_spaced", 5.0),
            ("paren", 4.0),
        ]
    ),
    "crm": weighted(
        [
            ("plain", 40.0),
            ("spaced", 22.0),
            ("dotted", 6.0),
            ("e164", 17.0),
            ("intl_dashed", 7.0),
            ("intl_spaced", 5.0),
            ("paren", 3.0),
        ]
    ),
    "identify": weighted([("e164", 40.0), ("plain", 40.0), ("spaced", 20.0)]),
    "support": weighted([("plain", 70.0), ("spaced", 15.0), ("e164", 15.0)]),
    "survey": weighted([("plain", 75.0), ("e164", 15.0), ("spaced", 10.0)]),
}
LEGACY_PHONE_RATE: Final = {"pos": 0.04, "crm": 0.03, "identify": 0.01, "support": 0.02, "survey": 0.02}
#: A CRM contact created before the 2018 switch keeps the 11-digit number this often (when it had one).
LEGACY_PHONE_RATE_OLD_CONTACT: Final = 0.7

TEST_EMAILS: Final = ("test@test.com", "test@test.com", "a@a.com")


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def write_name_parts(p: Person, rng: random.Random, rates: NameRates) -> tuple[str, str, str]:
    """(full name, first name, last name) as a source writes them; first = given name, last = family + middle."""
    family, middle, given = p.family, p.middle, p.given
    random_ = rng.random
    if random_() < rates.typo:
        which = random_()
        if which < 0.6:
            given = _typo(given, rng)
        elif which < 0.85:
            family = _typo(family, rng)
        else:
            middle = _typo(middle, rng)
    if random_() < rates.given_first:
        parts = [given, family] if random_() < 0.7 else [middle, given, family]
    else:
        parts = [family, middle, given]
    full = " ".join(part for part in parts if part)
    last = f"{family} {middle}".strip()
    first = given
    if random_() < rates.no_diacritics:
        full, first, last = strip_diacritics(full), strip_diacritics(first), strip_diacritics(last)
    case = random_()
    if case < rates.upper:
        full, first, last = full.upper(), first.upper(), last.upper()
    elif case < rates.upper + rates.lower:
        full, first, last = full.lower(), first.lower(), last.lower()
    return full, first, last


def write_name(p: Person, rng: random.Random, source: str) -> str:
    return write_name_parts(p, rng, NAME_RATES[source])[0]


def write_phone(national: str, rng: random.Random, source: str, legacy_rate: float | None = None) -> str:
    """A national-form number as `source` writes it, sometimes in its pre-2018 11-digit form."""
    rate = LEGACY_PHONE_RATE[source] if legacy_rate is None else legacy_rate
    if rate and rng.random() < rate:
        legacy = to_legacy(national)
        if legacy is not None:
            national = legacy
    return format_mobile(national, PHONE_STYLES[source].pick(rng))


def write_email(email: str, rng: random.Random, case_rate: float, dot_rate: float) -> str:
    """Case and (for Gmail, where dots do not matter) dot variants: `annguyen@gmail.com` -> `An.Nguyen@Gmail.com`."""
    local, domain = email.split("@", 1)
    if domain == "gmail.com" and rng.random() < dot_rate:
        if "." in local:
            local = local.replace(".", "")
        elif len(local) > 3:
            cut = rng.randrange(2, len(local) - 1)
            local = f"{local[:cut]}.{local[cut:]}"
    if rng.random() < case_rate:
        if rng.random() < 0.8:
            local = ".".join(piece[:1].upper() + piece[1:] for piece in local.split("."))
            domain = domain[:1].upper() + domain[1:]
        else:
            local, domain = local.upper(), domain.upper()
    return f"{local}@{domain}"


def write_province(old_slug: str, at_ms: int, rng: random.Random) -> str:
    """The province as typed at `at_ms`: old or (after the 2025 merger) new name, abbreviation, prefix, no marks."""
    old = OLD_BY_SLUG[old_slug]
    unit = UNIT_BY_CODE[old.unit_code]
    random_ = rng.random
    if at_ms >= MERGER_MS and random_() < 0.55:
        name, aliases, is_city = unit.name, unit.aliases, unit.kind == "city"
    else:
        # Before the merger a province is its own name; a merged unit's abbreviations (TP.HCM) also fit cities.
        name, aliases, is_city = old.name, old.aliases, old.slug in _CITY_SLUGS
        if old.slug == unit.code or old.slug == "thua-thien-hue":
            aliases = aliases + unit.aliases
    if aliases and random_() < 0.3:
        text = rng.choice(aliases)
    else:
        text = name
        if random_() < 0.15 and not text.startswith("TP"):
            text = rng.choice(("TP. ", "Thành phố ")) + text if is_city else "Tỉnh " + text
    if random_() < 0.2:
        text = strip_diacritics(text)
    return text


def official_province(old_slug: str, at_ms: int) -> str:
    """The official name of where the person lives at `at_ms`: the old province, or its 2025 unit after the merger."""
    old = OLD_BY_SLUG[old_slug]
    return UNIT_BY_CODE[old.unit_code].name if at_ms >= MERGER_MS else old.name


def write_gender(gender: str, rng: random.Random) -> str:
    """CRM exports mix Vietnamese words, letters and blanks."""
    roll = rng.random()
    if roll < 0.6:
        return "Nữ" if gender == "female" else "Nam"
    if roll < 0.85:
        return "F" if gender == "female" else "M"
    return ""
