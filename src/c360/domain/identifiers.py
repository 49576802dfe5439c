"""Identifiers normalised for matching: email, phone (E.164), names; blocked values; types and priorities.

Pure functions: the identity graph (batch and incremental) and the importer compare only these forms, so two
records written `0912 345 678` and `+84-912-345-678` are one phone, and `An.Nguyen@Gmail.com ` one email.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import jellyfish
import phonenumbers

from c360.domain.names_vi import fold_name
from c360.domain.phones_vi import modernize_mobile


class IdentifierType(StrEnum):
    """Identifier types, highest priority first (design.md, "Identity resolution settings")."""

    USER_ID = "user_id"
    EMAIL = "email"
    PHONE = "phone"
    LOYALTY_CARD = "loyalty_card"
    EXTERNAL_ID = "external_id"  # CRM / POS ids, as `<source>:<id>`
    DEVICE_ID = "device_id"
    ANONYMOUS_ID = "anonymous_id"

    @property
    def priority(self) -> int:
        """0 is the strongest."""
        return list(IdentifierType).index(self)


#: The most identifiers of a type one profile may hold before the lowest-priority incoming one is left out.
DEFAULT_LIMITS: Final[dict[IdentifierType, int]] = {
    t: (1 if t is IdentifierType.USER_ID else 5) for t in IdentifierType
}

BLOCKED_WORDS: Final = frozenset(
    {"", "null", "none", "nil", "undefined", "anonymous", "unknown", "n/a", "na", "0", "-1"}
)
_ONLY_ZEROS_OR_DASHES: Final = re.compile(r"^[0\-\s.+()]*$")


def is_blocked(value: str | None, extra: frozenset[str] = frozenset()) -> bool:
    """True for values that must never join two records: empty, `null`, `undefined`, `anonymous`, `0`, `-1`,
    all-zero or all-dash strings, and the workspace's own list (``extra``, compared case-insensitively)."""
    if value is None:
        return True
    text = value.strip().lower()
    return text in BLOCKED_WORDS or bool(_ONLY_ZEROS_OR_DASHES.match(text)) or text in extra


_GMAIL_DOMAINS: Final = frozenset({"gmail.com", "googlemail.com"})
_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(value: str | None, *, gmail_rules: bool = False) -> str | None:
    """Trimmed, NFC, lower-case email, or None when it is not an email.

    ``gmail_rules``: Gmail ignores dots and everything after `+` in the local part, and googlemail.com is
    gmail.com — an option, since for other providers those are different mailboxes.
    """
    if value is None:
        return None
    email = unicodedata.normalize("NFC", value).strip().lower()
    if not _EMAIL.match(email):
        return None
    local, _, domain = email.rpartition("@")
    if gmail_rules and domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
        if not local:
            return None
    return f"{local}@{domain}"


#: Distinct phones normalised and remembered: phonenumbers costs ~0.1 ms a parse, and a resolve meets each phone on
#: many records (the graph, the profile's fields, its search text).
PHONE_CACHE_SIZE: Final = 1 << 18


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def normalize_phone(value: str | None, *, region: str = "VN") -> str | None:
    """E.164 (`+84912345678`) of a phone written any common way, or None when it is not a valid number.

    Vietnam's pre-2018 11-digit mobile numbers (`0162...`), which phonenumbers rejects, are first rewritten to
    today's prefixes.
    """
    if value is None or not value.strip():
        return None
    text = modernize_mobile(value.strip()) if region == "VN" else value.strip()
    if region == "VN" and (fast := _vietnamese_e164(text)) is not None:
        return fast
    # As written in the default region first; then its digits as an international number, for `84912...`
    # written without the plus, which phonenumbers would otherwise read as a national number.
    for candidate, default_region in ((text, region), ("+" + re.sub(r"\D", "", text), None)):
        try:
            parsed = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


#: A Vietnamese number as people write it most: national (`0912 345 678`, `028 3812 3456`) or international
#: (`+84-912-345-678`), digits with spaces, dots or dashes between them and nothing else.
_VN_WRITTEN = re.compile(r"(?:\+84|0)(?:[ .\-]?\d){9,10}")


def _vietnamese_e164(text: str) -> str | None:
    """The E.164 form of ``text`` when it is written in one of the common Vietnamese ways and is valid; None when
    it is not written so (or not valid), for ``normalize_phone``'s full parse to decide.

    The same answer as phonenumbers' parse, at a third of its cost: those writings leave the parse nothing to
    decide but the national number (what follows `+84` or the national prefix `0`), so only the validity check
    is asked of phonenumbers. tests/domain checks that both agree.
    """
    if not _VN_WRITTEN.fullmatch(text):
        return None
    national = re.sub(r"\D", "", text)[2:] if text.startswith("+") else re.sub(r"\D", "", text)[1:]
    if national.startswith("0"):
        return None
    return "+84" + national if _valid_vietnamese(national) else None


def _valid_vietnamese(national: str) -> bool:
    """phonenumbers' ``is_valid_number`` for a Vietnamese national number: it matches the region's general pattern
    and the pattern of some number type. The same metadata and the same checks, without the ~10 Python calls a
    type lookup costs there (the slowest part of normalising a phone)."""
    general, types = _vietnamese_patterns()
    if not _matches(national, general):
        return False
    return any(_matches(national, desc) for desc in types)


_Desc = tuple[frozenset[int], "re.Pattern[str]"]


def _matches(national: str, desc: _Desc) -> bool:
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


@functools.cache
def _vietnamese_patterns() -> tuple[_Desc, tuple[_Desc, ...]]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("VN")
    assert metadata is not None

    def desc(found: phonenumbers.PhoneNumberDesc) -> _Desc:
        # As phonenumbers reads them: no lengths listed checks none; (-1,) is a type with no numbers at all.
        return frozenset(found.possible_length or ()), re.compile(found.national_number_pattern or "(?!)")

    kinds = (
        metadata.mobile, metadata.fixed_line, metadata.toll_free, metadata.premium_rate, metadata.shared_cost,
        metadata.voip, metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail,
    )  # fmt: skip
    assert metadata.general_desc is not None
    return desc(metadata.general_desc), tuple(desc(k) for k in kinds if k is not None and k.national_number_pattern)


#: Names a shop types for a customer it does not know ("walk-in customer"): never evidence of who someone is.
PLACEHOLDER_NAMES: Final = frozenset(
    {"khach le", "khach hang", "khach", "khach vang lai", "walk in", "walk-in", "walkin", "customer", "guest", "kh"}
)


@dataclass(frozen=True, slots=True)
class NameKeys:
    """A name in NFC as written, and its diacritics-free comparison keys in both orders."""

    original: str
    folded: str  # `nguyen van an`
    reversed_folded: str  # the given-name-first reading: `an van nguyen` for `Nguyễn Văn An`


def name_keys(full_name: str | None) -> NameKeys | None:
    """Keys that make `Nguyễn Văn An`, `NGUYEN VAN AN` and `An Nguyen Van` comparable (None for no name)."""
    if full_name is None:
        return None
    original = " ".join(unicodedata.normalize("NFC", full_name).split())
    folded = fold_name(original)
    if not folded or folded in PLACEHOLDER_NAMES:
        return None
    words = folded.split()
    # Given-name-first writing moves the given name (Vietnamese order's last word) to the front.
    reversed_folded = " ".join([words[-1], *words[:-1]]) if len(words) > 1 else folded
    return NameKeys(original, folded, reversed_folded)


def _same_word(a: str, b: str) -> bool:
    """Equal, or one typo apart: two letters swapped (`nhu` / `nuh`, `dao` / `doa`), or — when the longer word has
    4 letters or more — one letter dropped, added or changed. Short given names that differ by a letter (`an`,
    `anh`) are different names."""
    if a == b:
        return True
    if len(a) == len(b) and sorted(a) == sorted(b) and jellyfish.damerau_levenshtein_distance(a, b) == 1:
        return True
    return max(len(a), len(b)) >= 4 and jellyfish.damerau_levenshtein_distance(a, b) <= 1


def names_compatible(a: str, b: str) -> bool:
    """Whether two folded names (``NameKeys.folded``) could be the same person's: every word of the shorter
    name is a word of the longer one, up to a typo, in any order — so the given-name-first writing, a missing
    middle name and a swapped letter all fit (`hang nguyen`, `nguyen thi hnag`, `nguyen thi hang`). Clearly
    different names are what the fan-out guard counts as conflicting evidence."""
    short, long = sorted((a.split(), b.split()), key=len)
    unused = list(long)
    for word in short:
        match = next((i for i, other in enumerate(unused) if _same_word(word, other)), None)
        if match is None:
            return False
        del unused[match]
    return True
