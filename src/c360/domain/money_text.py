"""Money as people write it in exports: ``1.250.000 ₫``, ``1,250,000đ``, ``1.250.000 VND``, ``1250000``,
``12.50 USD``, ``$12.50`` -> (integer minor units, ISO 4217 currency).

The rules, in the order they are applied (pure functions, no I/O):

- The currency is read from a symbol or a code before or after the number (``₫``, ``đ``, ``VND``, ``VNĐ``,
  ``đồng``, ``$``, ``US$``, ``€``, ``£`` ... or any three-letter code). Without one, ``default_currency`` is used;
  without that either the text is refused. Two different currencies in one text are refused.
- A leading ``-`` (or ``−``) makes the amount negative; it may stand before or after the symbol.
- Spaces (also non-breaking and thin ones) inside the number group thousands.
- When both ``.`` and ``,`` occur, the last one is the decimal separator and the other groups thousands
  (``1.250.000,50`` and ``1,250,000.50``). When only one of them occurs, it groups thousands if it occurs more than
  once or is followed by exactly three digits (``1.250`` is one thousand two hundred and fifty, as Vietnamese
  and European exports write it), and is the decimal separator otherwise (``12.50``, ``12,5``).
- Grouped digits come in threes after a first group of one to three.
- Decimals beyond the currency's minor unit must be zeros: ``1.250.000,00 ₫`` is fine, ``1250,5 VND`` is not
  (VND has no minor unit).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from c360.domain.money import exponent

#: Symbols and words that name a currency, compared case-insensitively after NFC. Longest first when matching.
CURRENCY_MARKERS: Final[dict[str, str]] = {
    "₫": "VND",
    "đ": "VND",
    "vnđ": "VND",
    "vnd": "VND",
    "đồng": "VND",
    "dong": "VND",
    "us$": "USD",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₩": "KRW",
    "฿": "THB",
    "s$": "SGD",
}

#: Active ISO 4217 codes: a three-letter word is a currency only when it is one of these.
ISO_CODES: Final[frozenset[str]] = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD
    CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD
    HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()  # noqa: SIM905 - a table to read
)

_MARKER_PATTERN = "|".join(re.escape(m) for m in sorted(CURRENCY_MARKERS, key=len, reverse=True))
# A marker or an ISO code at the start or the end, with the sign allowed on either side of a leading marker.
_SHAPE = re.compile(
    rf"""^(?P<sign1>[-−])?\s*
    (?P<pre>{_MARKER_PATTERN}|[a-z]{{3}}(?=[\s\d.,\-−]))?\s*
    (?P<sign2>[-−])?\s*
    (?P<number>\d[\d.,\s]*?)
    \s*(?P<post>{_MARKER_PATTERN}|[a-z]{{3}})?$""",
    re.VERBOSE,
)
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\t": " "})
_GROUPED = re.compile(r"^\d{1,3}(?:[ X]\d{3})*$")


class MoneyTextError(ValueError):
    """Text that is not an amount of money; the message says why."""


def _currency(token: str | None) -> str | None:
    if not token:
        return None
    if token in CURRENCY_MARKERS:
        return CURRENCY_MARKERS[token]
    if token.upper() not in ISO_CODES:
        raise MoneyTextError(f"{token.upper()!r} is not a currency")
    return token.upper()


def _split_number(number: str) -> tuple[str, str]:
    """(integer digits, decimal digits) of ``number``, which holds digits, ``.``, ``,`` and spaces."""
    dots, commas = number.count("."), number.count(",")
    if dots and commas:
        decimal = "." if number.rfind(".") > number.rfind(",") else ","
        group = "," if decimal == "." else "."
        if number.count(decimal) > 1:
            raise MoneyTextError(f"{number!r} has more than one decimal separator")
    elif dots or commas:
        mark = "." if dots else ","
        tail = number.rsplit(mark, 1)[1]
        many = (dots or commas) > 1
        decimal, group = ("", mark) if many or len(tail) == 3 else (mark, "")
    else:
        decimal, group = "", ""
    whole, _, fraction = number.partition(decimal) if decimal else (number, "", "")
    # Spaces and the grouping mark both group thousands; mark them alike to check the groups of three.
    marked = whole.replace(group, "X") if group else whole
    marked = marked.replace(" ", "X")
    if "X" in marked and not _GROUPED.match(marked):
        raise MoneyTextError(f"{number!r}: thousands must be grouped by three digits")
    if not fraction.isdigit() and fraction:
        raise MoneyTextError(f"{number!r} is not a number")
    return marked.replace("X", ""), fraction


def parse_money(text: str, *, default_currency: str | None = None) -> tuple[int, str]:
    """``text`` as (minor units, currency); MoneyTextError naming what is wrong."""
    cleaned = unicodedata.normalize("NFC", text).translate(_SPACES).strip().lower()
    if not cleaned:
        raise MoneyTextError("no amount")
    match = _SHAPE.match(cleaned)
    if match is None:
        raise MoneyTextError(f"{text!r} is not an amount of money")
    pre, post = _currency(match["pre"]), _currency(match["post"])
    if pre and post and pre != post:
        raise MoneyTextError(f"{text!r} names two currencies ({pre} and {post})")
    currency = pre or post or (default_currency.upper() if default_currency else None)
    if currency is None:
        raise MoneyTextError(f"{text!r} names no currency and there is no default one")
    if match["sign1"] and match["sign2"]:
        raise MoneyTextError(f"{text!r} has two signs")
    whole, fraction = _split_number(match["number"].strip())
    digits = exponent(currency)
    kept, dropped = fraction[:digits], fraction[digits:]
    if dropped.strip("0"):
        unit = "has no minor unit" if digits == 0 else f"has {digits} decimal places"
        raise MoneyTextError(f"{text!r}: {currency} {unit}")
    minor = int(whole) * 10**digits + int(kept.ljust(digits, "0") or "0")
    return (-minor if match["sign1"] or match["sign2"] else minor), currency
