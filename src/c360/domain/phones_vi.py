"""Vietnamese mobile numbers: carrier prefixes, the 2018 switch from 11 to 10 digits, and written forms.

Pure data and pure functions (no I/O). In September 2018 Vietnam moved every 11-digit mobile number to 10 digits
by replacing its 4-digit prefix (`0162 xxx xxxx` became `032 xxx xxxx`); the subscriber's last seven digits did
not change. Old numbers still live in CRM exports and on customer cards, and `phonenumbers` rejects them, so
`modernize_mobile` rewrites them before parsing.
"""

from __future__ import annotations

import re
from typing import Final

#: Old 4-digit prefix (national form, with the trunk 0) -> new 3-digit prefix, as switched in 2018.
OLD_TO_NEW_PREFIX: Final[dict[str, str]] = {
    # Viettel
    "0162": "032",
    "0163": "033",
    "0164": "034",
    "0165": "035",
    "0166": "036",
    "0167": "037",
    "0168": "038",
    "0169": "039",
    # Mobifone
    "0120": "070",
    "0121": "079",
    "0122": "077",
    "0126": "076",
    "0128": "078",
    # Vinaphone
    "0123": "083",
    "0124": "084",
    "0125": "085",
    "0127": "081",
    "0129": "082",
    # Vietnamobile
    "0186": "056",
    "0188": "058",
    # Gmobile
    "0199": "059",
}

NEW_TO_OLD_PREFIX: Final[dict[str, str]] = {new: old for old, new in OLD_TO_NEW_PREFIX.items()}

#: Current mobile prefixes (national form) per carrier. Mobifone's 089 is only allocated from 0896 up, and
#: Gmobile's 099 is left out because part of its range is unassigned.
MOBILE_PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "Viettel": ("086", "096", "097", "098", "032", "033", "034", "035", "036", "037", "038", "039"),
    "Vinaphone": ("088", "091", "094", "081", "082", "083", "084", "085"),
    "Mobifone": ("0896", "0897", "0898", "0899", "090", "093", "070", "076", "077", "078", "079"),
    "Vietnamobile": ("092", "056", "058"),
    "Gmobile": ("059",),
    "Itel": ("087",),
}

#: Approximate subscriber market shares, used to draw a carrier.
CARRIER_SHARES: Final[dict[str, float]] = {
    "Viettel": 54.0,
    "Vinaphone": 21.0,
    "Mobifone": 20.0,
    "Vietnamobile": 3.0,
    "Gmobile": 1.0,
    "Itel": 1.0,
}

_NON_DIGITS: Final = re.compile(r"\D")


def new_prefix(old_prefix: str) -> str | None:
    """The 3-digit prefix that replaced a 4-digit one (`0162` -> `032`), or None when it is not an old prefix."""
    return OLD_TO_NEW_PREFIX.get(old_prefix)


def national_digits(number: str) -> str:
    """Digits of a written VN number in national form with the trunk 0 (`+84 912-345-678` -> `0912345678`).

    Numbers that do not look Vietnamese come back as their bare digits.
    """
    digits = _NON_DIGITS.sub("", number)
    if digits.startswith("84") and len(digits) in (11, 12):
        return "0" + digits[2:]
    if not digits.startswith("0") and len(digits) in (9, 10):
        return "0" + digits
    return digits


def modernize_mobile(number: str) -> str:
    """Rewrite a pre-2018 11-digit mobile number to today's 10 digits (`0162 345 6789` -> `0323456789`).

    Any written form is accepted (`+84 162...`, `84-162-...`, `0162.345.6789`); a rewritten number comes back in
    national form, anything else comes back unchanged.
    """
    digits = national_digits(number)
    if len(digits) == 11:
        replacement = OLD_TO_NEW_PREFIX.get(digits[:4])
        if replacement is not None:
            return replacement + digits[4:]
    return number


def to_legacy(national: str) -> str | None:
    """The pre-2018 11-digit form of a current 10-digit number (`0323456789` -> `01623456789`), if it had one."""
    old = NEW_TO_OLD_PREFIX.get(national[:3])
    if old is None or len(national) != 10:
        return None
    return old + national[3:]


def format_mobile(national: str, style: str) -> str:
    """Write a national-form number (`0912345678`, or 11 digits for a legacy one) in one of the common styles.

    Styles: `plain` 0912345678, `spaced` 0912 345 678, `dotted` 0912.345.678, `e164` +84912345678,
    `intl_dashed` 84-912-345-678, `intl_spaced` +84 912 345 678, `paren` (+84) 912345678.
    """
    head, tail = national[:-6], national[-6:]
    rest = national[1:]
    if style == "plain":
        return national
    if style == "spaced":
        return f"{head} {tail[:3]} {tail[3:]}"
    if style == "dotted":
        return f"{head}.{tail[:3]}.{tail[3:]}"
    if style == "e164":
        return "+84" + rest
    if style == "intl_dashed":
        return f"84-{rest[:-6]}-{tail[:3]}-{tail[3:]}"
    if style == "intl_spaced":
        return f"+84 {rest[:-6]} {tail[:3]} {tail[3:]}"
    if style == "paren":
        return "(+84) " + rest
    raise ValueError(f"unknown phone style {style!r}")


PHONE_STYLES: Final[tuple[str, ...]] = ("plain", "spaced", "dotted", "e164", "intl_dashed", "intl_spaced", "paren")
